"""Finishing other nodes' work: take over orphaned flow runs, retry failed rollbacks.

Both are partition listeners (``mgmt.core.node``): they work only on the partitions this node
owns, so each orphan has one candidate owner. ``FlowRecovery`` resumes (or rolls back, as the
flow declares) runs whose process is gone — the node died, or was stopped mid-run and
suspended them. ``GarbageCollector`` retries rollbacks and clean-up flows that failed, with
exponential back-off, until they succeed; nothing they left behind is forgotten (the queue
is readable at ``/v1/gc-jobs``, ``mgmt.core.flow.api``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import select, update

from mgmt.core.db import Database
from mgmt.core.errors import ErrorCode, ZCloudError
from mgmt.core.flow.attempt import StepAttempt, executing
from mgmt.core.flow.definition import SubFlow
from mgmt.core.flow.engine import FlowEngine
from mgmt.core.flow.metrics import FlowMetrics
from mgmt.core.flow.models import GcJobRow, GcKind, GcState
from mgmt.core.logging import get_logger
from mgmt.core.scanner import PartitionScanner

log = get_logger(__name__)


class FlowRecovery(PartitionScanner):
    name = "flow-recovery"

    def __init__(self, engine: FlowEngine, *, interval: float = 2.0) -> None:
        super().__init__(interval)
        self._engine = engine
        self._resuming: dict[str, asyncio.Task[Any]] = {}

    async def stop(self) -> None:
        await super().stop()
        tasks = list(self._resuming.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._resuming.clear()

    async def scan(self, owned: frozenset[int]) -> None:
        for rec in await self._engine.store.active_on(owned):
            if (
                rec.uuid in self._resuming
                or self._engine.is_running_here(rec.uuid)
                or self._engine.owner_alive(rec.owner)
            ):
                continue
            task = asyncio.create_task(self._resume(rec.uuid), name=f"flow-resume-{rec.uuid}")
            self._resuming[rec.uuid] = task

    async def _resume(self, uuid: str) -> None:
        try:
            await self._engine.resume(uuid)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed flow is an outcome, recorded in its row
            log.info("flow-recovery.resumed_run_failed", flow_uuid=uuid, error=repr(exc))
        finally:
            self._resuming.pop(uuid, None)


class GarbageCollector(PartitionScanner):
    """Retries failed rollbacks (``gc_job`` rows) on the owned partitions."""

    name = "gc"

    def __init__(
        self,
        db: Database,
        engine: FlowEngine,
        metrics: FlowMetrics,
        *,
        interval: float = 1.0,
        max_backoff: float = 300.0,
    ) -> None:
        super().__init__(interval)
        self._db = db
        self._engine = engine
        self._metrics = metrics
        self._max_backoff = max_backoff

    async def _rollback_again(self, job: GcJobRow) -> None:
        flow = self._engine.flows.get(job.flow_name)
        step = next((s for s in flow.steps if s.step_name == job.step), None) if flow else None
        if flow is None or step is None:
            raise LookupError(f"flow {job.flow_name} has no step {job.step} any more")
        ctx = flow.ctx_type.model_validate_json(job.ctx)
        result = orjson.loads(job.result)
        if isinstance(step, SubFlow):
            await self._engine.rollback_run(str(result["child"]))
        else:
            await step.rollback(ctx, result)

    async def _rerun_flow(self, job: GcJobRow, attempt: StepAttempt) -> None:
        flow = self._engine.flows.get(job.flow_name)
        if flow is None:
            raise LookupError(f"no flow {job.flow_name} is registered any more")
        await self._engine.run(
            flow,
            flow.ctx_type.model_validate_json(job.ctx),
            resource_uuid=job.resource_uuid,
            flow_uuid=attempt.derive_uuid("rerun"),
        )

    async def scan(self, owned: frozenset[int]) -> None:
        now = await self._db.now()
        async with self._db.session() as s:
            jobs = (
                await s.execute(
                    select(GcJobRow)
                    .where(
                        GcJobRow.partition.in_(sorted(owned)),
                        GcJobRow.state == GcState.PENDING,
                        GcJobRow.next_at <= now,
                    )
                    .order_by(GcJobRow.next_at)
                    .limit(100)
                )
            ).scalars()
            due = list(jobs)
        for job in due:
            await self._attempt(job)

    async def _attempt(self, job: GcJobRow) -> None:
        # the attempt is named by the job and its count, so a GC node that dies mid-attempt
        # leaves the next owner the same names: it re-attaches to the agent task or flow run
        # that attempt started instead of starting another
        attempt = StepAttempt(
            job.flow_uuid,
            job.flow_name,
            job.resource_uuid,
            job.step,
            f"gc:{job.uuid}",
            job.attempts + 1,
        )
        try:
            with executing(attempt):
                if job.kind == GcKind.FLOW:
                    await self._rerun_flow(job, attempt)
                else:
                    await self._rollback_again(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._metrics.gc_failed.inc()
            backoff = min(self._max_backoff, 2.0 ** (job.attempts + 1))
            now = await self._db.now()
            async with self._db.session() as s, s.begin():
                await s.execute(
                    update(GcJobRow)
                    .where(GcJobRow.uuid == job.uuid)
                    .values(
                        attempts=job.attempts + 1,
                        last_error=_describe(exc),
                        next_at=now + timedelta(seconds=backoff),
                    )
                )
            log.warning("gc.retry_failed", job=job.uuid, step=job.step, retry_in=backoff)
            return
        now = await self._db.now()
        async with self._db.session() as s, s.begin():
            await s.execute(
                update(GcJobRow)
                .where(GcJobRow.uuid == job.uuid)
                .values(state=GcState.DONE, attempts=job.attempts + 1, done_at=now)
            )
        self._metrics.gc_done.inc()
        log.info("gc.done", job=job.uuid, flow=job.flow_name, step=job.step)


def _describe(exc: Exception) -> str:
    """What the GC API shows of a failed attempt: each code down to the root cause (a flow's
    FLOW.1001 says little; the agent's SYS.1100 and its reason say what to fix)."""
    if not isinstance(exc, ZCloudError):
        return f"{type(exc).__name__}: {exc}"
    parts: list[str] = []
    err: ErrorCode | None = exc.error
    while err is not None and len(parts) < 8:
        parts.append(f"{err.code}: {err.details}" if err.details else err.code)
        err = err.cause
    return " <- ".join(parts)
