"""Storage capacity: the ``primaryStorage.capacity`` and ``backupStorage.capacity``
counters, and how a LocalStorage's follows its hosts.

A LocalStorage's total is the sum of the local disks its attached clusters' hosts
reported in their connect handshake (``HostDisk.local_storage_bytes``): it is set again
whenever a cluster is attached or detached, a host of an attached cluster connects
(``HOST_OBSERVERS``) or a host is deleted (``CASCADE_OBSERVERS``), and the counter
source (``COUNTER_SOURCES``) computes it the same way, so a recalculation corrects it.
A LocalStorage also has one counter per host, ``primaryStorage.host/<hostUuid>`` (owner:
the storage, total: that host's disk): a volume lives on one host, so it reserves there
too, and the host filter reads it. NFS and SharedMountPoint totals are what the hosts'
agents reported when they mounted them; backup storage totals what its agent reported on
connect.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.counters import (
    CounterRow,
    Measure,
    ReservationRow,
    ReservationSource,
    ReservationState,
    define_counter,
    get_counter,
    set_total,
)
from mgmt.core.db import utcnow
from mgmt.core.plugins import PluginRegistry
from mgmt.host import HostDisk, hosts_in_clusters
from mgmt.storage.models import PrimaryStorageClusterRefRow, PrimaryStorageRow
from mgmt.storage.points import PRIMARY_STORAGE_HOLDERS

PS_CAPACITY = "primaryStorage.capacity"
#: a LocalStorage's share on one host (owner: the storage): ``primaryStorage.host/<uuid>``
HOST_SHARE_PREFIX = "primaryStorage.host/"
BS_CAPACITY = "backupStorage.capacity"
LOCAL = "LocalStorage"


async def attached_clusters(s: AsyncSession, ps_uuid: str) -> list[str]:
    rows = await s.execute(
        select(PrimaryStorageClusterRefRow.cluster_uuid)
        .where(PrimaryStorageClusterRefRow.primary_storage_uuid == ps_uuid)
        .order_by(PrimaryStorageClusterRefRow.created_at, PrimaryStorageClusterRefRow.cluster_uuid)
    )
    return [u for (u,) in rows.all()]


async def local_hosts(s: AsyncSession, ps_uuid: str) -> list[HostDisk]:
    """The hosts whose disks make up a LocalStorage."""
    return await hosts_in_clusters(s, await attached_clusters(s, ps_uuid))


async def local_total(s: AsyncSession, ps_uuid: str) -> int:
    return sum(h.local_storage_bytes for h in await local_hosts(s, ps_uuid))


async def ensure_counter(
    s: AsyncSession, owner_uuid: str, name: str, total: int, *, partition: int, owner_type: str
) -> None:
    """The counter at ``total``: made if missing, resized if not (reservations stay)."""
    if await get_counter(s, owner_uuid, name) is None:
        await define_counter(s, owner_uuid, name, total, partition=partition, owner_type=owner_type)
    else:
        await set_total(s, owner_uuid, name, total)


def host_share(host_uuid: str) -> str:
    """The counter of a LocalStorage's room on one host (a volume reserves on it too)."""
    return f"{HOST_SHARE_PREFIX}{host_uuid}"


async def _sync_shares(
    s: AsyncSession, ps_uuid: str, hosts: Sequence[HostDisk], partition: int
) -> None:
    """One counter per host of the storage, at that host's disk; gone for hosts gone."""
    wanted = {host_share(h.uuid): h.local_storage_bytes for h in hosts}
    for name, total in wanted.items():
        await ensure_counter(
            s, ps_uuid, name, total, partition=partition, owner_type="PrimaryStorage"
        )
    stale = (
        await s.execute(
            select(CounterRow.name).where(
                CounterRow.owner_uuid == ps_uuid, CounterRow.name.like(f"{HOST_SHARE_PREFIX}%")
            )
        )
    ).all()
    gone = [n for (n,) in stale if n not in wanted]
    if gone:
        await s.execute(
            delete(ReservationRow).where(
                ReservationRow.owner_uuid == ps_uuid, ReservationRow.name.in_(gone)
            )
        )
        await s.execute(
            delete(CounterRow).where(CounterRow.owner_uuid == ps_uuid, CounterRow.name.in_(gone))
        )


