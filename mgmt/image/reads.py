"""What other services read of images (the storage filter: how big a root volume is)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.image.models import ImageRow


@dataclass(frozen=True)
class ImageDisk:
    uuid: str
    size: int
    media_type: str
    status: str
    state: str


async def image_disk(s: AsyncSession, uuid: str) -> ImageDisk | None:
    row = (
        await s.execute(
            select(
                ImageRow.uuid, ImageRow.size, ImageRow.media_type, ImageRow.status, ImageRow.state
            ).where(ImageRow.uuid == uuid)
        )
    ).first()
    return ImageDisk(*row) if row is not None else None
