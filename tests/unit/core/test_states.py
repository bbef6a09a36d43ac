"""The state machine framework on SQLite: declarations, begin/finish, the runner, the
releaser and the sweeper. The transition matrix is generated from the declarations."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import String, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mgmt.core.api.spec import http_status
from mgmt.core.db import Database
from mgmt.core.errors import Codes, PermanentError, error
from mgmt.core.flow import (
    FlowDef,
    FlowEngine,
    FlowFailed,
    FlowMetrics,
    FlowRecord,
    FlowRegistry,
    FlowState,
    MemoryFlowStore,
    Step,
)
from mgmt.core.states import (
    Operation,
    StateColumns,
    StatefulOperation,
    StatefulRunner,
    StateMachine,
    StateRegistry,
    StateReleaser,
    StateSweeper,
    begin,
    current_state,
    finish,
)

PARTITIONS = 8
ALL_PARTITIONS = frozenset(range(PARTITIONS))


class _Base(DeclarativeBase):  # the test's own metadata: not part of the migrations
    pass


class ThingRow(StateColumns, _Base):
    __tablename__ = "test_state_thing"
    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)


class HostRow(StateColumns, _Base):
    __tablename__ = "test_state_host"
    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)


class VmState(StrEnum):
    CREATED = "Created"
    STARTING = "Starting"
    RUNNING = "Running"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    REBOOTING = "Rebooting"
    PAUSING = "Pausing"
    PAUSED = "Paused"
    RESUMING = "Resuming"
    MIGRATING = "Migrating"
    DESTROYING = "Destroying"
    DESTROYED = "Destroyed"
    EXPUNGING = "Expunging"
    UNKNOWN = "Unknown"
    ERROR = "Error"


V = VmState
VM_TRANSITIONAL = {
    V.STARTING,
    V.STOPPING,
    V.REBOOTING,
    V.PAUSING,
    V.RESUMING,
    V.MIGRATING,
    V.DESTROYING,
    V.EXPUNGING,
}


def vm_operations() -> list[Operation[VmState]]:
    live = {V.CREATED, V.RUNNING, V.STOPPED, V.PAUSED, V.UNKNOWN, V.ERROR}
    return [
        Operation("start", {V.CREATED, V.STOPPED}, transitional=V.STARTING, success=V.RUNNING),
        Operation("stop", {V.RUNNING, V.PAUSED}, transitional=V.STOPPING, success=V.STOPPED),
        Operation(
            "reboot",
            {V.RUNNING},
            transitional=V.REBOOTING,
            success=V.RUNNING,
            failure=V.UNKNOWN,  # a failed reboot leaves the guest in no known state
        ),
        Operation("pause", {V.RUNNING}, transitional=V.PAUSING, success=V.PAUSED),
        Operation("resume", {V.PAUSED}, transitional=V.RESUMING, success=V.RUNNING),
        Operation("migrate", {V.RUNNING}, transitional=V.MIGRATING, success=V.RUNNING),
        Operation("destroy", live, transitional=V.DESTROYING, success=V.DESTROYED),
        Operation("recover", {V.DESTROYED}, success=V.STOPPED),  # no transitional state
        Operation("expunge", {V.DESTROYED}, transitional=V.EXPUNGING, success=V.DESTROYED),
    ]


VM = StateMachine(
    "VmInstance", VmState, model=ThingRow, transitional=VM_TRANSITIONAL, operations=vm_operations()
)


class HostState(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PRE_MAINTENANCE = "PreMaintenance"
    MAINTENANCE = "Maintenance"


H = HostState
HOST = StateMachine(
    "Host",
    HostState,
    model=HostRow,
    transitional={H.PRE_MAINTENANCE},
    operations=[
        Operation("enable", {H.DISABLED, H.MAINTENANCE}, success=H.ENABLED),
        Operation("disable", {H.ENABLED}, success=H.DISABLED),
        Operation(
            "maintain",
            {H.ENABLED, H.DISABLED},
            transitional=H.PRE_MAINTENANCE,
            success=H.MAINTENANCE,
        ),
    ],
)
MACHINES = [VM, HOST]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/states.db")
    async with database.engine.begin() as conn:
        await conn.run_sync(_Base.metadata.create_all)
    yield database
    await database.close()


_ids = itertools.count()


async def make(db: Database, machine: StateMachine[Any], state: str) -> str:
    uuid = f"r-{next(_ids)}"
    async with db.session() as s, s.begin():
        s.add(machine.model(uuid=uuid, state=state))
    return uuid


async def row(db: Database, machine: StateMachine[Any], uuid: str) -> Any:
    async with db.session() as s:
        return (await s.execute(select(machine.table).where(machine.table.c.uuid == uuid))).one()


async def try_begin(
    db: Database, machine: StateMachine[Any], uuid: str, op: str, holder: str
) -> Any:
    async with db.session() as s, s.begin():
        return await begin(s, machine, uuid, op, holder)


async def do_finish(
    db: Database, machine: StateMachine[Any], uuid: str, holder: str, success: bool
) -> Any:
    async with db.session() as s, s.begin():
        return await finish(s, machine, uuid, holder, success=success)


def stable_states(machine: StateMachine[Any]) -> list[Any]:
    return [s for s in machine.all_states() if s not in machine.transitional]


# -- the transition matrix -------------------------------------------------------------


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.resource_type)
async def test_every_operation_in_every_state_begins_or_is_refused_with_409(
    db: Database, machine: StateMachine[Any]
) -> None:
    began_in: dict[str, set[str]] = {str(s): set() for s in machine.all_states()}
    for state, op in itertools.product(machine.all_states(), machine.operations):
        uuid = await make(db, machine, state)
        if state in op.allowed_from:
            began = await try_begin(db, machine, uuid, op.name, "run-1")
            expected = op.transitional if op.transitional is not None else state
            assert (began.started_from, began.state, began.again) == (state, expected, False)
            r = await row(db, machine, uuid)
            assert (r.state, r.op_holder, r.op_name, r.op_from) == (
                expected,
                "run-1",
                op.name,
                state,
            )
            assert r.op_since is not None
            began_in[str(state)].add(op.name)
            continue
        with pytest.raises(PermanentError) as refused:
            await try_begin(db, machine, uuid, op.name, "run-1")
        err = refused.value.error
        assert err.code == "STATE.1001", (state, op.name)
        assert http_status(err) == 409
        allowed = [o.name for o in machine.operations if state in o.allowed_from]
        assert err.extra == {"state": str(state), "allowedOperations": allowed}
        r = await row(db, machine, uuid)  # refused: nothing changed
        assert (r.state, r.op_holder) == (state, None)
    # what the 409s name as allowed is exactly what began
    for state in machine.all_states():
        assert set(machine.allowed_operations(state)) == began_in[str(state)]
    # a transitional state allows nothing: only its operation's run holds it
    assert all(not began_in[str(s)] for s in machine.transitional)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.resource_type)
async def test_every_legal_operation_ends_in_its_success_or_failure_state(
    db: Database, machine: StateMachine[Any]
) -> None:
    for op in machine.operations:
        for start, success in itertools.product(sorted(op.allowed_from), (True, False)):
            uuid = await make(db, machine, start)
            await try_begin(db, machine, uuid, op.name, "h")
            expected = op.success if success else (op.failure or start)
            assert await do_finish(db, machine, uuid, "h", success) == expected
            r = await row(db, machine, uuid)
            assert (r.state, r.op_holder, r.op_name, r.op_from, r.op_since) == (
                expected,
                None,
                None,
                None,
                None,
            )
            assert not machine.is_transitional(r.state)


async def test_finish_is_idempotent_and_only_for_the_holder(db: Database) -> None:
    uuid = await make(db, VM, V.STOPPED)
    await try_begin(db, VM, uuid, "start", "run-a")
    assert await do_finish(db, VM, uuid, "someone-else", True) is None
    assert (await row(db, VM, uuid)).state == V.STARTING
    assert await do_finish(db, VM, uuid, "run-a", True) == V.RUNNING
    # a redelivered finish, even one saying the opposite, changes nothing
    assert await do_finish(db, VM, uuid, "run-a", False) is None
    assert (await row(db, VM, uuid)).state == V.RUNNING
    # nor does a late finish of run-a once another operation holds the resource
    await try_begin(db, VM, uuid, "stop", "run-b")
    assert await do_finish(db, VM, uuid, "run-a", False) is None
    r = await row(db, VM, uuid)
    assert (r.state, r.op_holder, r.op_from) == (V.STOPPING, "run-b", V.RUNNING)


async def test_a_held_resource_refuses_other_operations_and_rebegins_for_its_holder(
    db: Database,
) -> None:
    uuid = await make(db, HOST, H.ENABLED)
    await try_begin(db, HOST, uuid, "disable", "run-a")  # no transitional state: still Enabled
    with pytest.raises(PermanentError) as refused:
        await try_begin(db, HOST, uuid, "maintain", "run-b")  # allowed from Enabled, but held
    assert refused.value.error.extra == {"state": "Enabled", "allowedOperations": []}
    assert "disable is running" in refused.value.error.details
    with pytest.raises(PermanentError):  # the same holder for another operation: refused
        await try_begin(db, HOST, uuid, "maintain", "run-a")
    again = await try_begin(db, HOST, uuid, "disable", "run-a")  # a redelivered message
    assert (again.again, again.started_from, again.state) == (True, H.ENABLED, H.ENABLED)
    assert await do_finish(db, HOST, uuid, "run-a", True) == H.DISABLED


async def test_an_unknown_resource_is_a_404(db: Database) -> None:
    with pytest.raises(PermanentError) as refused:
        await try_begin(db, VM, "nope", "start", "h")
    assert http_status(refused.value.error) == 404
    async with db.session() as s:
        assert await current_state(s, VM, "nope") is None


# -- declaration validation ------------------------------------------------------------


class Other(StrEnum):
    ALIEN = "Alien"


def declare(**kw: Any) -> StateMachine[Any]:
    args: dict[str, Any] = {
        "model": ThingRow,
        "transitional": VM_TRANSITIONAL,
        "operations": vm_operations(),
    } | kw
    return StateMachine("VmInstance", VmState, **args)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"operations": []}, "declares no operations"),
        (
            {"operations": [*vm_operations(), Operation("x", {Other.ALIEN}, success=V.RUNNING)]},
            "unknown allowed_from states ['Alien']",
        ),
        (
            {"operations": [*vm_operations(), Operation("x", {V.RUNNING}, success=Other.ALIEN)]},
            "unknown success states",
        ),
        (
            {
                "operations": [
                    *vm_operations(),
                    Operation("x", {V.RUNNING}, success=V.RUNNING, failure=Other.ALIEN),
                ]
            },
            "unknown failure states",
        ),
        ({"transitional": {*VM_TRANSITIONAL, Other.ALIEN}}, "unknown transitional states"),
        ({"transitional": VM_TRANSITIONAL - {V.MIGRATING}}, "Migrating is not declared trans"),
        ({"transitional": {*VM_TRANSITIONAL, V.UNKNOWN}}, "no operation holds: ['Unknown']"),
        (
            {
                "operations": [
                    *vm_operations(),
                    Operation("y", {V.STOPPED}, transitional=V.STARTING, success=V.RUNNING),
                ]
            },
            "held by several operations: {'Starting': ['start', 'y']}",
        ),
        (
            {"operations": [*vm_operations(), Operation("y", {V.STARTING}, success=V.RUNNING)]},
            "cannot begin from transitional states ['Starting']",
        ),
        (
            {"operations": [*vm_operations(), Operation("y", {V.RUNNING}, success=V.STOPPING)]},
            "success state Stopping is transitional",
        ),
        (
            {
                "operations": [
                    *vm_operations(),
                    Operation("y", {V.RUNNING}, success=V.RUNNING, failure=V.MIGRATING),
                ]
            },
            "failure state Migrating is transitional",
        ),
        ({"operations": [*vm_operations(), vm_operations()[0]]}, "repeated: ['start']"),
        (
            {"operations": [*vm_operations(), Operation("y", set(), success=V.RUNNING)]},
            "allowed from no state",
        ),
        ({"model": object}, "is not a mapped table"),
    ],
)
def test_a_bad_declaration_fails_when_declared(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="state machine VmInstance") as bad:
        declare(**kw)
    assert message in str(bad.value)


def test_a_table_without_the_state_columns_is_refused() -> None:
    class Bare(_Base):
        __tablename__ = "test_state_bare"
        uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
        state: Mapped[str] = mapped_column(String(32))

    with pytest.raises(ValueError, match="lacks columns"):
        declare(model=Bare)


def test_an_unknown_operation_is_refused_at_declaration() -> None:
    flow = FlowDef("Noop", Ctx, [Work("w", [])])
    with pytest.raises(KeyError, match="no operation 'fly'"):
        StatefulOperation(VM, "fly", flow)
    registry = StateRegistry()
    registry.add(StatefulOperation(VM, "start", flow))
    with pytest.raises(ValueError, match="holds resources of VmInstance already"):
        registry.add(StatefulOperation(HOST, "enable", flow))


# -- the runner, the releaser and the sweeper ------------------------------------------


class Ctx(BaseModel):
    uuid: str
    fail: bool = False


class Work(Step[Ctx]):
    def __init__(self, name: str, seen: list[str]) -> None:
        self._name = name
        self.seen = seen

    @property
    def step_name(self) -> str:
        return self._name

    async def run(self, ctx: Ctx) -> Any:
        if ctx.fail and self._name == "w2":
            raise PermanentError(error(Codes.INTERNAL, "asked to fail"))
        self.seen.append(self._name)
        return None

    async def rollback(self, ctx: Ctx, result: Any) -> None:
        self.seen.append(f"undo:{self._name}")


class Wiring:
    def __init__(self, db: Database, *, release_on_end: bool = True) -> None:
        self.seen: list[str] = []
        self.flow = FlowDef("StartThing", Ctx, [Work("w1", self.seen), Work("w2", self.seen)])
        flows = FlowRegistry()
        flows.add(self.flow)
        self.registry = StateRegistry()
        self.start = StatefulOperation(VM, "start", self.flow)
        self.registry.add(self.start)
        self.store = MemoryFlowStore()
        ends = [StateReleaser(db, self.registry)] if release_on_end else []
        self.engine = FlowEngine(
            self.store,
            flows,
            node_id="n1",
            partitions=PARTITIONS,
            metrics=FlowMetrics(),
            end_observers=ends,
        )
        self.runner = StatefulRunner(db, self.engine, self.registry)

    def sweeper(self, db: Database, grace: float = 0.0) -> StateSweeper:
        return StateSweeper(
            db,
            self.store,
            self.registry,
            partitions=PARTITIONS,
            in_flight=self.runner.in_flight,
            grace=grace,
        )


@pytest.mark.parametrize("release_on_end", [True, False])
async def test_the_runner_moves_the_resource_through_the_operation(
    db: Database, release_on_end: bool
) -> None:
    w = Wiring(db, release_on_end=release_on_end)
    uuid = await make(db, VM, V.STOPPED)
    await w.runner.run(w.start, Ctx(uuid=uuid), resource_uuid=uuid, run_id="run-ok")
    assert (await row(db, VM, uuid)).state == V.RUNNING
    # a redelivered message joins the stored outcome: no 409, no change
    await w.runner.run(w.start, Ctx(uuid=uuid), resource_uuid=uuid, run_id="run-ok")
    assert (await row(db, VM, uuid)).state == V.RUNNING
    assert w.seen == ["w1", "w2"]
    # a new start on a running VM is refused before any flow runs
    with pytest.raises(PermanentError) as refused:
        await w.runner.run(w.start, Ctx(uuid=uuid), resource_uuid=uuid, run_id="run-2")
    assert http_status(refused.value.error) == 409
    assert await w.store.load("run-2") is None
    assert not w.runner.in_flight


@pytest.mark.parametrize("release_on_end", [True, False])
async def test_a_failed_flow_leaves_the_resource_where_it_started(
    db: Database, release_on_end: bool
) -> None:
    w = Wiring(db, release_on_end=release_on_end)
    uuid = await make(db, VM, V.CREATED)
    with pytest.raises(FlowFailed):
        await w.runner.run(w.start, Ctx(uuid=uuid, fail=True), resource_uuid=uuid, run_id="r")
    assert w.seen == ["w1", "undo:w1"]
    r = await row(db, VM, uuid)
    assert (r.state, r.op_holder) == (V.CREATED, None)


async def test_the_releaser_releases_a_run_ended_without_the_runner(db: Database) -> None:
    # what a take-over looks like from the resource's side: the run is ended by the
    # engine (here run directly), not by the handler that began it
    w = Wiring(db)
    uuid = await make(db, VM, V.STOPPED)
    await try_begin(db, VM, uuid, "start", "taken-over")
    with pytest.raises(FlowFailed):
        await w.engine.run(w.flow, Ctx(uuid=uuid, fail=True), resource_uuid=uuid, flow_uuid="x")
    assert (await row(db, VM, uuid)).state == V.STARTING  # another holder's run: untouched
    await w.engine.run(w.flow, Ctx(uuid=uuid), resource_uuid=uuid, flow_uuid="taken-over")
    assert (await row(db, VM, uuid)).state == V.RUNNING


def record(uuid: str, resource: str, state: FlowState) -> FlowRecord:
    return FlowRecord(
        uuid=uuid,
        name="StartThing",
        resource_uuid=resource,
        partition=0,
        state=state,
        ctx="{}",
        owner=None,
    )


async def test_the_sweeper_heals_what_a_dead_node_left(db: Database) -> None:
    w = Wiring(db)
    cases = {  # holder run id -> (its run in the store, the state the sweep leaves)
        "ok": (FlowState.SUCCEEDED, V.RUNNING),
        "undone": (FlowState.ROLLED_BACK, V.STOPPED),
        "failed": (FlowState.FAILED, V.STOPPED),
        "running": (FlowState.RUNNING, V.STARTING),  # FlowRecovery's, then the releaser's
        "never-created": (None, V.STOPPED),  # the node died between begin and the run
        "in-flight": (None, V.STARTING),  # begun on this node, its run not written yet
    }
    uuids: dict[str, str] = {}
    for holder, (run_state, _) in cases.items():
        uuids[holder] = await make(db, VM, V.STOPPED)
        await try_begin(db, VM, uuids[holder], "start", holder)
        if run_state is not None:
            await w.store.create(record(holder, uuids[holder], run_state))
    w.runner.in_flight.add("in-flight")
    sweeper = w.sweeper(db)
    await sweeper.scan(frozenset())  # no partition owned: nothing is touched
    assert [(await row(db, VM, u)).state for u in uuids.values()] == [V.STARTING] * len(cases)
    await sweeper.scan(ALL_PARTITIONS)
    for holder, (_, expected) in cases.items():
        r = await row(db, VM, uuids[holder])
        assert r.state == expected, holder
        assert (r.op_holder is None) == (expected != V.STARTING), holder


async def test_the_sweeper_waits_for_a_run_that_may_not_be_written_yet(db: Database) -> None:
    w = Wiring(db)
    uuid = await make(db, VM, V.STOPPED)
    await try_begin(db, VM, uuid, "start", "just-begun")
    await w.sweeper(db, grace=3600).scan(ALL_PARTITIONS)
    assert (await row(db, VM, uuid)).state == V.STARTING
    async with db.session() as s, s.begin():  # an hour later
        await s.execute(
            update(ThingRow)
            .where(ThingRow.uuid == uuid)
            .values(op_since=datetime(2000, 1, 1, tzinfo=UTC))
        )
    await w.sweeper(db, grace=3600).scan(ALL_PARTITIONS)
    assert (await row(db, VM, uuid)).state == V.STOPPED
