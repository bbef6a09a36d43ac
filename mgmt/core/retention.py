"""Retention: finished flow runs, agent tasks and done GC jobs are deleted after a while.

Every flow run leaves a ``flow_run`` row and every agent command an ``agent_task`` row; a
periodic flow (the VM state sync runs one per host per interval) would grow them without
end. ``FlowPurger`` runs on every node for the partitions it owns and deletes, older than
``retention`` seconds (by their last change, in database time), in batches:

- runs in a final state (Succeeded, RolledBack, Failed) whose parent run, if any, is final
  too or gone (a parent still running may roll its children back);
- agent tasks that are no longer Pending;
- GC jobs that are Done (a Pending one is work not yet done: never deleted).

A redelivered message older than the retention finds no run and starts a new one, which
is why the retention is days, far longer than any redelivery or job.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from mgmt.core.agenttasks.models import AgentTaskRow
from mgmt.core.agenttasks.models import TaskStatus as TaskRowStatus
from mgmt.core.db import Database
from mgmt.core.flow.models import ACTIVE_STATES, FINAL_STATES, FlowRunRow, GcJobRow, GcState
from mgmt.core.logging import get_logger
from mgmt.core.scanner import PartitionScanner

log = get_logger(__name__)


class FlowPurger(PartitionScanner):
    """Deletes what the flow engine and agent tasks leave behind, ``batch`` rows per table
    per round, every ``interval`` s."""

    name = "flow-purger"

    def __init__(
        self, db: Database, *, retention: float, interval: float = 300.0, batch: int = 1000
    ) -> None:
        super().__init__(interval)
        self._db = db
        self._retention = retention
        self._batch = batch

    async def scan(self, owned: frozenset[int]) -> None:
        parts = sorted(owned)
        before = await self._db.now() - timedelta(seconds=self._retention)
        runs = await self._purge_runs(parts, before)
        tasks = await self._purge(
            AgentTaskRow.task_uuid,
            AgentTaskRow.partition.in_(parts),
            AgentTaskRow.status != TaskRowStatus.PENDING,
            AgentTaskRow.created_at < before,
        )
        jobs = await self._purge(
            GcJobRow.uuid,
            GcJobRow.partition.in_(parts),
            GcJobRow.state == GcState.DONE,
            GcJobRow.created_at < before,
        )
        if runs or tasks or jobs:
            log.info("flow.purged", runs=runs, agent_tasks=tasks, gc_jobs=jobs)

    async def _purge_runs(self, parts: list[int], before: datetime) -> int:
        parent = aliased(FlowRunRow)
        active_parent = (
            select(parent.uuid)
            .where(parent.uuid == FlowRunRow.parent_uuid, parent.state.in_(ACTIVE_STATES))
            .exists()
        )
        return await self._purge(
            FlowRunRow.uuid,
            FlowRunRow.partition.in_(parts),
            FlowRunRow.state.in_(FINAL_STATES),
            FlowRunRow.updated_at < before,
            or_(FlowRunRow.parent_uuid.is_(None), ~active_parent),
        )

    async def _purge(self, key: InstrumentedAttribute[str], *where: ColumnElement[bool]) -> int:
        """Delete up to ``batch`` rows of ``key``'s table that match ``where``."""
        async with self._db.session() as s, s.begin():
            ids = (await s.execute(select(key).where(*where).limit(self._batch))).scalars().all()
            if ids:
                await s.execute(delete(key.class_).where(key.in_(ids)))
        return len(ids)
