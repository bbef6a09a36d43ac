"""The ``global_config`` table: one row per config, written by ``GlobalConfigService`` only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base, utcnow
from mgmt.core.db.types import UtcDateTime


class GlobalConfigRow(Base):
    __tablename__ = "global_config"

    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    # JSON text, as ``GlobalConfigDef.dump`` writes it
    value: Mapped[str] = mapped_column(Text)
    default_value: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    # bumped by every update: nodes apply a value once per version, whichever way it arrives
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
