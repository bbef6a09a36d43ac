"""Image tables (private to the image service; others use ``mgmt.image``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.db.types import UtcDateTime
from mgmt.core.resource import ResourceColumns


class ImageRow(ResourceColumns, Base):
    __tablename__ = "image"

    url: Mapped[str] = mapped_column(String(2048))
    format: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(32))
    architecture: Mapped[str] = mapped_column(String(32), default="x86_64")
    guest_os_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Downloading → Ready (a failed add is removed: see mgmt/image/flows/add.py)
    status: Mapped[str] = mapped_column(String(32), default="Downloading")
    state: Mapped[str] = mapped_column(String(32), default="Enabled")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    actual_size: Mapped[int] = mapped_column(BigInteger, default=0)
    md5_sum: Mapped[str | None] = mapped_column(String(64), nullable=True)
    download_percent: Mapped[int] = mapped_column(Integer, default=0)
    downloaded_bytes: Mapped[int] = mapped_column(BigInteger, default=0)


class ImageBackupStorageRefRow(Base):
    """An image on one backup storage."""

    __tablename__ = "image_backup_storage_ref"

    image_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("image.uuid", ondelete="CASCADE"), primary_key=True
    )
    backup_storage_uuid: Mapped[str] = mapped_column(
        String(64),
        ForeignKey("backup_storage.uuid", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )
    install_path: Mapped[str] = mapped_column(String(2048), default="")
    status: Mapped[str] = mapped_column(String(32), default="Downloading")
    #: the backup storage agent's URL when the image was added (its delete goes there)
    agent_url: Mapped[str] = mapped_column(String(2048), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
