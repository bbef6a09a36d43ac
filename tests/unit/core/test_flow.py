"""The flow engine's rules, on the in-memory store and on SQLite.

The tests taking ``store`` run on PostgreSQL too, as integration tests:
tests/integration/frameworks/test_flow_store_postgres.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from mgmt.core.db import Database
from mgmt.core.db.migrate import upgrade
from mgmt.core.errors import Codes, OperationTimeout, PermanentError, TemporaryError, error
from mgmt.core.flow import (
    DbFlowStore,
    FlowDef,
    FlowEngine,
    FlowFailed,
    FlowMetrics,
    FlowRecord,
    FlowRecovery,
    FlowRegistry,
    FlowState,
    FlowStore,
    GarbageCollector,
    GcJobRow,
    GcState,
    Insertion,
    Interrupt,
    MemoryFlowStore,
    Position,
    RetryPolicy,
    Step,
    SubFlow,
)
from mgmt.core.flow.models import FINAL_STATES
from mgmt.core.ring import partition_of
from tests.helpers.eventually import eventually

PARTITIONS = 8
RESOURCE = "0b5c3a52-2f1e-4a3e-9b59-6a2f0f6f3c11"


class Ctx(BaseModel):
    trail: list[str] = []
    fail_at: str | None = None
    amount: int = 1


class Counters:
    """What the steps touch: must be exact after every run, rolled back or not."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.rollback_failures: dict[str, int] = {}

    def add(self, key: str, n: int) -> None:
        self.values[key] = self.values.get(key, 0) + n


class Count(Step[Ctx]):
    retry = RetryPolicy(max_attempts=3, initial_delay=0.01)

    def __init__(self, name: str, counters: Counters, *, no_rollback: bool = False) -> None:
        self._name = name
        self.counters = counters
        self._no_rollback = no_rollback

    @property
    def step_name(self) -> str:
        return self._name

    @property
    def no_rollback(self) -> bool:  # type: ignore[override]
        return self._no_rollback

    async def run(self, ctx: Ctx) -> Any:
        if ctx.fail_at == self._name:
            raise PermanentError(error(Codes.INTERNAL, f"{self._name} asked to fail"))
        self.counters.add(self._name, ctx.amount)
        ctx.trail.append(self._name)
        return {"added": ctx.amount}

    async def rollback(self, ctx: Ctx, result: Any) -> None:
        if result is None:  # interrupted before it did anything (what _orphan simulates)
            ctx.trail.append(f"undo-interrupted:{self._name}")
            return
        left = self.counters.rollback_failures.get(self._name, 0)
        if left:
            self.counters.rollback_failures[self._name] = left - 1
            raise PermanentError(error(Codes.INTERNAL, f"undo of {self._name} failed"))
        self.counters.add(self._name, -int(result["added"]))
        ctx.trail.append(f"undo:{self._name}")


def five_steps(counters: Counters, name: str = "Five", **kw: Any) -> FlowDef[Ctx]:
    return FlowDef(name, Ctx, [Count(f"s{i}", counters) for i in range(1, 6)], **kw)


def engine_for(store: FlowStore, *flows: FlowDef[Any], node: str = "n1") -> FlowEngine:
    registry = FlowRegistry()
    for flow in flows:
        registry.add(flow)
    return FlowEngine(store, registry, node_id=node, partitions=PARTITIONS, metrics=FlowMetrics())


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FlowStore]:
    if request.param == "memory":
        yield MemoryFlowStore()
        return
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/f.db")
    await upgrade(db)
    db_store = DbFlowStore(db)
    yield db_store
    await db_store.close()
    await db.close()


async def test_steps_run_in_order_and_progress_is_persisted(store: FlowStore) -> None:
    counters = Counters()
    flow = five_steps(counters)
    engine = engine_for(store, flow)
    out = await engine.run(flow, Ctx(), resource_uuid=RESOURCE, flow_uuid="run-1")
    assert out.trail == ["s1", "s2", "s3", "s4", "s5"]
    assert counters.values == {f"s{i}": 1 for i in range(1, 6)}
    rec = await store.load("run-1")
    assert rec is not None
    assert rec.state == FlowState.SUCCEEDED
    assert rec.position == 5
    assert [e["step"] for e in rec.results] == ["s1", "s2", "s3", "s4", "s5"]
    assert [h["outcome"] for h in rec.history] == ["ok"] * 5
    assert Ctx.model_validate_json(rec.ctx).trail == out.trail


