"""What other services read of backup storages (the image service: where to download)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.storage.capacity import LOCAL, PS_CAPACITY, attached_clusters, host_share
from mgmt.storage.models import BackupStorageRow, PrimaryStorageClusterRefRow, PrimaryStorageRow
from mgmt.storage.points import BackupStorageAccess


@dataclass(frozen=True)
class BackupStorageRef:
    uuid: str
    name: str
    type: str
    state: str
    status: str
    url: str
    hostname: str

    def access(self) -> BackupStorageAccess:
        return BackupStorageAccess(self.uuid, self.type, self.hostname, self.url)


async def backup_storages(s: AsyncSession, uuids: Sequence[str]) -> dict[str, BackupStorageRef]:
    """These backup storages, by UUID (missing ones left out)."""
    if not uuids:
        return {}
    rows = await s.execute(select(BackupStorageRow).where(BackupStorageRow.uuid.in_(list(uuids))))
    return {
        r.uuid: BackupStorageRef(r.uuid, r.name, r.type, r.state, r.status, r.url, r.hostname)
        for r in rows.scalars()
    }


@dataclass(frozen=True)
class RootVolumeStorage:
    """A primary storage a new root volume on ``host`` may go to, and the capacity
    counters (owner: the storage) it must reserve there: ``primaryStorage.capacity``, and
    for a LocalStorage also its share on that host."""

    uuid: str
    type: str
    counters: tuple[str, ...]


async def root_volume_storages(
    s: AsyncSession, cluster_uuid: str, host_uuid: str
) -> list[RootVolumeStorage]:
    """The Enabled and Connected primary storages attached to the cluster, oldest first."""
    rows = await s.execute(
        select(PrimaryStorageRow.uuid, PrimaryStorageRow.type)
        .join(
            PrimaryStorageClusterRefRow,
            PrimaryStorageClusterRefRow.primary_storage_uuid == PrimaryStorageRow.uuid,
        )
        .where(
            PrimaryStorageClusterRefRow.cluster_uuid == cluster_uuid,
            PrimaryStorageRow.state == "Enabled",
            PrimaryStorageRow.status == "Connected",
        )
        .order_by(PrimaryStorageRow.created_at, PrimaryStorageRow.uuid)
    )
    out = []
    for uuid, kind in rows.all():
        names = (PS_CAPACITY, host_share(host_uuid)) if kind == LOCAL else (PS_CAPACITY,)
        out.append(RootVolumeStorage(str(uuid), str(kind), names))
    return out


async def primary_storage_clusters(s: AsyncSession, ps_uuid: str) -> list[str]:
    """The clusters a primary storage is attached to, in the order they were attached
    (the volume service: which hosts reach a data volume made on it)."""
    return await attached_clusters(s, ps_uuid)
