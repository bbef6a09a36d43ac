"""The ``agent_task`` table: one row per command sent to an agent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.db.types import UtcDateTime


class TaskStatus(StrEnum):
    PENDING = "Pending"
    DONE = "Done"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"


class AgentTaskRow(Base):
    __tablename__ = "agent_task"
    __table_args__ = (Index("ix_agent_task_partition_status", "partition", "status"),)

    task_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    resource_uuid: Mapped[str] = mapped_column(String(64), index=True)
    partition: Mapped[int] = mapped_column(Integer)
    host_uuid: Mapped[str] = mapped_column(String(64))
    agent_url: Mapped[str] = mapped_column(Text)
    command: Mapped[str] = mapped_column(String(64))
    #: Who sent it: ``flow-step`` for ``AgentStep`` (the only sender today); informational.
    kind: Mapped[str] = mapped_column(String(64))
    #: JSON: for a flow step, the run, step, phase and attempt its UUID was derived from.
    context: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.PENDING)
    sender_node: Mapped[str] = mapped_column(String(128))
    completed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