async def sync_local(s: AsyncSession, ps_uuids: Sequence[str] | None = None) -> None:
    """Set the totals of these LocalStorages (None: every one) from their hosts' disks,
    and their per-host shares. Storages deleted in this transaction (a zone's cascade) are
    skipped."""
    query = select(PrimaryStorageRow.uuid).where(PrimaryStorageRow.type == LOCAL)
    if ps_uuids is not None:
        query = query.where(PrimaryStorageRow.uuid.in_(list(ps_uuids)))
    for (uuid,) in (await s.execute(query.order_by(PrimaryStorageRow.uuid))).all():
        hosts = await local_hosts(s, uuid)
        total = sum(h.local_storage_bytes for h in hosts)
        if await get_counter(s, uuid, PS_CAPACITY) is not None:
            counter = await set_total(s, uuid, PS_CAPACITY, total)
            available = counter.available
            await _sync_shares(s, uuid, hosts, counter.partition)
        else:
            available = total
        await s.execute(
            update(PrimaryStorageRow)
            .where(PrimaryStorageRow.uuid == uuid)
            .values(
                total_physical_capacity=total,
                available_physical_capacity=max(0, available),
                updated_at=utcnow(),
            )
        )


async def local_storages_of_cluster(s: AsyncSession, cluster_uuid: str) -> list[str]:
    rows = await s.execute(
        select(PrimaryStorageRow.uuid)
        .join(
            PrimaryStorageClusterRefRow,
            PrimaryStorageClusterRefRow.primary_storage_uuid == PrimaryStorageRow.uuid,
        )
        .where(
            PrimaryStorageClusterRefRow.cluster_uuid == cluster_uuid,
            PrimaryStorageRow.type == LOCAL,
        )
    )
    return [u for (u,) in rows.all()]


class PrimaryStorageCapacitySource:
    """``COUNTER_SOURCES`` for ``primaryStorage.capacity``: used is what the live
    reservations that rows record hold (``PRIMARY_STORAGE_HOLDERS``: volumes and
    snapshots), so a reservation no row names any more is drift; with no holder
    registered, every live reservation. A LocalStorage's total is its hosts' disks."""

    def __init__(self, plugins: PluginRegistry | None = None) -> None:
        self._reservations = ReservationSource()
        self._plugins = plugins

    async def _used(self, session: AsyncSession, owner_uuid: str, name: str) -> int:
        holders = self._plugins.observers(PRIMARY_STORAGE_HOLDERS) if self._plugins else []
        if not holders:
            return (await self._reservations.measure(session, owner_uuid, name)).used
        named: set[str] = set()
        for holder in holders:
            named |= set(await holder.reservations_on(session, owner_uuid))
        live = await session.execute(
            select(ReservationRow.id, ReservationRow.amount).where(
                ReservationRow.owner_uuid == owner_uuid,
                ReservationRow.name == name,
                ReservationRow.state == ReservationState.RESERVED,
            )
        )
        return sum(int(amount) for rid, amount in live.all() if rid in named)

    async def measure(self, session: AsyncSession, owner_uuid: str, name: str) -> Measure:
        used = await self._used(session, owner_uuid, name)
        kind = await session.scalar(
            select(PrimaryStorageRow.type).where(PrimaryStorageRow.uuid == owner_uuid)
        )
        if kind == LOCAL:
            return Measure(used=used, total=await local_total(session, owner_uuid))
        return Measure(used=used)


class LocalStorageFollowsHosts:
    """Keeps LocalStorage totals on their hosts: an observer of connected hosts
    (``HOST_OBSERVERS``) and of deleted ones (``CASCADE_OBSERVERS``)."""

    async def host_connected(self, session: AsyncSession, host: HostDisk) -> None:
        found = await local_storages_of_cluster(session, host.cluster_uuid)
        if found:
            await sync_local(session, found)

    async def resources_deleted(
        self, session: AsyncSession, type_name: str, uuids: Sequence[str]
    ) -> None:
        if type_name == "Host" and uuids:
            # the rows are gone: which clusters they were in is not known any more, and
            # LocalStorages are few, so all are summed again
            await sync_local(session)
