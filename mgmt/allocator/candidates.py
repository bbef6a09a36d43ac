"""Load the hosts an allocation considers and run the filters over them.

Called by ``HostAllocator`` (in a node, inside the allocating transaction) and by the
candidates read (in a frontend, in a read-only session). The host table is reached through
the resource kit's registry (``ResourceTypes``), so this package imports no other
service's models; capacity is read from the counters, tags from the tag table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from mgmt.allocator.config import CPU_RATIO, MEMORY_RATIO, RESERVED_MEMORY, RESERVED_MEMORY_DEFAULT
from mgmt.allocator.contract import AllocationSpec, HostCandidate, HostFilter
from mgmt.core.counters import CounterRow, ReservationRow, ReservationState
from mgmt.core.gconfig import GlobalConfigDef
from mgmt.core.resource import ResourceTypes
from mgmt.core.tags.models import SYSTEM, USER, TagRow
from mgmt.core.tags.patterns import parse_size
from mgmt.host import CPU_COUNTER, MEMORY_COUNTER

T = TypeVar("T")

CPU = CPU_COUNTER
MEMORY = MEMORY_COUNTER


class ConfigView(Protocol):
    """Where the current global config values come from (``GlobalConfigService``)."""

    def value(self, defn: GlobalConfigDef[T]) -> T: ...


@dataclass(frozen=True)
class Rejection:
    host_uuid: str
    host_name: str
    filter: str
    reason: str

    def as_tuple(self) -> tuple[str, str, str, str]:
        return (self.host_uuid, self.host_name, self.filter, self.reason)


@dataclass(frozen=True)
class Filtered:
    """The hosts every filter kept (in load order) and why each other one was refused."""

    considered: int
    kept: list[HostCandidate]
    rejected: list[Rejection]


def host_table(types: ResourceTypes) -> Any:
    return types.types["Host"].table


async def load_hosts(
    session: AsyncSession, types: ResourceTypes, config: ConfigView
) -> list[HostCandidate]:
    """Every host, oldest first, with its capacity as the counters say now and the
    over-commit ratios and reserved memory that apply to it now."""
    hosts = host_table(types)
    cpu, mem = aliased(CounterRow), aliased(CounterRow)
    rows = (
        await session.execute(
            select(hosts, cpu.total, cpu.available, mem.total, mem.available)
            .outerjoin(cpu, and_(cpu.owner_uuid == hosts.uuid, cpu.name == CPU))
            .outerjoin(mem, and_(mem.owner_uuid == hosts.uuid, mem.name == MEMORY))
            .order_by(hosts.created_at, hosts.uuid)
        )
    ).all()
    uuids = [r[0].uuid for r in rows]
    tags: dict[str, set[str]] = {}
    reserved: dict[str, int] = {}
    vms: dict[str, int] = {}
    if uuids:
        for tag in (
            await session.scalars(select(TagRow).where(TagRow.resource_uuid.in_(uuids)))
        ).all():
            if tag.kind == USER:
                tags.setdefault(tag.resource_uuid, set()).add(tag.tag)
            elif tag.kind == SYSTEM and RESERVED_MEMORY.matches(tag.tag):
                reserved[tag.resource_uuid] = parse_size(RESERVED_MEMORY.parse(tag.tag)["size"])
        # every VM placed on a host holds one CPU reservation there
        for owner, count in (
            await session.execute(
                select(ReservationRow.owner_uuid, func.count())
                .where(
                    ReservationRow.owner_uuid.in_(uuids),
                    ReservationRow.name == CPU,
                    ReservationRow.state == ReservationState.RESERVED,
                )
                .group_by(ReservationRow.owner_uuid)
            )
        ).all():
            vms[owner] = int(count)
    cpu_ratio = float(config.value(CPU_RATIO))
    memory_ratio = float(config.value(MEMORY_RATIO))
    default_reserved = parse_size(config.value(RESERVED_MEMORY_DEFAULT))
    out = []
    for host, cpu_total, cpu_free, mem_total, mem_free in rows:
        out.append(
            HostCandidate(
                uuid=host.uuid,
                name=host.name,
                zone_uuid=host.zone_uuid,
                cluster_uuid=host.cluster_uuid,
                hypervisor_type=host.hypervisor_type,
                state=host.host_state,
                status=host.state,
                architecture=host.architecture,
                cpu_num=host.cpu_num,
                total_cpu=int(cpu_total or 0),
                available_cpu=int(cpu_free or 0),
                total_memory=int(mem_total or 0),
                available_memory=int(mem_free or 0),
                vm_count=vms.get(host.uuid, 0),
                tags=frozenset(tags.get(host.uuid, ())),
                cpu_ratio=cpu_ratio,
                memory_ratio=memory_ratio,
                reserved_memory=reserved.get(host.uuid, default_reserved),
            )
        )
    return out


async def run_filters(
    session: AsyncSession,
    filters: Sequence[HostFilter],
    spec: AllocationSpec,
    hosts: Sequence[HostCandidate],
) -> Filtered:
    """Each filter, in registration order, on the hosts the earlier ones kept; a host is
    reported with the first filter that refused it."""
    kept = list(hosts)
    rejected: list[Rejection] = []
    for flt in filters:
        if not kept:
            break
        refused = await flt.reject(session, spec, kept)
        if not refused:
            continue
        rejected.extend(
            Rejection(h.uuid, h.name, flt.name, refused[h.uuid]) for h in kept if h.uuid in refused
        )
        kept = [h for h in kept if h.uuid not in refused]
    return Filtered(len(hosts), kept, rejected)
