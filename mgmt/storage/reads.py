"""What other services read of backup storages (the image service: where to download)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.storage.models import BackupStorageRow
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
