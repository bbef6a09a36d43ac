"""The volume service's in-tree plugin, on the storage service's extension point
``PRIMARY_STORAGE_HOLDERS``: the reservations volumes and snapshots record on a primary
storage, which its capacity recalculation counts (a reservation no row names is drift)."""

from __future__ import annotations

from collections.abc import Sequence, Set

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.module import PluginParts
from mgmt.core.plugins import Extension, Plugin
from mgmt.storage import PRIMARY_STORAGE_HOLDERS
from mgmt.volume.models import VolumeRow, VolumeSnapshotRow


class VolumesOnStorage:
    async def reservations_on(self, session: AsyncSession, primary_storage_uuid: str) -> Set[str]:
        out: set[str] = set()
        for table in (VolumeRow, VolumeSnapshotRow):
            rows = await session.execute(
                select(table.reservation).where(
                    table.primary_storage_uuid == primary_storage_uuid,
                    table.reservation.is_not(None),
                )
            )
            for (ids,) in rows.all():
                out.update(i for i in str(ids).split(",") if i)
        return out


class VolumePlugin:
    name = "volume"

    def extensions(self) -> Sequence[Extension]:
        return [Extension(PRIMARY_STORAGE_HOLDERS, VolumesOnStorage())]


def plugins(parts: PluginParts) -> Sequence[Plugin]:
    return (VolumePlugin(),)
