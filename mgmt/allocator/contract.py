"""The allocator's contract with the services that filter hosts.

A VM's placement is an ``AllocationSpec``; the allocator loads the hosts that could take it
(``HostCandidate``) and runs every ``HostFilter`` registered at ``HOST_FILTERS`` over them,
in registration order. A filter answers, for each host it rejects, the reason (shown by
``GET /v1/vm-instances/candidates`` and in the "no host" error). Filters of other services
(storage: a primary storage with room; network: the cluster is on every requested L3's L2)
plug in here, so the allocator names no other service's tables.

A filter is a plugin registered from its module's ``read_plugins`` (``ServiceModule``):
those are registered by management nodes (``HostAllocator``) and by API frontends (the
candidates read), so both run the same filters. A filter only reads its session.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.plugins import ExtensionPoint, Kind


@dataclass(frozen=True)
class AllocationSpec:
    """What a VM needs of a host (sizes in bytes, CPU in vCPUs)."""

    account_uuid: str
    cpu_num: int
    memory_size: int
    image_uuid: str | None = None
    l3_network_uuids: tuple[str, ...] = ()
    #: the root volume's size when it does not come from the image (ISO: the disk offering)
    root_disk_size: int | None = None
    data_disk_sizes: tuple[int, ...] = ()
    hypervisor_type: str | None = None
    zone_uuid: str | None = None
    cluster_uuid: str | None = None
    host_uuid: str | None = None
    primary_storage_uuid: str | None = None
    avoid_host_uuids: tuple[str, ...] = ()
    #: host tags (user tags on the host) every candidate must carry
    host_tags: tuple[str, ...] = ()
    #: a ``HOST_STRATEGIES`` name; None: the offering's, else the global default
    strategy: str | None = None
    #: the instance offering the VM is created from (its ``allocatorStrategy``), if any
    instance_offering_uuid: str | None = None


@dataclass(frozen=True)
class HostCandidate:
    """A host as the filters see it (capacity as the counters say now)."""

    uuid: str
    name: str
    zone_uuid: str
    cluster_uuid: str
    hypervisor_type: str
    state: str
    status: str
    architecture: str
    cpu_num: int
    total_cpu: int
    available_cpu: int
    total_memory: int
    available_memory: int
    #: VMs allocated to the host (the allocations holding its CPU counter)
    vm_count: int = 0
    tags: frozenset[str] = field(default_factory=frozenset)
    #: over-commit of ``total_cpu`` (``host.cpu.overProvisioning.ratio`` when loaded)
    cpu_ratio: float = 1.0
    #: over-commit of ``total_memory`` (``host.memory.overProvisioning.ratio``)
    memory_ratio: float = 1.0
    #: bytes of memory kept for the host itself (``reservedMemory::{size}`` or
    #: ``host.reservedMemory``), never given to VMs
    reserved_memory: int = 0

    @property
    def cpu_room(self) -> int:
        """vCPUs a new VM may still take: ``floor(total x ratio) - used``."""
        return math.floor(self.total_cpu * self.cpu_ratio) - (self.total_cpu - self.available_cpu)

    @property
    def memory_room(self) -> int:
        """Bytes a new VM may still take: ``floor(total x ratio) - reserved - used``."""
        used = self.total_memory - self.available_memory
        return math.floor(self.total_memory * self.memory_ratio) - self.reserved_memory - used


#: Filter stages (an optional ``stage`` attribute of a filter; default ``STAGE_RESOURCES``).
#: Filters run by stage, then in registration order, and a refused host is reported with
#: the first filter that refused it: where a host is and what it is (designated, state,
#: tags) first, then what its cluster has (networks, primary storage), capacity last.
STAGE_WHERE = 0
STAGE_RESOURCES = 1
STAGE_CAPACITY = 2


def by_stage(filters: Sequence[HostFilter]) -> list[HostFilter]:
    return sorted(filters, key=lambda f: int(getattr(f, "stage", STAGE_RESOURCES)))


class HostFilter(Protocol):
    """One reason a host cannot take a VM (a module each)."""

    #: shown with each rejection (``"capacity"``, ``"primary-storage"`` …)
    name: str

    async def reject(
        self, session: AsyncSession, spec: AllocationSpec, hosts: Sequence[HostCandidate]
    ) -> Mapping[str, str]:
        """The hosts (by uuid) this filter rejects, each with a reason a person can act on.
        Read-only; runs in the allocator's transaction."""
        ...


HOST_FILTERS: ExtensionPoint[HostFilter] = ExtensionPoint(
    "allocator.host-filter",
    HostFilter,
    Kind.OBSERVER,
    "Every filter runs, by stage then in registration order, on the hosts the earlier "
    "ones kept, for "
    "every candidates query and every host allocation; an exception fails the allocation.",
)