async def test_a_failure_rolls_completed_steps_back_in_reverse(store: FlowStore) -> None:
    counters = Counters()
    seen: list[str] = []

    async def on_error(ctx: Ctx, err: Any) -> None:
        seen.append(f"error:{err.code}")

    async def finally_(ctx: Ctx) -> None:
        seen.append("finally")

    flow = five_steps(counters, on_error=[on_error], finally_=[finally_])
    engine = engine_for(store, flow)
    with pytest.raises(FlowFailed) as failed:
        await engine.run(flow, Ctx(fail_at="s4"), resource_uuid=RESOURCE, flow_uuid="run-2")
    assert failed.value.error.code == "FLOW.1001"
    assert failed.value.error.cause is not None
    assert "s4 asked to fail" in failed.value.error.cause.details
    assert all(v == 0 for v in counters.values.values())
    rec = await store.load("run-2")
    assert rec is not None
    assert rec.state == FlowState.ROLLED_BACK
    undo = [h["step"] for h in rec.history if h["phase"] == "rollback"]
    assert undo == ["s3", "s2", "s1"]
    assert seen == ["error:FLOW.1001", "finally"]


async def test_steps_past_the_point_of_no_return_are_not_undone(store: FlowStore) -> None:
    counters = Counters()
    steps = [
        Count("a", counters),
        Count("commit", counters, no_rollback=True),
        Count("b", counters),
    ]
    flow = FlowDef("NoReturn", Ctx, steps)
    engine = engine_for(store, flow)
    with pytest.raises(FlowFailed):
        await engine.run(flow, Ctx(fail_at="b"), resource_uuid=RESOURCE, flow_uuid="nr")
    rec = await store.load("nr")
    assert rec is not None
    assert rec.state == FlowState.FAILED
    assert counters.values == {"a": 1, "commit": 1}


class Flaky(Step[Ctx]):
    name = "flaky"
    retry = RetryPolicy(max_attempts=4, initial_delay=0.001)

    def __init__(self, failures: int, permanent: bool = False) -> None:
        self.failures = failures
        self.permanent = permanent
        self.calls = 0

    async def run(self, ctx: Ctx) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            err = error(Codes.INTERNAL, "not yet")
            raise PermanentError(err) if self.permanent else TemporaryError(err, delay=0.001)
        return None


async def test_temporary_errors_are_retried_permanent_ones_are_not() -> None:
    ok, never = Flaky(failures=2), Flaky(failures=1, permanent=True)
    flow_ok, flow_never = FlowDef("RetryOk", Ctx, [ok]), FlowDef("RetryNever", Ctx, [never])
    engine = engine_for(MemoryFlowStore(), flow_ok, flow_never)
    await engine.run(flow_ok, Ctx(), resource_uuid=RESOURCE)
    assert ok.calls == 3
    with pytest.raises(FlowFailed):
        await engine.run(flow_never, Ctx(), resource_uuid=RESOURCE)
    assert never.calls == 1


class HalfDone(Step[Ctx]):
    """Does its work, then fails: with a timeout (``undo_on_timeout``) or at all
    (``undo_on_failure``); the engine must undo it, with ``result`` None."""

    name = "half"
    retry = RetryPolicy(max_attempts=1)

    def __init__(self, counters: Counters, exc: Exception, **undo: bool) -> None:
        self.counters, self.exc = counters, exc
        self.undo_on_timeout = undo.get("timeout", False)  # type: ignore[misc]
        self.undo_on_failure = undo.get("failure", False)  # type: ignore[misc]

    async def run(self, ctx: Ctx) -> Any:
        self.counters.add(self.name, 1)
        raise self.exc

    async def rollback(self, ctx: Ctx, result: Any) -> None:
        assert result is None
        self.counters.add(self.name, -1)


