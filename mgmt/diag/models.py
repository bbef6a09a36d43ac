"""Diagnostics tables (private to the service)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base, utcnow
from mgmt.core.db.types import UtcDateTime
from mgmt.core.states import StateColumns


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


class DiagCounter(Base):
    """Counters the diagnostic flow's steps move: exact after any failure or take-over."""

    __tablename__ = "diag_counter"

    resource_uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)


class DiagEffect(Base):
    """One row per applied step effect: what makes a re-run step change nothing."""

    __tablename__ = "diag_effect"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[str] = mapped_column(String(64), primary_key=True)
    amount: Mapped[int]


class DiagResource(Base):
    """Toy resources of several declared types, for proving cascades end to end."""

    __tablename__ = "diag_resource"

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    parent_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    other_parent_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    veto_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: DiagVm: the agent of the host it runs on; deleting it destroys it there (a release)
    agent_url: Mapped[str | None] = mapped_column(Text, nullable=True)


class DiagDeleted(Base):
    """Deletion log of diag resources, in order (what the cascade order is checked on)."""

    __tablename__ = "diag_deleted"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    uuid: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(64))
    cleaned: Mapped[bool] = mapped_column(default=False)


class DiagStateful(StateColumns, Base):
    """A toy resource under a state machine (``mgmt.diag.states``): proves on real
    processes that no operation leaves it in a transitional state, however the run ends."""

    __tablename__ = "diag_stateful"

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
