"""Primary and backup storage, declared: reads (admin only), queries (``zone.name``,
``zone.primaryStorage``…), the cascade from the zone (a primary storage goes with its zone,
its cluster attachments and capacity counter with it) and the default update and delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.counters import get_counter, remove_counters
from mgmt.core.resource import Parent, ResourceType
from mgmt.storage.capacity import BS_CAPACITY, PS_CAPACITY, attached_clusters
from mgmt.storage.messages import BackupStorageInventory, PrimaryStorageInventory
from mgmt.storage.models import (
    BackupStorageRow,
    BackupStorageZoneRefRow,
    PrimaryStorageClusterRefRow,
    PrimaryStorageHostRefRow,
    PrimaryStorageRow,
)


async def ps_inventory(s: AsyncSession, row: Any) -> PrimaryStorageInventory:
    counter = await get_counter(s, row.uuid, PS_CAPACITY)
    return PrimaryStorageInventory(
        uuid=row.uuid,
        name=row.name,
        description=row.description,
        zoneUuid=row.zone_uuid,
        type=row.type,
        url=row.url,
        state=row.state,
        status=row.status,
        totalCapacity=counter.total if counter else 0,
        availableCapacity=counter.available if counter else 0,
        totalPhysicalCapacity=row.total_physical_capacity,
        availablePhysicalCapacity=row.available_physical_capacity,
        attachedClusterUuids=await attached_clusters(s, row.uuid),
        createDate=row.created_at,
        lastOpDate=row.updated_at,
    )


async def attached_zones(s: AsyncSession, bs_uuid: str) -> list[str]:
    rows = await s.execute(
        select(BackupStorageZoneRefRow.zone_uuid)
        .where(BackupStorageZoneRefRow.backup_storage_uuid == bs_uuid)
        .order_by(BackupStorageZoneRefRow.created_at, BackupStorageZoneRefRow.zone_uuid)
    )
    return [u for (u,) in rows.all()]


async def bs_inventory(s: AsyncSession, row: Any) -> BackupStorageInventory:
    counter = await get_counter(s, row.uuid, BS_CAPACITY)
    return BackupStorageInventory(
        uuid=row.uuid,
        name=row.name,
        description=row.description,
        type=row.type,
        url=row.url,
        hostname=row.hostname,
        state=row.state,
        status=row.status,
        totalCapacity=counter.total if counter else 0,
        availableCapacity=counter.available if counter else 0,
        attachedZoneUuids=await attached_zones(s, row.uuid),
        createDate=row.created_at,
        lastOpDate=row.updated_at,
    )


async def _ps_gone(s: AsyncSession, uuids: Sequence[str]) -> None:
    await s.execute(
        delete(PrimaryStorageClusterRefRow).where(
            PrimaryStorageClusterRefRow.primary_storage_uuid.in_(list(uuids))
        )
    )
    await s.execute(
        delete(PrimaryStorageHostRefRow).where(
            PrimaryStorageHostRefRow.primary_storage_uuid.in_(list(uuids))
        )
    )
    for uuid in uuids:  # no counter outlives its storage
        await remove_counters(s, uuid)


async def _bs_gone(s: AsyncSession, uuids: Sequence[str]) -> None:
    await s.execute(
        delete(BackupStorageZoneRefRow).where(
            BackupStorageZoneRefRow.backup_storage_uuid.in_(list(uuids))
        )
    )
    for uuid in uuids:
        await remove_counters(s, uuid)


PRIMARY_STORAGE = ResourceType(
    "PrimaryStorage",
    "primary-storage",
    PrimaryStorageRow,
    PrimaryStorageInventory,
    parents=(
        Parent("Zone", PrimaryStorageRow.zone_uuid, relation="zone", children="primaryStorage"),
    ),
    unqueryable=frozenset({"attachedClusterUuids", "totalCapacity", "availableCapacity"}),
    inventory_of=ps_inventory,
    before_delete=_ps_gone,
    admin_only_reads=True,
)

BACKUP_STORAGE = ResourceType(
    "BackupStorage",
    "backup-storage",
    BackupStorageRow,
    BackupStorageInventory,
    unqueryable=frozenset({"attachedZoneUuids", "totalCapacity", "availableCapacity"}),
    inventory_of=bs_inventory,
    before_delete=_bs_gone,
    admin_only_reads=True,
)
