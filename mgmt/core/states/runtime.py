"""Operations under a state machine, and why nothing stays stuck in a transitional state.

Three parts, wired by the composition root:

- ``StatefulRunner.run`` — what a service handler calls: begin (409 if not allowed) → run
  the flow with holder = run id → finish. One call per operation.
- ``StateReleaser`` — a flow end observer: whichever node finishes a run (its first owner
  or the node that took it over after a SIGKILL, resumed or rolled back) releases the
  resource the run held, before the flow's own handlers run.
- ``StateSweeper`` — a partition scanner for what neither saw: a node killed between the
  run's final write and the release, or between ``begin`` and the run's first write. It
  releases every resource whose holder run is final, or has not existed for ``grace``
  seconds after it began.

Which flows hold which machine's resources is declared once in a ``StateRegistry``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import select

from mgmt.core.db import Database
from mgmt.core.flow import FlowDef, FlowEngine, FlowFailed, FlowState, FlowStore, RunInfo
from mgmt.core.flow.models import FINAL_STATES
from mgmt.core.logging import get_logger
from mgmt.core.ring import partition_of
from mgmt.core.scanner import PartitionScanner
from mgmt.core.states.machine import StateMachine
from mgmt.core.states.transitions import begin, finish

log = get_logger(__name__)

C = TypeVar("C", bound=BaseModel)


@dataclass(frozen=True)
class StatefulOperation(Generic[C]):
    """Operation ``operation`` of ``machine`` runs as ``flow`` (several operations may share
    one flow; one flow belongs to one machine)."""

    machine: StateMachine[Any]
    operation: str
    flow: FlowDef[C]

    def __post_init__(self) -> None:
        self.machine.operation(self.operation)  # an unknown operation fails at declaration


@dataclass
class StateRegistry:
    """Flow name -> the machine whose resources its runs hold (built at start-up)."""

    _by_flow: dict[str, StateMachine[Any]] = field(default_factory=dict)
    _machines: dict[str, StateMachine[Any]] = field(default_factory=dict)

    def add(self, *operations: StatefulOperation[Any]) -> None:
        for op in operations:
            known = self._by_flow.get(op.flow.name)
            if known is not None and known is not op.machine:
                raise ValueError(
                    f"flow {op.flow.name} holds resources of {known.resource_type} already, "
                    f"not also {op.machine.resource_type}"
                )
            self._by_flow[op.flow.name] = op.machine
            self._machines[op.machine.resource_type] = op.machine

    def machine_of(self, flow_name: str) -> StateMachine[Any] | None:
        return self._by_flow.get(flow_name)

    def machines(self) -> list[StateMachine[Any]]:
        return list(self._machines.values())


class StatefulRunner:
    """Runs an operation as a flow under its state machine (the service-facing helper)."""

    def __init__(self, db: Database, engine: FlowEngine, registry: StateRegistry) -> None:
        self._db = db
        self._engine = engine
        self._registry = registry
        #: run ids this node began and still drives: the sweeper leaves them alone
        self.in_flight: set[str] = set()

    async def run(
        self,
        op: StatefulOperation[C],
        ctx: C,
        *,
        resource_uuid: str,
        run_id: str,
        deadline: float | None = None,
    ) -> C:
        """Begin ``op`` on ``resource_uuid`` (``PermanentError`` 409 when its state does
        not allow it), run its flow as run ``run_id``, and move the resource to the
        operation's success or failure state. Returns the flow's final ctx or raises
        ``FlowFailed`` after the rollback, like ``FlowEngine.run``.

        ``run_id`` is the holder: pass the message id, so a redelivered message joins the
        same run (and finds the resource held by it) instead of being refused. If this
        node dies or is stopped mid-run, the node that takes the run over releases the
        resource when it ends it.
        """
        if self._registry.machine_of(op.flow.name) is not op.machine:
            raise ValueError(f"flow {op.flow.name} is not registered for {op.machine!r}")
        self.in_flight.add(run_id)
        try:
            if await self._engine.store.load(run_id) is None:  # a new run: begin it
                async with self._db.session() as s, s.begin():
                    await begin(s, op.machine, resource_uuid, op.operation, run_id)
            try:
                out = await self._engine.run(
                    op.flow, ctx, resource_uuid=resource_uuid, flow_uuid=run_id, deadline=deadline
                )
            except FlowFailed:
                await self._settle(op.machine, resource_uuid, run_id)
                raise
            await self._settle(op.machine, resource_uuid, run_id)
            return out
        finally:
            self.in_flight.discard(run_id)

    async def _settle(self, machine: StateMachine[Any], uuid: str, run_id: str) -> None:
        # The releaser did it already when this node finished the run; not when the run
        # was finished before (a redelivered message joined a stored outcome) or elsewhere.
        # Only a final run is settled: a joiner told "interrupted" leaves it to the owner.
        rec = await self._engine.store.load(run_id)
        if rec is not None and rec.state in FINAL_STATES:
            async with self._db.session() as s, s.begin():
                await finish(s, machine, uuid, run_id, success=rec.state == FlowState.SUCCEEDED)


class StateReleaser:
    """Flow end observer: the resource a run held leaves its transitional state when the
    run ends, on whichever node ends it. A failure here is healed by ``StateSweeper``."""

    def __init__(self, db: Database, registry: StateRegistry) -> None:
        self._db = db
        self._registry = registry

    async def run_ended(self, run: RunInfo, state: FlowState, ctx: BaseModel) -> None:
        machine = self._registry.machine_of(run.name)
        if machine is None:
            return
        async with self._db.session() as s, s.begin():
            moved = await finish(
                s, machine, run.resource_uuid, run.uuid, success=state == FlowState.SUCCEEDED
            )
        if moved is not None:
            log.info(
                "states.released",
                resource_type=machine.resource_type,
                uuid=run.resource_uuid,
                flow_uuid=run.uuid,
                state=str(moved),
            )


@dataclass(frozen=True)
class _Held:
    machine: StateMachine[Any]
    uuid: str
    holder: str
    since: datetime | None


class StateSweeper(PartitionScanner):
    """Releases resources on the owned partitions whose holder run is final, or was never
    created (``grace`` seconds after ``begin``, in database time: the window between
    ``begin`` and the run's first write, which a slow database may stretch)."""

    name = "state-sweeper"

    def __init__(
        self,
        db: Database,
        store: FlowStore,
        registry: StateRegistry,
        *,
        partitions: int,
        in_flight: Iterable[str] | None = None,
        interval: float = 5.0,
        grace: float = 60.0,
    ) -> None:
        super().__init__(interval)
        self._db = db
        self._store = store
        self._registry = registry
        self._partitions = partitions
        self._in_flight = in_flight if in_flight is not None else set()
        self._grace = timedelta(seconds=grace)

    async def scan(self, owned: frozenset[int]) -> None:
        now: datetime | None = None
        for held in await self._held(owned):
            if held.holder in self._in_flight:
                continue
            rec = await self._store.load(held.holder)
            if rec is None:
                now = now or await self._db.now()
                if held.since is not None and now - held.since < self._grace:
                    continue  # begun moments ago: its run may not be written yet
                success = False  # nothing ran: back to where it started
            elif rec.state in FINAL_STATES:
                success = rec.state == FlowState.SUCCEEDED
            else:
                continue  # still running, or FlowRecovery will take it over and end it
            await self._release(held, success, run_found=rec is not None)

    async def _held(self, owned: frozenset[int]) -> list[_Held]:
        found: list[_Held] = []
        async with self._db.session() as s:
            for machine in self._registry.machines():
                t = machine.table
                rows = await s.execute(
                    select(t.c.uuid, t.c.op_holder, t.c.op_since).where(t.c.op_holder.is_not(None))
                )
                found.extend(
                    _Held(machine, uuid, holder, since)
                    for uuid, holder, since in rows.all()
                    if partition_of(uuid, self._partitions) in owned
                )
        return found

    async def _release(self, held: _Held, success: bool, *, run_found: bool) -> None:
        async with self._db.session() as s, s.begin():
            moved = await finish(s, held.machine, held.uuid, held.holder, success=success)
        if moved is not None:
            log.warning(
                "states.swept",
                resource_type=held.machine.resource_type,
                uuid=held.uuid,
                flow_uuid=held.holder,
                run_found=run_found,
                state=str(moved),
            )
