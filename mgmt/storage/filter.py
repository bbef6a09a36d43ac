"""``PrimaryStorageFilter`` (``HOST_FILTERS``): a host is a candidate only if its cluster
has an attached, Enabled and Connected primary storage with room for the VM's disks.

What is needed is the root volume — the image's size, or ``spec.root_disk_size`` for an
ISO (or no image) — plus every data disk. A shared storage needs that much available on
its counter; a LocalStorage on its counter and on the host's own disk (its share of the
storage, the counter ``primaryStorage.host/<hostUuid>``: volumes live on one host).
``spec.primary_storage_uuid`` restricts the choice to that storage. A spec that asks for
no disk at all (no image, no root disk size, no data disks, no storage named) needs no
primary storage and is not filtered here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.allocator import AllocationSpec, HostCandidate
from mgmt.core.counters import CounterRow
from mgmt.host import HostDisk, host_disks
from mgmt.image import image_disk
from mgmt.storage.capacity import HOST_SHARE_PREFIX, LOCAL, PS_CAPACITY, host_share
from mgmt.storage.models import PrimaryStorageClusterRefRow, PrimaryStorageRow


@dataclass(frozen=True)
class _Storage:
    uuid: str
    name: str
    type: str
    cluster_uuid: str
    usable: bool
    available: int


def _gib(n: int) -> str:
    return f"{n} bytes ({n / (1 << 30):.1f} GiB)"


async def needed_bytes(session: AsyncSession, spec: AllocationSpec) -> int:
    """The root volume (the image's size; an ISO's: ``root_disk_size``) and data disks."""
    root = spec.root_disk_size or 0
    if spec.image_uuid is not None:
        image = await image_disk(session, spec.image_uuid)
        if image is not None and image.media_type != "ISO":
            root = max(root, image.size)
    return root + sum(spec.data_disk_sizes)


async def _shares(
    session: AsyncSession, by_cluster: Mapping[str, list[_Storage]], hosts: Sequence[HostCandidate]
) -> dict[tuple[str, str], int]:
    """(LocalStorage, host) → what is available of the storage on that host."""
    local = sorted({p.uuid for ps in by_cluster.values() for p in ps if p.type == LOCAL})
    if not local:
        return {}
    names = [host_share(h.uuid) for h in hosts]
    rows = await session.execute(
        select(CounterRow.owner_uuid, CounterRow.name, CounterRow.available).where(
            CounterRow.owner_uuid.in_(local), CounterRow.name.in_(names)
        )
    )
    return {(o, n.removeprefix(HOST_SHARE_PREFIX)): int(a) for o, n, a in rows.all()}


class PrimaryStorageFilter:
    name = "primary-storage"

    async def reject(
        self, session: AsyncSession, spec: AllocationSpec, hosts: Sequence[HostCandidate]
    ) -> Mapping[str, str]:
        if not hosts:
            return {}
        need = await needed_bytes(session, spec)
        if not need and spec.image_uuid is None and spec.primary_storage_uuid is None:
            return {}  # nothing to put anywhere
        clusters = sorted({h.cluster_uuid for h in hosts})
        query = (
            select(
                PrimaryStorageRow.uuid,
                PrimaryStorageRow.name,
                PrimaryStorageRow.type,
                PrimaryStorageClusterRefRow.cluster_uuid,
                PrimaryStorageRow.state,
                PrimaryStorageRow.status,
                CounterRow.available,
            )
            .join(
                PrimaryStorageClusterRefRow,
                PrimaryStorageClusterRefRow.primary_storage_uuid == PrimaryStorageRow.uuid,
            )
            .outerjoin(
                CounterRow,
                (CounterRow.owner_uuid == PrimaryStorageRow.uuid)
                & (CounterRow.name == PS_CAPACITY),
            )
            .where(PrimaryStorageClusterRefRow.cluster_uuid.in_(clusters))
            .order_by(PrimaryStorageRow.created_at, PrimaryStorageRow.uuid)
        )
        if spec.primary_storage_uuid is not None:
            query = query.where(PrimaryStorageRow.uuid == spec.primary_storage_uuid)
        by_cluster: dict[str, list[_Storage]] = {}
        for uuid, name, kind, cluster, state, status, available in await session.execute(query):
            usable = state == "Enabled" and status == "Connected"
            by_cluster.setdefault(cluster, []).append(
                _Storage(uuid, name, kind, cluster, usable, int(available or 0))
            )
        disks = await host_disks(session, [h.uuid for h in hosts])
        shares = await _shares(session, by_cluster, hosts)
        out: dict[str, str] = {}
        for host in hosts:
            reason = self._why_not(
                host, by_cluster.get(host.cluster_uuid, []), need, disks, shares, spec
            )
            if reason is not None:
                out[host.uuid] = reason
        return out

    def _why_not(
        self,
        host: HostCandidate,
        storages: list[_Storage],
        need: int,
        disks: Mapping[str, HostDisk],
        shares: Mapping[tuple[str, str], int],
        spec: AllocationSpec,
    ) -> str | None:
        which = (
            f"primary storage {spec.primary_storage_uuid}"
            if spec.primary_storage_uuid
            else "primary storage"
        )
        if not storages:
            return f"no {which} is attached to cluster {host.cluster_uuid}"
        usable = [p for p in storages if p.usable]
        if not usable:
            names = ", ".join(f"{p.name} ({p.uuid})" for p in storages)
            return (
                f"the {which} of cluster {host.cluster_uuid} is not Enabled and Connected: {names}"
            )
        reasons: list[str] = []
        for ps in usable:
            if ps.available < need:
                reasons.append(
                    f"{ps.type} {ps.name} ({ps.uuid}) has {_gib(ps.available)} available, "
                    f"needs {_gib(need)}"
                )
                continue
            if ps.type == LOCAL:
                disk = disks.get(host.uuid)
                # its share on this host (the counter), else the disk the host reported
                local = shares.get(
                    (ps.uuid, host.uuid), disk.local_storage_bytes if disk is not None else 0
                )
                if local < need:
                    reasons.append(
                        f"LocalStorage {ps.name} ({ps.uuid}): host {host.name}'s disk has "
                        f"{_gib(local)} available, needs {_gib(need)}"
                    )
                    continue
            return None  # this one has room
        return "; ".join(reasons)
