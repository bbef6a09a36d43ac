"""``FlowEngine``: runs flows step by step, durably, and rolls them back on failure.

Called by service handlers (``await engine.run(FLOW, ctx, resource_uuid=…, flow_uuid=…)``),
by ``FlowRecovery`` when this node takes a partition over, and by the GC queue. A run with a
given uuid happens once: running it again (a redelivered message) joins the live run, takes
over a dead node's run, or returns the stored outcome.

Guarantees: progress is persisted after every step before the next starts; a failure undoes
the completed steps in reverse order (a failing undo goes to the GC queue, the others still
run); the error handlers and finally handlers run last; a run never ends in a transitional
state unless its node dies, and then the node that owns the partition next finishes it.
"""

from __future__ import annotations

import asyncio
import time
import uuid as uuidlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import orjson
from pydantic import BaseModel

from mgmt.core.errors import (
    Codes,
    ErrorCode,
    OperationTimeout,
    ZCloudError,
    error,
    is_transient,
    to_error_code,
)
from mgmt.core.flow.attempt import StepAttempt, executing
from mgmt.core.flow.definition import FlowDef, FlowRegistry, Interrupt, Step, SubFlow
from mgmt.core.flow.errors import FlowCodes
from mgmt.core.flow.metrics import FlowMetrics
from mgmt.core.flow.models import FINAL_STATES, FlowState, GcKind
from mgmt.core.flow.store import FlowFenced, FlowRecord, FlowStore, GcJob
from mgmt.core.logging import get_logger
from mgmt.core.ring import partition_of

log = get_logger(__name__)

C = TypeVar("C", bound=BaseModel)


class FlowFailed(ZCloudError):
    """The flow failed (and was rolled back as far as it could be): ``error`` says why."""


@dataclass(frozen=True)
class RunInfo:
    uuid: str
    name: str
    resource_uuid: str
    epoch: int
    node: str


class FlowObserver(Protocol):
    """Extension point (observer): told around every step of every flow on this node.

    ``before_step`` runs before a step's run or rollback; ``after_step`` once its outcome is
    persisted. Called in registration order; an exception is logged and never aborts the
    flow. Used for metrics, audit and fault-injection test hooks.
    """

    async def before_step(self, run: RunInfo, step: str, phase: str, ctx: BaseModel) -> None: ...

    async def after_step(
        self, run: RunInfo, step: str, phase: str, ctx: BaseModel, ok: bool
    ) -> None: ...


class FlowEndObserver(Protocol):
    """Extension point (observer): told when a run ends on this node, however it ends.

    ``run_ended`` is called once the run's final state (``Succeeded``, ``RolledBack`` or
    ``Failed``) is persisted, on the node that finished it: the first owner, or the node
    that took it over after its owner died. It runs before the flow's ``on_error`` and
    ``finally_`` handlers, in registration order; an exception is logged and never changes
    the outcome. A node that dies after the final write and before this call does not call
    it: an observer whose effect must happen pairs it with a sweeper (the state machine
    framework's ``StateSweeper`` does).
    """

    async def run_ended(self, run: RunInfo, state: FlowState, ctx: BaseModel) -> None: ...


#: What joiners of a run on this node wait for: its final record, or None when this node
#: stopped driving it (lost a claim race, found it existed): look again.
_Slot = asyncio.Future[FlowRecord | None]


class _StepFailed(Exception):
    def __init__(self, err: ErrorCode, *, maybe_done: bool = False) -> None:
        super().__init__(err.details)
        self.error = err
        #: the step's work may have happened (it timed out): its rollback runs too
        self.maybe_done = maybe_done