@pytest.mark.parametrize(
    ("exc", "undo", "undone"),
    [
        (OperationTimeout(error(Codes.INTERNAL, "no answer")), {"timeout": True}, True),
        (PermanentError(error(Codes.INTERNAL, "said no")), {"timeout": True}, False),
        (PermanentError(error(Codes.INTERNAL, "said no")), {"failure": True}, True),
        (OperationTimeout(error(Codes.INTERNAL, "no answer")), {}, False),
    ],
)
async def test_a_failed_step_is_undone_when_its_failure_may_have_left_work(
    exc: Exception, undo: dict[str, bool], undone: bool
) -> None:
    counters = Counters()
    flow = FlowDef("Half", Ctx, [Count("before", counters), HalfDone(counters, exc, **undo)])
    engine = engine_for(MemoryFlowStore(), flow)
    with pytest.raises(FlowFailed):
        await engine.run(flow, Ctx(), resource_uuid=RESOURCE)
    assert counters.values == {"before": 0, "half": 0 if undone else 1}


def test_a_bad_retry_policy_fails_when_declared() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


async def test_a_failing_rollback_goes_to_gc_and_the_rest_still_roll_back() -> None:
    counters = Counters()
    counters.rollback_failures["s2"] = 1
    flow = five_steps(counters)
    store = MemoryFlowStore()
    engine = engine_for(store, flow)
    with pytest.raises(FlowFailed):
        await engine.run(flow, Ctx(fail_at="s4"), resource_uuid=RESOURCE, flow_uuid="gc-1")
    assert counters.values == {"s1": 0, "s2": 1, "s3": 0}
    assert [(j.flow_uuid, j.step) for j in store.gc] == [("gc-1", "s2")]


