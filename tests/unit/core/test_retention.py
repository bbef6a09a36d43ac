"""Retention: the purger deletes old finished runs, agent tasks and done GC jobs of the
partitions it owns, and nothing that is still running, pending or young."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from mgmt.core.agenttasks.models import AgentTaskRow
from mgmt.core.db import Database
from mgmt.core.db.migrate import upgrade
from mgmt.core.flow.models import FlowRunRow, GcJobRow
from mgmt.core.retention import FlowPurger

DAY = 86400.0


@pytest.fixture
async def any_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/r.db")
    await upgrade(db)
    yield db
    await db.close()


def _run(
    uuid: str, state: str, at: datetime, parent: str | None = None, part: int = 1
) -> FlowRunRow:
    return FlowRunRow(
        uuid=uuid, name="F", resource_uuid="r", partition=part, parent_uuid=parent, state=state,
        ctx="{}", created_at=at, updated_at=at,
    )  # fmt: skip


def _task(uuid: str, status: str, at: datetime) -> AgentTaskRow:
    return AgentTaskRow(
        task_uuid=uuid, resource_uuid="r", partition=1, host_uuid="h", agent_url="http://x",
        command="StartVm", kind="flow-step", status=status, sender_node="n", created_at=at,
        deadline_at=at,
    )  # fmt: skip


def _job(uuid: str, state: str, at: datetime) -> GcJobRow:
    return GcJobRow(
        uuid=uuid, flow_uuid="f", flow_name="F", step="s", resource_uuid="r", partition=1,
        ctx="{}", result="null", state=state, next_at=at, created_at=at,
    )  # fmt: skip


async def test_old_finished_rows_go_and_everything_else_stays(any_db: Database) -> None:
    db = any_db
    now = await db.now()
    old, young = now - timedelta(days=4), now - timedelta(hours=1)
    async with db.session() as s, s.begin():
        s.add_all(
            [
                _run("done-old", "Succeeded", old),
                _run("rolled-old", "RolledBack", old),
                _run("failed-old", "Failed", old),
                _run("done-young", "Succeeded", young),
                _run("running-old", "Running", old),
                _run("other-partition", "Succeeded", old, part=2),
                _run("child-of-running", "Succeeded", old, parent="running-old"),
                _run("child-of-done", "Succeeded", old, parent="done-young"),
                _task("t-done-old", "Done", old),
                _task("t-timed-out-old", "TimedOut", old),
                _task("t-pending-old", "Pending", old),
                _task("t-done-young", "Done", young),
                _job("j-done-old", "Done", old),
                _job("j-pending-old", "Pending", old),
            ]
        )
    purger = FlowPurger(db, retention=3 * DAY, batch=2)  # batches smaller than the work
    for _ in range(3):
        await purger.scan(frozenset({1}))
    async with db.session() as s:
        runs = set((await s.execute(select(FlowRunRow.uuid))).scalars())
        tasks = set((await s.execute(select(AgentTaskRow.task_uuid))).scalars())
        jobs = set((await s.execute(select(GcJobRow.uuid))).scalars())
    assert runs == {"done-young", "running-old", "other-partition", "child-of-running"}
    assert tasks == {"t-pending-old", "t-done-young"}
    assert jobs == {"j-pending-old"}
