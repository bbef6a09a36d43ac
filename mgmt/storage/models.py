"""Storage tables (private to the storage service; others use ``mgmt.storage``).

Capacity is not a column: it is the ``primaryStorage.capacity`` / ``backupStorage.capacity``
counter of the storage (``mgmt/core/counters``), so it moves only by reservations.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.db.types import UtcDateTime
from mgmt.core.resource import ResourceColumns


class PrimaryStorageRow(ResourceColumns, Base):
    __tablename__ = "primary_storage"

    zone_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("zone.uuid", ondelete="RESTRICT"), index=True
    )
    #: LocalStorage, NFS or SharedMountPoint
    type: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    state: Mapped[str] = mapped_column(String(32), default="Enabled")
    status: Mapped[str] = mapped_column(String(32), default="Connected")
    #: what the hosts' agents reported of the storage itself (the disk, the export)
    total_physical_capacity: Mapped[int] = mapped_column(BigInteger, default=0)
    available_physical_capacity: Mapped[int] = mapped_column(BigInteger, default=0)


class PrimaryStorageClusterRefRow(Base):
    """A primary storage attached to a cluster (its hosts use it)."""

    __tablename__ = "primary_storage_cluster_ref"

    primary_storage_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("primary_storage.uuid", ondelete="CASCADE"), primary_key=True
    )
    cluster_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("cluster.uuid", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PrimaryStorageHostRefRow(Base):
    """A host that mounted a shared primary storage (NFS, SharedMountPoint): what its
    delete unmounts (``PrimaryStorageRelease``)."""

    __tablename__ = "primary_storage_host_ref"

    primary_storage_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("primary_storage.uuid", ondelete="CASCADE"), primary_key=True
    )
    host_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("host.uuid", ondelete="CASCADE"), primary_key=True, index=True
    )
    #: the host's agent when it mounted it, and where
    agent_url: Mapped[str] = mapped_column(String(2048))
    mount_path: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BackupStorageRow(ResourceColumns, Base):
    __tablename__ = "backup_storage"

    #: ImageStore
    type: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    hostname: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32), default="Enabled")
    status: Mapped[str] = mapped_column(String(32), default="Connecting")


class BackupStorageZoneRefRow(Base):
    """A backup storage attached to a zone (its images are usable there)."""

    __tablename__ = "backup_storage_zone_ref"

    backup_storage_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("backup_storage.uuid", ondelete="CASCADE"), primary_key=True
    )
    zone_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("zone.uuid", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
