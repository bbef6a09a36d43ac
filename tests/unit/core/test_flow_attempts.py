"""Step attempts (what derived task UUIDs come from) and GC jobs that re-run a flow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from mgmt.core.db import Database
from mgmt.core.db.migrate import upgrade
from mgmt.core.errors import Codes, PermanentError, TemporaryError, error
from mgmt.core.flow import (
    DbFlowStore,
    FlowDef,
    FlowEngine,
    FlowFailed,
    FlowMetrics,
    FlowRegistry,
    GarbageCollector,
    GcJobRow,
    GcKind,
    GcState,
    MemoryFlowStore,
    RetryPolicy,
    Step,
    StepAttempt,
    current_attempt,
)
from tests.helpers.eventually import eventually

PARTITIONS = 8


class Ctx(BaseModel):
    fail_times: int = 0
    fail_after: bool = False


class Seen:
    def __init__(self) -> None:
        self.attempts: list[StepAttempt] = []
        self.failures_left = 0


class Recorder(Step[Ctx]):
    name = "recorder"
    retry = RetryPolicy(max_attempts=5, initial_delay=0)

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def run(self, ctx: Ctx) -> Any:
        self.seen.attempts.append(current_attempt())
        if self.seen.failures_left > 0:
            self.seen.failures_left -= 1
            raise TemporaryError(error(Codes.INTERNAL, "not yet"), delay=0)
        return None

    async def rollback(self, ctx: Ctx, result: Any) -> None:
        self.seen.attempts.append(current_attempt())


class FailAfter(Step[Ctx]):
    name = "fail-after"

    async def run(self, ctx: Ctx) -> Any:
        if ctx.fail_after:
            raise PermanentError(error(Codes.INTERNAL, "asked to"))
        return None


def engine_with(store: Any, *flows: FlowDef[Any]) -> FlowEngine:
    registry = FlowRegistry()
    for flow in flows:
        registry.add(flow)
    return FlowEngine(store, registry, node_id="n", partitions=PARTITIONS, metrics=FlowMetrics())


async def test_each_try_of_a_step_has_its_own_stable_attempt() -> None:
    seen = Seen()
    seen.failures_left = 2
    flow = FlowDef("Attempts", Ctx, [Recorder(seen), FailAfter()])
    engine = engine_with(MemoryFlowStore(), flow)
    with pytest.raises(FlowFailed):
        await engine.run(flow, Ctx(fail_after=True), resource_uuid="r", flow_uuid="run-1")
    tries = [(a.phase, a.attempt) for a in seen.attempts]
    assert tries == [("run", 1), ("run", 2), ("run", 3), ("rollback", 1)]
    assert {a.flow_uuid for a in seen.attempts} == {"run-1"}
    uuids = [a.derive_uuid("task") for a in seen.attempts]
    assert len(set(uuids)) == 4  # every try names its own task …
    again = StepAttempt("run-1", "Attempts", "r", "recorder", "run", 1)
    assert again.derive_uuid("task") == uuids[0]  # … and the same try, the same one


class Cleanup(Step[Ctx]):
    """Fails while ``seen.failures_left`` lasts (a host refusing the clean-up)."""

    name = "clean"

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def run(self, ctx: Ctx) -> Any:
        self.seen.attempts.append(current_attempt())
        if self.seen.failures_left > 0:
            self.seen.failures_left -= 1
            raise PermanentError(error(Codes.INTERNAL, "host refused"))
        return None


async def test_the_gc_queue_reruns_a_failed_cleanup_flow_until_it_succeeds(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/gc.db")
    await upgrade(db)
    store = DbFlowStore(db)
    seen = Seen()
    seen.failures_left = 2  # two GC attempts fail, the third succeeds
    flow = FlowDef("Cleanup", Ctx, [Cleanup(seen)])
    engine = engine_with(store, flow)
    gc = GarbageCollector(db, engine, FlowMetrics(), interval=0.05, max_backoff=0.05)
    try:
        for _ in range(2):  # queued twice (a resumed step): one job
            job = await engine.queue_rerun(
                flow, Ctx(), resource_uuid="r", origin_uuid="origin", err=error(Codes.INTERNAL)
            )
        await gc.partitions_changed(frozenset(range(PARTITIONS)))

        async def settled() -> GcJobRow | None:
            async with db.session() as s:
                rows = list((await s.execute(select(GcJobRow))).scalars())
            assert [r.uuid for r in rows] == [job]
            return rows[0] if rows[0].state == GcState.DONE else None

        done = await eventually(settled, timeout=10)
        assert done.kind == GcKind.FLOW and done.attempts == 3
        assert done.last_error is not None and "host refused" in done.last_error
        runs = [a.flow_uuid for a in seen.attempts]
        assert len(runs) == 3 and len(set(runs)) == 3  # a new run per attempt
    finally:
        await gc.stop()
        await store.close()
        await db.close()
