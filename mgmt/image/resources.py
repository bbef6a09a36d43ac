"""Images, declared: reads with tenancy and sharing (the admin shares them or makes them
public), queries, the quota ``image.num``, and the delete: its backup storage capacity
reservations and ``image.size`` quota given back and its references removed in the
delete's transaction; its bits deleted on the backup storages by ``ImageRelease``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core import quota
from mgmt.core.counters import release
from mgmt.core.quota import Quota
from mgmt.core.resource import ResourceType
from mgmt.image.messages import ImageBackupStorageRef, ImageInventory
from mgmt.image.models import ImageBackupStorageRefRow, ImageRow

IMAGE_NUM = Quota("image.num", 100)
IMAGE_SIZE = Quota("image.size", 1 << 40)


def reservation_id(image_uuid: str, bs_uuid: str) -> str:
    """The backup storage capacity an image holds (one per storage it is on)."""
    return f"image/{image_uuid}/{bs_uuid}"


async def refs_of(s: AsyncSession, image_uuid: str) -> list[ImageBackupStorageRefRow]:
    rows = await s.execute(
        select(ImageBackupStorageRefRow)
        .where(ImageBackupStorageRefRow.image_uuid == image_uuid)
        .order_by(ImageBackupStorageRefRow.created_at, ImageBackupStorageRefRow.backup_storage_uuid)
    )
    return list(rows.scalars())


async def image_inventory(s: AsyncSession, row: Any) -> ImageInventory:
    return ImageInventory(
        uuid=row.uuid,
        name=row.name,
        description=row.description,
        url=row.url,
        format=row.format,
        mediaType=row.media_type,
        platform=row.platform,
        architecture=row.architecture,
        guestOsType=row.guest_os_type,
        status=row.status,
        state=row.state,
        size=row.size,
        actualSize=row.actual_size,
        md5Sum=row.md5_sum,
        downloadProgress=row.download_percent,
        downloadedBytes=row.downloaded_bytes,
        backupStorageRefs=[
            ImageBackupStorageRef(
                backupStorageUuid=r.backup_storage_uuid,
                installPath=r.install_path,
                status=r.status,
            )
            for r in await refs_of(s, row.uuid)
        ],
        ownerAccountUuid=row.owner_account_uuid,
        createDate=row.created_at,
        lastOpDate=row.updated_at,
    )


async def give_back(s: AsyncSession, image_uuids: Sequence[str]) -> None:
    """Capacity and ``image.size`` of these images, and their references (the delete's
    transaction; the kit gives ``image.num`` back)."""
    rows = await s.execute(
        select(ImageRow.uuid, ImageRow.owner_account_uuid, ImageRow.size, ImageRow.status).where(
            ImageRow.uuid.in_(list(image_uuids))
        )
    )
    for uuid, owner, size, status in rows.all():
        for ref in await refs_of(s, uuid):
            await release(s, reservation_id(uuid, ref.backup_storage_uuid))
        if status == "Ready" and size > 0:  # image.size is counted once the size is known
            await quota.release(s, owner, IMAGE_SIZE.name, size)
    await s.execute(
        delete(ImageBackupStorageRefRow).where(
            ImageBackupStorageRefRow.image_uuid.in_(list(image_uuids))
        )
    )


IMAGE = ResourceType(
    "Image",
    "images",
    ImageRow,
    ImageInventory,
    quota=IMAGE_NUM,
    columns={
        "md5Sum": ImageRow.md5_sum,
        "downloadProgress": ImageRow.download_percent,
    },
    unqueryable=frozenset({"backupStorageRefs"}),
    inventory_of=image_inventory,
    before_delete=give_back,
)