async def test_the_gc_queue_retries_a_failed_rollback_until_it_succeeds(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/gc.db")
    await upgrade(db)
    store = DbFlowStore(db)
    metrics = FlowMetrics()
    counters = Counters()
    counters.rollback_failures["s3"] = 3  # the flow's own try, then two GC attempts fail
    flow = five_steps(counters)
    engine = engine_for(store, flow)
    gc = GarbageCollector(db, engine, metrics, interval=0.05, max_backoff=0.05)
    try:
        with pytest.raises(FlowFailed):
            await engine.run(flow, Ctx(fail_at="s5"), resource_uuid=RESOURCE, flow_uuid="gc-2")
        assert counters.values["s3"] == 1
        await gc.partitions_changed(frozenset(range(PARTITIONS)))

        async def settled() -> bool:
            async with db.session() as s:
                job = (await s.execute(select(GcJobRow))).scalar_one()
            return job.state == GcState.DONE and job.attempts == 3

        await eventually(settled, timeout=10)
        assert all(v == 0 for v in counters.values.values())
    finally:
        await gc.stop()
        await store.close()
        await db.close()


class Child(BaseModel):
    n: int = 0
    fail: bool = False


class ChildStep(Step[Child]):
    name = "child-step"

    def __init__(self, counters: Counters) -> None:
        self.counters = counters

    async def run(self, ctx: Child) -> Any:
        self.counters.add("child", 1)
        ctx.n += 10
        return None

    async def rollback(self, ctx: Child, result: Any) -> None:
        self.counters.add("child", -1)


async def test_a_sub_flow_runs_merges_and_is_rolled_back_with_its_parent(
    store: FlowStore,
) -> None:
    counters = Counters()
    child = FlowDef("Child", Child, [ChildStep(counters)])

    def merge(ctx: Ctx, sub: Child) -> None:
        ctx.amount = sub.n

    steps: list[Step[Ctx]] = [
        Count("before", counters),
        SubFlow(child, lambda ctx: Child(n=ctx.amount), merge),
        Count("after", counters),
    ]
    parent = FlowDef("Parent", Ctx, steps)
    engine = engine_for(store, parent)
    out = await engine.run(parent, Ctx(), resource_uuid=RESOURCE, flow_uuid="p-ok")
    assert out.amount == 11
    assert counters.values == {"before": 1, "child": 1, "after": 11}

    counters.values.clear()
    with pytest.raises(FlowFailed):
        await engine.run(parent, Ctx(fail_at="after"), resource_uuid=RESOURCE, flow_uuid="p-bad")
    assert counters.values == {"before": 0, "child": 0}
    child_rec = await store.load("p-bad/sub:Child")
    assert child_rec is not None
    assert child_rec.state == FlowState.ROLLED_BACK


async def test_plugins_insert_steps_at_named_anchors() -> None:
    counters = Counters()
    flow = five_steps(counters)
    registry = FlowRegistry()
    registry.add(
        flow,
        [
            Insertion("Five", "s3", Position.BEFORE, Count("p-before-s3", counters)),
            Insertion("Five", "s3", Position.AFTER, Count("p-after-s3", counters)),
            Insertion("Five", "s3", Position.AFTER, Count("p-after-s3-2", counters)),
            Insertion("Other", "x", Position.AFTER, Count("ignored", counters)),
        ],
    )
    engine = FlowEngine(
        MemoryFlowStore(), registry, node_id="n", partitions=PARTITIONS, metrics=FlowMetrics()
    )
    out = await engine.run(flow, Ctx(), resource_uuid=RESOURCE)
    assert out.trail == ["s1", "s2", "p-before-s3", "s3", "p-after-s3", "p-after-s3-2", "s4", "s5"]


def test_an_insertion_at_a_missing_anchor_fails_clearly() -> None:
    with pytest.raises(ValueError, match=r"anchor 'nope'.*Five"):
        FlowRegistry().add(
            five_steps(Counters()),
            [Insertion("Five", "nope", Position.AFTER, Count("x", Counters()))],
        )


def test_step_names_must_be_unique() -> None:
    counters = Counters()
    with pytest.raises(ValueError, match="repeated"):
        FlowDef("Dup", Ctx, [Count("a", counters), Count("a", counters)])


async def _orphan(store: FlowStore, flow: FlowDef[Ctx], uuid: str, done: int) -> None:
    """A run whose process died after ``done`` steps (as a SIGKILL leaves it)."""
    rec = FlowRecord(
        uuid=uuid,
        name=flow.name,
        resource_uuid=RESOURCE,
        partition=partition_of(RESOURCE, PARTITIONS),
        state=FlowState.RUNNING,
        ctx=Ctx(trail=[f"s{i}" for i in range(1, done + 1)]).model_dump_json(),
        owner="dead-node/0123",
        position=done,
        results=[{"step": f"s{i}", "result": {"added": 1}} for i in range(1, done + 1)],
    )
    assert await store.create(rec)


@pytest.mark.parametrize("done", [0, 2, 4])
async def test_an_orphaned_run_is_resumed(store: FlowStore, done: int) -> None:
    counters = Counters()
    counters.values = {f"s{i}": 1 for i in range(1, done + 1)}
    flow = five_steps(counters)
    await _orphan(store, flow, "orphan", done)
    engine = engine_for(store, flow)
    final = await engine.resume("orphan")
    assert final is not None
    assert final.state == FlowState.SUCCEEDED
    assert counters.values == {f"s{i}": 1 for i in range(1, 6)}
    assert final.epoch == 2


@pytest.mark.parametrize("done", [1, 3])
async def test_an_orphaned_run_declared_rollback_is_undone(store: FlowStore, done: int) -> None:
    counters = Counters()
    counters.values = {f"s{i}": 1 for i in range(1, done + 1)}
    flow = five_steps(counters, on_interrupt=Interrupt.ROLLBACK)
    await _orphan(store, flow, "orphan-rb", done)
    engine = engine_for(store, flow)
    final = await engine.resume("orphan-rb")
    assert final is not None
    assert final.state == FlowState.ROLLED_BACK
    assert final.error is not None
    assert final.error.code == "FLOW.1003"
    assert all(v == 0 for v in counters.values.values())
    # the step it died in is undone too (with no result), then the completed ones
    undone = [h["step"] for h in final.history if h["phase"] == "rollback"]
    assert undone == [f"s{i}" for i in range(done + 1, 0, -1)]


async def test_recovery_takes_over_orphans_on_owned_partitions_only(store: FlowStore) -> None:
    counters = Counters()
    flow = five_steps(counters)
    await _orphan(store, flow, "orphan-scan", 2)
    engine = engine_for(store, flow)
    recovery = FlowRecovery(engine, interval=0.05)
    try:
        mine = partition_of(RESOURCE, PARTITIONS)
        await recovery.partitions_changed(frozenset(range(PARTITIONS)) - {mine})
        await asyncio.sleep(0.2)
        rec = await store.load("orphan-scan")
        assert rec is not None
        assert rec.state == FlowState.RUNNING
        await recovery.partitions_changed(frozenset({mine}))

        async def finished() -> bool:
            rec = await store.load("orphan-scan")
            return rec is not None and rec.state == FlowState.SUCCEEDED

        await eventually(finished, timeout=10)
    finally:
        await recovery.stop()


async def test_running_a_finished_run_again_returns_its_outcome(store: FlowStore) -> None:
    counters = Counters()
    flow = five_steps(counters)
    engine = engine_for(store, flow)
    first = await engine.run(flow, Ctx(), resource_uuid=RESOURCE, flow_uuid="again")
    again = await engine.run(flow, Ctx(amount=99), resource_uuid=RESOURCE, flow_uuid="again")
    assert again == first
    assert counters.values == {f"s{i}": 1 for i in range(1, 6)}


class Gate(Step[Ctx]):
    name = "gate"

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def run(self, ctx: Ctx) -> Any:
        self.entered.set()
        await self.release.wait()
        ctx.trail.append("gate")
        return None


async def test_a_superseded_owner_is_fenced_and_adopts_the_new_outcome(store: FlowStore) -> None:
    gate = Gate()
    counters = Counters()
    flow = FlowDef("Fenced", Ctx, [gate, Count("after", counters)])
    old, new = engine_for(store, flow, node="old"), engine_for(store, flow, node="new")
    for engine in (old, new):
        engine.bind_members(lambda: frozenset({"old", "new"}))
    running = asyncio.create_task(old.run(flow, Ctx(), resource_uuid=RESOURCE, flow_uuid="fence"))
    await gate.entered.wait()
    rec = await store.load("fence")
    assert rec is not None
    taken = await store.claim("fence", new.incarnation, rec.epoch)  # as a take-over would
    assert taken is not None
    gate.release.set()  # the old owner's next save is refused
    out = await asyncio.wait_for(new.resume("fence"), 10)
    assert out is None or out.state in FINAL_STATES
    result = await asyncio.wait_for(running, 10)
    assert result.trail == ["gate", "after"]
    assert counters.values == {"after": 1}


class Slow(Step[Ctx]):
    name = "slow"

    async def run(self, ctx: Ctx) -> Any:
        await asyncio.sleep(5)


async def test_the_deadline_of_the_message_bounds_the_flow() -> None:
    counters = Counters()
    flow = FlowDef("Deadline", Ctx, [Count("a", counters), Slow(), Count("b", counters)])
    engine = engine_for(MemoryFlowStore(), flow)
    with pytest.raises(FlowFailed) as failed:
        await engine.run(flow, Ctx(), resource_uuid=RESOURCE, deadline=time.time() + 0.2)
    assert failed.value.error.cause is not None
    assert failed.value.error.cause.code == "SYS.1001"
    assert counters.values == {"a": 0}


class _LosesClaims:
    """A view of a store whose claims lose the race (another process claimed first)."""

    def __init__(self, inner: MemoryFlowStore, gate: asyncio.Event) -> None:
        self._inner = inner
        self._gate = gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def claim(self, uuid: str, owner: str, epoch: int) -> FlowRecord | None:
        await self._gate.wait()
        return None


async def test_joiners_of_a_lost_claim_get_the_winners_outcome_not_a_hang() -> None:
    counters = Counters()
    flow = five_steps(counters)
    shared = MemoryFlowStore()
    await _orphan(shared, flow, "race", 2)
    gate = asyncio.Event()
    loser = engine_for(_LosesClaims(shared, gate), flow, node="loser")
    winner = engine_for(shared, flow, node="winner")
    for engine in (loser, winner):
        engine.bind_members(lambda: frozenset({"loser", "winner"}))
    resuming = asyncio.create_task(loser.resume("race"))
    await asyncio.sleep(0)  # the loser now drives "race" as far as this node knows
    joining = asyncio.create_task(loser.run(flow, Ctx(), resource_uuid=RESOURCE, flow_uuid="race"))
    await asyncio.sleep(0.01)
    assert (await winner.resume("race")) is not None  # the other process finishes it
    gate.set()  # the loser's claim comes back lost
    assert await asyncio.wait_for(resuming, 5) is None
    out = await asyncio.wait_for(joining, 5)
    assert out.trail == [f"s{i}" for i in range(1, 6)]
