"""Diagnostics tables (private to the service)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base, utcnow
from mgmt.core.db.types import UtcDateTime


class DiagRecord(Base):
    __tablename__ = "diag_record"

    # insertion order: per resource it must follow seq (ordering proof)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    resource_uuid: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int]
    node: Mapped[str] = mapped_column(String(128))
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DiagAgentResult(Base):
    __tablename__ = "diag_agent_result"

    task_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    resource_uuid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    completed_by: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
