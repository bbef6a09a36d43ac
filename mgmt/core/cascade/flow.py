"""The cascade delete as a durable flow: collect -> check -> release -> delete -> cleanup.

``collect`` plans the affected resources, ``check`` lets each type veto (Permissive only),
``release`` runs each type's clean-up flows (agent calls: destroy the VM on its host …)
while the rows still say what to clean, handing a failed one to the GC queue, ``delete``
removes everything leaves first and the root last (the point of no return), and
``cleanup`` runs the types' post-commit hooks. A node dying anywhere is harmless: collect
and check change nothing; release's child runs and their agent tasks have names derived
from the run, so a resumed release re-attaches to them; delete and cleanup are idempotent.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mgmt.core.cascade.graph import CascadeGraph, DeleteMode, Release
from mgmt.core.db import Database
from mgmt.core.errors import PermanentError, TemporaryError, error
from mgmt.core.flow import (
    FlowDef,
    FlowEngine,
    FlowFailed,
    Interrupt,
    RetryPolicy,
    Step,
    current_attempt,
)
from mgmt.core.logging import get_logger

log = get_logger(__name__)


class CascadeCodes:
    VETOED = ("CASCADE.1001", "Delete refused by a dependent resource")
    INCOMPLETE = ("CASCADE.1002", "Enforcing delete left resources behind")


class CascadeCtx(BaseModel):
    rootType: str
    rootUuids: list[str]
    mode: DeleteMode = DeleteMode.PERMISSIVE
    #: (type, uuids) in delete order, filled by ``collect``.
    plan: list[tuple[str, list[str]]] = []


class _CascadeStep(Step[CascadeCtx]):
    def __init__(self, db: Database, graph: CascadeGraph) -> None:
        self.db = db
        self.graph = graph


class Collect(_CascadeStep):
    name = "collect"

    async def run(self, ctx: CascadeCtx) -> Any:
        async with self.db.session() as s:
            ctx.plan = await self.graph.plan(s, ctx.rootType, ctx.rootUuids)
        return {"types": [t for t, _ in ctx.plan]}


class Check(_CascadeStep):
    name = "check"

    async def run(self, ctx: CascadeCtx) -> Any:
        if ctx.mode == DeleteMode.ENFORCING:
            return None
        async with self.db.session() as s:
            for type_name, uuids in ctx.plan:
                reason = await self.graph.by_type[type_name].check(s, uuids)
                if reason:
                    raise PermanentError(
                        error(CascadeCodes.VETOED, reason, type=type_name, rootType=ctx.rootType)
                    )
        return None


class ReleaseSideEffects(_CascadeStep):
    """Each type's clean-up flows, dependents first, as child runs ``<run>/release/<i>``.
    One that fails is queued for the GC queue (never dropped) and the delete goes on: the
    resources are going whatever their hosts say, and the queue keeps retrying."""

    name = "release"

    def __init__(self, db: Database, graph: CascadeGraph, engine: FlowEngine) -> None:
        super().__init__(db, graph)
        self.engine = engine

    async def run(self, ctx: CascadeCtx) -> Any:
        attempt = current_attempt()
        todo: list[Release] = []
        async with self.db.session() as s:  # the rows still exist: read what to release
            for type_name, uuids in ctx.plan:
                declared = self.graph.releases.get(type_name)
                if declared is not None:
                    todo += await declared.releases(s, uuids)
        queued: list[str] = []
        for i, release in enumerate(todo):
            child = f"{attempt.flow_uuid}/release/{i}"
            try:
                await self.engine.run(
                    release.flow,
                    release.ctx,
                    resource_uuid=attempt.resource_uuid,
                    flow_uuid=child,
                    parent_uuid=attempt.flow_uuid,
                )
            except FlowFailed as failed:
                queued.append(
                    await self.engine.queue_rerun(
                        release.flow,
                        release.ctx,
                        resource_uuid=attempt.resource_uuid,
                        origin_uuid=child,
                        err=failed.error,
                    )
                )
        return {"released": len(todo), "gcJobs": queued}


class Delete(_CascadeStep):
    name = "delete"
    no_rollback = True  # the point of no return
    retry = RetryPolicy(max_attempts=5, initial_delay=0.5)

    async def run(self, ctx: CascadeCtx) -> Any:
        if ctx.mode == DeleteMode.PERMISSIVE:
            async with self.db.session() as s, s.begin():  # all or nothing
                for type_name, uuids in ctx.plan:
                    await self.graph.by_type[type_name].delete(s, uuids, force=False)
                    for obs in self.graph.observers:
                        await obs.resources_deleted(s, type_name, uuids)
            return None
        failed: list[str] = []
        for type_name, uuids in ctx.plan:  # each type on its own: one failure stops nothing
            try:
                async with self.db.session() as s, s.begin():
                    await self.graph.by_type[type_name].delete(s, uuids, force=True)
                    for obs in self.graph.observers:
                        await obs.resources_deleted(s, type_name, uuids)
            except Exception as exc:
                log.warning("cascade.delete_failed", type=type_name, error=repr(exc))
                failed.append(type_name)
        if failed:  # retried (idempotent) until nothing is left
            raise TemporaryError(error(CascadeCodes.INCOMPLETE, f"left: {failed}"), delay=1.0)
        return None


class Cleanup(_CascadeStep):
    name = "cleanup"
    no_rollback = True

    async def run(self, ctx: CascadeCtx) -> Any:
        for type_name, uuids in ctx.plan:
            try:
                await self.graph.by_type[type_name].cleanup(uuids)
            except Exception as exc:  # the rows are gone; report, don't undo
                log.warning("cascade.cleanup_failed", type=type_name, error=repr(exc))
        return None


class CascadeDeleter:
    """Runs the cascade flow for a service's delete handler: one durable run per API job
    (or message), the veto or failure reason raised as the caller's error."""

    def __init__(self, engine: FlowEngine, flow: FlowDef[CascadeCtx]) -> None:
        self._engine = engine
        self._flow = flow

    async def delete(
        self,
        root_type: str,
        uuid: str,
        mode: str,
        *,
        run_id: str,
        deadline: float | None,
    ) -> list[str]:
        """Delete ``uuid`` and its dependents; the types deleted, dependents first."""
        try:
            out = await self._engine.run(
                self._flow,
                CascadeCtx(rootType=root_type, rootUuids=[uuid], mode=DeleteMode(mode)),
                resource_uuid=uuid,
                flow_uuid=run_id,
                deadline=deadline,
            )
        except FlowFailed as failed:  # the reason (a veto …) is the caller's answer
            raise PermanentError(failed.error.cause or failed.error) from failed
        return [t for t, _ in out.plan]


def cascade_flow(db: Database, graph: CascadeGraph, engine: FlowEngine) -> FlowDef[CascadeCtx]:
    return FlowDef(
        "CascadeDelete",
        CascadeCtx,
        [
            Collect(db, graph),
            Check(db, graph),
            ReleaseSideEffects(db, graph, engine),
            Delete(db, graph),
            Cleanup(db, graph),
        ],
        on_interrupt=Interrupt.RESUME,
    )
