"""Zone and cluster tables (private to the zone service)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.resource import ResourceColumns


class ZoneRow(ResourceColumns, Base):
    __tablename__ = "zone"

    state: Mapped[str] = mapped_column(String(32), default="Enabled")


class ClusterRow(ResourceColumns, Base):
    __tablename__ = "cluster"

    state: Mapped[str] = mapped_column(String(32), default="Enabled")
    hypervisor_type: Mapped[str] = mapped_column(String(32))
    zone_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("zone.uuid", ondelete="RESTRICT"), index=True
    )
