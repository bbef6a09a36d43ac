"""Tables of the flow engine: one row per flow run, one per rollback left to the GC queue."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.db.types import UtcDateTime


class FlowState(StrEnum):
    RUNNING = "Running"
    ROLLING_BACK = "RollingBack"
    SUCCEEDED = "Succeeded"
    #: Failed and every completed step undone (or handed to the GC queue).
    ROLLED_BACK = "RolledBack"
    #: Failed past the point of no return: nothing was undone.
    FAILED = "Failed"


ACTIVE_STATES = (FlowState.RUNNING, FlowState.ROLLING_BACK)
FINAL_STATES = (FlowState.SUCCEEDED, FlowState.ROLLED_BACK, FlowState.FAILED)


class FlowRunRow(Base):
    __tablename__ = "flow_run"
    __table_args__ = (Index("ix_flow_run_partition_state", "partition", "state"),)

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    resource_uuid: Mapped[str] = mapped_column(String(64), index=True)
    partition: Mapped[int] = mapped_column(Integer)
    parent_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    state: Mapped[str] = mapped_column(String(16))
    #: Running: index of the next step to run. RollingBack: how many completed steps are
    #: still to undo (they are undone from position-1 down to 0).
    position: Mapped[int] = mapped_column(Integer, default=0)
    ctx: Mapped[str] = mapped_column(Text)
    #: JSON list, one entry per completed step: {"step": name, "result": ...}.
    results: Mapped[str] = mapped_column(Text, default="[]")
    #: JSON list of step events (step, phase, outcome, ms, error) for job details.
    history: Mapped[str] = mapped_column(Text, default="[]")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: "node-id/incarnation" of the process running it; NULL when suspended.
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: Bumped by every take-over; writes carry it, so a superseded owner's writes fail.
    epoch: Mapped[int] = mapped_column(Integer, default=1)
    deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class GcState(StrEnum):
    PENDING = "Pending"
    DONE = "Done"


class GcKind(StrEnum):
    #: A step's rollback that failed: ``step.rollback(ctx, result)`` is tried again.
    ROLLBACK = "rollback"
    #: A clean-up flow that failed (a cascade's release of what lived outside the database):
    #: the whole flow ``flow_name`` is run again on ``ctx``, as a new run per attempt.
    FLOW = "flow"


class GcJobRow(Base):
    """Work that failed and must not be dropped, retried with back-off until it succeeds:
    a failed rollback, or a failed clean-up flow (``kind``)."""

    __tablename__ = "gc_job"
    __table_args__ = (Index("ix_gc_job_partition_state", "partition", "state", "next_at"),)

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_uuid: Mapped[str] = mapped_column(String(64), index=True)
    flow_name: Mapped[str] = mapped_column(String(128))
    step: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default=GcKind.ROLLBACK)
    resource_uuid: Mapped[str] = mapped_column(String(64))
    partition: Mapped[int] = mapped_column(Integer)
    ctx: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
