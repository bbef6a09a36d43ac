"""Zone and cluster tables (private to the zone service)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.db.types import UtcDateTime


class ZoneRow(Base):
    __tablename__ = "zone"

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(32), default="Enabled")
    owner_account_uuid: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ClusterRow(Base):
    __tablename__ = "cluster"

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(32), default="Enabled")
    hypervisor_type: Mapped[str] = mapped_column(String(32))
    zone_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("zone.uuid", ondelete="RESTRICT"), index=True
    )
    owner_account_uuid: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