class FlowEngine:
    def __init__(
        self,
        store: FlowStore,
        flows: FlowRegistry,
        *,
        node_id: str,
        partitions: int,
        metrics: FlowMetrics,
        observers: Sequence[FlowObserver] = (),
        end_observers: Sequence[FlowEndObserver] = (),
        save_retry_seconds: float = 60.0,
    ) -> None:
        self.store = store
        self.flows = flows
        self.node_id = node_id
        #: Who runs a flow: this process (a restarted node with the same id is another).
        self.incarnation = f"{node_id}/{uuidlib.uuid4().hex[:12]}"
        self._partitions = partitions
        self._metrics = metrics
        self._observers = list(observers)
        self._end_observers = list(end_observers)
        self._save_retry_seconds = save_retry_seconds
        self._running: dict[str, _Slot] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._members: Callable[[], frozenset[str]] = lambda: frozenset({node_id})

    def bind_members(self, members: Callable[[], frozenset[str]]) -> None:
        """Where live members come from (the node runtime; composition root)."""
        self._members = members

    def is_running_here(self, uuid: str) -> bool:
        return uuid in self._running

    def owner_alive(self, owner: str | None) -> bool:
        """Whether the process that owns a run may still be driving it."""
        if owner is None:
            return False
        if owner == self.incarnation:
            return True
        node = owner.rsplit("/", 1)[0]
        return node != self.node_id and node in self._members()

    # -- entry points --------------------------------------------------------------------

    async def run(
        self,
        flow: FlowDef[C],
        ctx: C,
        *,
        resource_uuid: str,
        flow_uuid: str | None = None,
        deadline: float | None = None,
        parent_uuid: str | None = None,
        _recorded: asyncio.Future[None] | None = None,
    ) -> C:
        """Run ``flow`` (the registered, plugin-extended version) to its end; the final ctx.

        Raises ``FlowFailed`` with the step's error once the run is rolled back. With a
        ``flow_uuid`` that ran before, returns or raises that run's outcome instead.
        """
        resolved: FlowDef[C] = self.flows[flow.name]
        uuid = flow_uuid or str(uuidlib.uuid4())
        if uuid in self._running:
            if _recorded is not None and not _recorded.done():
                _recorded.set_result(None)
            return self._outcome(resolved, await self.join(uuid))
        rec = FlowRecord(
            uuid=uuid,
            name=resolved.name,
            resource_uuid=resource_uuid,
            partition=partition_of(resource_uuid, self._partitions),
            state=FlowState.RUNNING,
            ctx=ctx.model_dump_json(),
            owner=self.incarnation,
            parent_uuid=parent_uuid,
            deadline_at=datetime.fromtimestamp(deadline, UTC) if deadline else None,
        )
        fut = self._register(uuid)
        try:
            created: bool = await self._retrying(lambda: self.store.create(rec), uuid)
        except BaseException as exc:
            self._unregister(uuid, fut, exc)
            raise
        if _recorded is not None and not _recorded.done():
            _recorded.set_result(None)  # ``start``'s caller may go: the run is durable now
        if created:
            self._metrics.started.labels(resolved.name).inc()
            final = await self._drive(resolved, rec, ctx, fut)
            return self._outcome(resolved, final)
        self._unregister(uuid, fut, None)
        return self._outcome(resolved, await self.join(uuid))

    async def start(
        self,
        flow: FlowDef[C],
        ctx: C,
        *,
        resource_uuid: str,
        flow_uuid: str,
        deadline: float | None = None,
    ) -> None:
        """Run ``flow`` in the background of this node and return once the run is durably
        recorded (its row exists): for operations whose caller does not wait for the end.
        If this node dies or stops, the partition's next owner finishes the run (take-over);
        its outcome is read from the run (``join``), not returned here."""
        recorded: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def drive() -> None:
            try:
                await self.run(
                    flow,
                    ctx,
                    resource_uuid=resource_uuid,
                    flow_uuid=flow_uuid,
                    deadline=deadline,
                    _recorded=recorded,
                )
            except FlowFailed as failed:  # an outcome, kept in the run's row
                log.info("flow.background_failed", flow_uuid=flow_uuid, error=failed.error.code)
            except Exception as exc:
                if not recorded.done():  # not even recorded: the caller must hear of it
                    recorded.set_exception(exc)
                else:
                    log.warning("flow.background_error", flow_uuid=flow_uuid, error=repr(exc))
            finally:
                if not recorded.done():
                    recorded.set_result(None)

        task = asyncio.create_task(drive(), name=f"flow-{flow_uuid}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        await asyncio.shield(recorded)

    async def stop(self) -> None:
        """Stop the runs ``start`` left running here: each is suspended (owner cleared) for
        the partition's next owner to finish."""
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def join(self, uuid: str, *, poll: float = 0.5) -> FlowRecord:
        """Wait for a run's end: the live run here, a live owner elsewhere, or take over."""
        while True:
            if uuid in self._running:
                here = await asyncio.shield(self._running[uuid])
                if here is not None:
                    return here
                continue
            rec: FlowRecord | None = await self._retrying(lambda: self.store.load(uuid), uuid)
            if rec is None:
                raise ZCloudError(error(FlowCodes.UNKNOWN_RUN, uuid))
            if rec.state in FINAL_STATES:
                return rec
            if not self.owner_alive(rec.owner):
                final = await self.resume(uuid)
                if final is not None:
                    return final
            await asyncio.sleep(poll)

    async def resume(self, uuid: str) -> FlowRecord | None:
        """Take a run over and finish it; None if another process claimed it first."""
        if uuid in self._running:
            return await asyncio.shield(self._running[uuid])
        fut = self._register(uuid)
        try:
            rec = await self.store.load(uuid)
            claimed = None
            if rec is not None and rec.state not in FINAL_STATES:
                claimed = await self.store.claim(uuid, self.incarnation, rec.epoch)
        except BaseException as exc:
            self._unregister(uuid, fut, exc)
            raise
        if rec is not None and rec.state in FINAL_STATES:
            self._unregister(uuid, fut, None, result=rec)
            return rec
        if claimed is None:
            self._unregister(uuid, fut, None)
            return None
        flow = self.flows[claimed.name]
        ctx = flow.ctx_type.model_validate_json(claimed.ctx)
        log.info(
            "flow.taken_over",
            flow=claimed.name,
            flow_uuid=uuid,
            state=claimed.state,
            position=claimed.position,
            epoch=claimed.epoch,
        )
        self._metrics.taken_over.labels(claimed.name).inc()
        if claimed.state == FlowState.RUNNING and self._rolls_back_on_interrupt(flow, claimed):
            claimed.error = error(FlowCodes.INTERRUPTED, f"{claimed.name} lost its node")
            claimed.state = FlowState.ROLLING_BACK
            if claimed.position < len(flow.steps):
                # the step the node died in may have done its work: undo it too (result None)
                interrupted = flow.steps[claimed.position].step_name
                claimed.results.append({"step": interrupted, "result": None})
            claimed.position = len(claimed.results)
        return await self._drive(flow, claimed, ctx, fut)

    async def rollback_run(self, uuid: str) -> None:
        """Undo a run that succeeded (a sub-flow whose parent failed)."""
        final = await self.join(uuid)
        if final.state != FlowState.SUCCEEDED:
            return  # it undid itself already
        flow = self.flows[final.name]
        claimed = await self.store.claim(uuid, self.incarnation, final.epoch)
        if claimed is None:
            raise ZCloudError(error(FlowCodes.UNKNOWN_RUN, f"could not claim {uuid}"))
        claimed.state = FlowState.ROLLING_BACK
        claimed.position = len(claimed.results)
        claimed.error = error(FlowCodes.PARENT_FAILED, "the parent flow failed")
        ctx = flow.ctx_type.model_validate_json(claimed.ctx)
        await self._drive(flow, claimed, ctx, self._register(uuid))

    # -- driving a run -------------------------------------------------------------------

    async def _drive(
        self, flow: FlowDef[Any], rec: FlowRecord, ctx: BaseModel, fut: _Slot
    ) -> FlowRecord:
        self._metrics.running.inc()
        try:
            if rec.state == FlowState.RUNNING:
                await self._forward(flow, rec, ctx)
            if rec.state == FlowState.ROLLING_BACK:
                await self._backward(flow, rec, ctx)
            await self._finish(flow, rec, ctx)
        except FlowFenced:
            # another node took the run over (we were presumed dead): its outcome is ours
            log.warning("flow.fenced", flow=flow.name, flow_uuid=rec.uuid, epoch=rec.epoch)
            self._unregister(rec.uuid, fut, None)  # joiners look again, as we do
            return await self.join(rec.uuid)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                await self._suspend(rec)
            self._unregister(rec.uuid, fut, exc)
            raise
        finally:
            self._metrics.running.dec()
        self._unregister(rec.uuid, fut, None, result=rec)
        return rec

    async def _forward(self, flow: FlowDef[Any], rec: FlowRecord, ctx: BaseModel) -> None:
        steps = flow.steps
        while rec.position < len(steps):
            step = steps[rec.position]
            try:
                self._check_deadline(rec, step)
                result = await self._run_step(flow, rec, step, ctx)
            except _StepFailed as failed:
                rec.error = failed.error
                if self._past_no_return(flow, rec):
                    rec.state = FlowState.FAILED
                else:
                    rec.state = FlowState.ROLLING_BACK
                    if failed.maybe_done:
                        rec.results.append({"step": step.step_name, "result": None})
                    rec.position = len(rec.results)
                await self._save(rec, ctx)
                await self._notify_after(rec, step.step_name, "run", ctx, ok=False)
                return
            rec.results.append({"step": step.step_name, "result": result})
            rec.position += 1
            if rec.position == len(steps):
                rec.state = FlowState.SUCCEEDED
            await self._save(rec, ctx)
            await self._notify_after(rec, step.step_name, "run", ctx, ok=True)

    async def _backward(self, flow: FlowDef[Any], rec: FlowRecord, ctx: BaseModel) -> None:
        by_name = {s.step_name: s for s in flow.steps}
        while rec.position > 0:
            entry = rec.results[rec.position - 1]
            step = by_name.get(entry["step"])
            ok = True
            if step is not None and not step.no_rollback:
                ok = await self._rollback_step(flow, rec, step, ctx, entry.get("result"))
            rec.position -= 1
            if rec.position == 0:
                rec.state = FlowState.ROLLED_BACK
            await self._save(rec, ctx)
            if step is not None:
                await self._notify_after(rec, step.step_name, "rollback", ctx, ok=ok)
        if rec.state == FlowState.ROLLING_BACK:  # nothing had completed
            rec.state = FlowState.ROLLED_BACK
            await self._save(rec, ctx)

    async def _finish(self, flow: FlowDef[Any], rec: FlowRecord, ctx: BaseModel) -> None:
        outcome = str(rec.state)
        self._metrics.finished.labels(flow.name, outcome).inc()
        log.info("flow.finished", flow=flow.name, flow_uuid=rec.uuid, state=outcome)
        if self._end_observers:
            info = RunInfo(rec.uuid, rec.name, rec.resource_uuid, rec.epoch, self.node_id)
            for obs in self._end_observers:
                try:
                    await obs.run_ended(info, FlowState(rec.state), ctx)
                except Exception:
                    log.exception("flow.end_observer_failed", flow=flow.name, flow_uuid=rec.uuid)
        if rec.state != FlowState.SUCCEEDED and rec.error is not None:
            for on_error in flow.on_error:
                await self._safe_handler(flow, "on_error", on_error(ctx, rec.error))
        for fin in flow.finally_:
            await self._safe_handler(flow, "finally", fin(ctx))

    async def _safe_handler(self, flow: FlowDef[Any], kind: str, aw: Any) -> None:
        try:
            await aw
        except Exception:
            log.exception("flow.handler_failed", flow=flow.name, handler=kind)

    # -- one step ------------------------------------------------------------------------

    async def _run_step(
        self, flow: FlowDef[Any], rec: FlowRecord, step: Step[Any], ctx: BaseModel
    ) -> Any:
        name = step.step_name
        attempt = 0
        while True:
            attempt += 1
            await self._notify_before(rec, name, "run", ctx)
            started = time.perf_counter()
            try:
                with executing(self._attempt(rec, name, "run", attempt)):
                    if isinstance(step, SubFlow):
                        result = await self._run_subflow(rec, step, ctx)
                    else:
                        result = await self._bounded(rec, step.run(ctx))
                orjson.dumps(result)  # a result that cannot be stored fails here, not later
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                elapsed = time.perf_counter() - started
                retry = is_transient(exc) and attempt < step.retry.max_attempts
                self._record(rec, flow, name, "run", elapsed, exc, retrying=retry)
                if not retry:
                    maybe = step.undo_on_failure or (
                        step.undo_on_timeout and isinstance(exc, OperationTimeout)
                    )
                    raise _StepFailed(self._step_error(rec, name, exc), maybe_done=maybe) from exc
                await asyncio.sleep(step.retry.delay(attempt, getattr(exc, "delay", None)))
                continue
            self._record(rec, flow, name, "run", time.perf_counter() - started, None)
            return result

    async def _rollback_step(
        self, flow: FlowDef[Any], rec: FlowRecord, step: Step[Any], ctx: BaseModel, result: Any
    ) -> bool:
        name = step.step_name
        attempt = 0
        while True:
            attempt += 1
            await self._notify_before(rec, name, "rollback", ctx)
            started = time.perf_counter()
            try:
                with executing(self._attempt(rec, name, "rollback", attempt)):
                    if isinstance(step, SubFlow):
                        await self.rollback_run(str(result["child"]))
                    else:
                        await step.rollback(ctx, result)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                retry = is_transient(exc) and attempt < step.retry.max_attempts
                self._record(rec, flow, name, "rollback", time.perf_counter() - started, exc, retry)
                if retry:
                    await asyncio.sleep(step.retry.delay(attempt, getattr(exc, "delay", None)))
                    continue
                await self._to_gc(rec, name, ctx, result, exc)
                return False
            self._record(rec, flow, name, "rollback", time.perf_counter() - started, None)
            return True

    def _attempt(self, rec: FlowRecord, step: str, phase: str, attempt: int) -> StepAttempt:
        return StepAttempt(
            rec.uuid, rec.name, rec.resource_uuid, step, phase, attempt, epoch=rec.epoch
        )

    async def _run_subflow(self, rec: FlowRecord, step: SubFlow[Any, Any], ctx: BaseModel) -> Any:
        child_uuid = f"{rec.uuid}/{step.step_name}"
        deadline = rec.deadline_at.timestamp() if rec.deadline_at else None
        child = await self.run(
            step.flow,
            step.make_ctx(ctx),
            resource_uuid=rec.resource_uuid,
            flow_uuid=child_uuid,
            deadline=deadline,
            parent_uuid=rec.uuid,
        )
        if step.merge is not None:
            step.merge(ctx, child)
        return {"child": child_uuid}

    async def _bounded(self, rec: FlowRecord, aw: Any) -> Any:
        if rec.deadline_at is None:
            return await aw
        remaining = rec.deadline_at.timestamp() - time.time()
        return await asyncio.wait_for(aw, max(remaining, 0.001))

    def _check_deadline(self, rec: FlowRecord, step: Step[Any]) -> None:
        if rec.deadline_at is not None and rec.deadline_at.timestamp() <= time.time():
            raise _StepFailed(
                error(Codes.TIMEOUT, f"{rec.name} passed its deadline before {step.step_name}")
            )

    def _step_error(self, rec: FlowRecord, step: str, exc: Exception) -> ErrorCode:
        if isinstance(exc, TimeoutError):
            cause = error(Codes.TIMEOUT, f"step {step} passed the flow's deadline")
        else:
            cause = to_error_code(exc)
        return error(FlowCodes.STEP_FAILED, f"{rec.name} failed at step {step}").caused(cause)

    def _record(
        self,
        rec: FlowRecord,
        flow: FlowDef[Any],
        step: str,
        phase: str,
        elapsed: float,
        exc: Exception | None,
        retrying: bool = False,
    ) -> None:
        outcome = "ok" if exc is None else ("retry" if retrying else "failed")
        event: dict[str, Any] = {
            "step": step,
            "phase": phase,
            "outcome": outcome,
            "ms": round(elapsed * 1000, 3),
            "at": datetime.now(UTC).isoformat(),
            "node": self.node_id,
        }
        if exc is not None:
            event["error"] = f"{type(exc).__name__}: {exc}"
        rec.history.append(event)
        self._metrics.steps.labels(flow.name, step, phase, outcome).inc()
        self._metrics.step_seconds.labels(flow.name, phase).observe(elapsed)
        log.info(
            "flow.step",
            flow=flow.name,
            flow_uuid=rec.uuid,
            step=step,
            phase=phase,
            outcome=outcome,
            ms=event["ms"],
            error=event.get("error"),
        )

    # -- persistence ---------------------------------------------------------------------

    async def _save(self, rec: FlowRecord, ctx: BaseModel) -> None:
        rec.ctx = ctx.model_dump_json()
        await self._retrying(lambda: self.store.save(rec), rec.uuid)

    async def _retrying(self, op: Callable[[], Any], uuid: str) -> Any:
        """Retry a store call through a database blip; ``FlowFenced`` and real errors pass."""
        deadline = time.monotonic() + self._save_retry_seconds
        delay = 0.1
        while True:
            try:
                return await op()
            except FlowFenced:
                raise
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() + delay > deadline:
                    raise
                log.warning("flow.store_retry", flow_uuid=uuid, error=f"{type(exc).__name__}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _suspend(self, rec: FlowRecord) -> None:
        """Cancelled (node stopping or partition moving): let the next owner pick it up."""
        rec.owner = None
        try:
            await asyncio.shield(self.store.save(rec))
        except BaseException as exc:
            log.warning("flow.suspend_failed", flow_uuid=rec.uuid, error=repr(exc))

    async def queue_rerun(
        self,
        flow: FlowDef[Any],
        ctx: BaseModel,
        *,
        resource_uuid: str,
        origin_uuid: str,
        err: ErrorCode,
    ) -> str:
        """Hand a failed clean-up run (``origin_uuid``) to the GC queue, which runs ``flow``
        on ``ctx`` again — a new run per attempt — with back-off until one succeeds. Queuing
        the same origin twice (a step run again after a take-over) queues it once. Returns
        the GC job's uuid."""
        job = GcJob(
            uuid=str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"zcloud-gc:{origin_uuid}")),
            flow_uuid=origin_uuid,
            flow_name=flow.name,
            step="",
            resource_uuid=resource_uuid,
            partition=partition_of(resource_uuid, self._partitions),
            ctx=ctx.model_dump_json(),
            result="null",
            kind=GcKind.FLOW,
        )
        await self._retrying(lambda: self.store.add_gc(job), origin_uuid)
        self._metrics.gc_enqueued.labels(flow.name, "").inc()
        log.warning("flow.rerun_to_gc", flow=flow.name, origin=origin_uuid, error=err.code)
        return job.uuid

    async def _to_gc(
        self, rec: FlowRecord, step: str, ctx: BaseModel, result: Any, exc: Exception
    ) -> None:
        job = GcJob(
            uuid=str(uuidlib.uuid4()),
            flow_uuid=rec.uuid,
            flow_name=rec.name,
            step=step,
            resource_uuid=rec.resource_uuid,
            partition=rec.partition,
            ctx=ctx.model_dump_json(),
            result=orjson.dumps(result).decode(),
        )
        await self._retrying(lambda: self.store.add_gc(job), rec.uuid)
        self._metrics.gc_enqueued.labels(rec.name, step).inc()
        log.warning(
            "flow.rollback_to_gc", flow=rec.name, flow_uuid=rec.uuid, step=step, error=repr(exc)
        )

    # -- bookkeeping ---------------------------------------------------------------------

    def _register(self, uuid: str) -> _Slot:
        fut: _Slot = asyncio.get_running_loop().create_future()
        self._running[uuid] = fut
        return fut

    def _unregister(
        self,
        uuid: str,
        fut: _Slot,
        exc: BaseException | None,
        *,
        result: FlowRecord | None = None,
    ) -> None:
        """This node stops driving ``uuid``; its joiners get ``result`` (None: look again)
        or, when ``exc``, the run's interruption."""
        if self._running.get(uuid) is fut:
            del self._running[uuid]
        if fut.done():
            return
        if exc is not None:
            fut.set_exception(FlowFailed(error(FlowCodes.INTERRUPTED, repr(exc))))
            fut.exception()  # there may be no joiner: mark the exception retrieved
        else:
            fut.set_result(result)

    def _past_no_return(self, flow: FlowDef[Any], rec: FlowRecord) -> bool:
        by_name = {s.step_name: s for s in flow.steps}
        return any(
            (s := by_name.get(str(entry["step"]))) is not None and s.no_rollback
            for entry in rec.results
        )

    def _rolls_back_on_interrupt(self, flow: FlowDef[Any], rec: FlowRecord) -> bool:
        return flow.on_interrupt == Interrupt.ROLLBACK and not self._past_no_return(flow, rec)

    def _outcome(self, flow: FlowDef[C], rec: FlowRecord) -> C:
        if rec.state == FlowState.SUCCEEDED:
            return flow.ctx_type.model_validate_json(rec.ctx)
        raise FlowFailed(rec.error or error(FlowCodes.STEP_FAILED, f"{rec.name} failed"))

    def _info(self, rec: FlowRecord) -> RunInfo:
        return RunInfo(rec.uuid, rec.name, rec.resource_uuid, rec.epoch, self.node_id)

    async def _notify_before(self, rec: FlowRecord, step: str, phase: str, ctx: BaseModel) -> None:
        if not self._observers:
            return
        info = self._info(rec)
        for obs in self._observers:
            try:
                await obs.before_step(info, step, phase, ctx)
            except Exception:
                log.exception("flow.observer_failed", step=step)

    async def _notify_after(
        self, rec: FlowRecord, step: str, phase: str, ctx: BaseModel, *, ok: bool
    ) -> None:
        if not self._observers:
            return
        info = self._info(rec)
        for obs in self._observers:
            try:
                await obs.after_step(info, step, phase, ctx, ok)
            except Exception:
                log.exception("flow.observer_failed", step=step)
