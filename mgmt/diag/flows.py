"""The diagnostic counter flows: five steps, each adding to one counter of the resource.

Effects are exact: a step records its effect (run id, step) in the transaction that moves
the counter, so a re-run step (after a take-over) changes nothing, and its rollback undoes
only what was applied. The amount comes from the resource's ``diagCounterStep::{amount}``
system tag (the tag system's interpreting point in this service), default 1. Fault fields in
the context drive the failure tests; ``KillSwitch`` is the observer that kills the node.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Annotated, Any

from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.db import Database
from mgmt.core.errors import Codes, PermanentError, error
from mgmt.core.flow import FlowDef, Interrupt, RetryPolicy, RunInfo, Step
from mgmt.core.gconfig import GlobalConfigDef, GlobalConfigService
from mgmt.core.tags import SystemTag, TagService
from mgmt.diag.models import DiagCounter, DiagEffect

STEPS = ("s1", "s2", "s3", "s4", "s5")

#: How much each counter step adds for a resource carrying it (the interpreting point).
COUNTER_STEP_TAG = SystemTag(
    "diagCounterStep::{amount}",
    resource_types=("DiagResource",),
    tokens={"amount": TypeAdapter(Annotated[int, Field(ge=1, le=1_000_000)])},
    unique=True,
    description="Amount each diagnostic counter step adds (default 1).",
)


#: Extra delay of every counter step, ms: a runtime-tunable knob (global config in use).
STEP_DELAY_MS = GlobalConfigDef(
    "diag",
    "counterStepDelayMs",
    int,
    0,
    "Extra delay of each diagnostic counter step, in milliseconds.",
    ge=0,
    le=60_000,
)
DIAG_CONFIGS = (STEP_DELAY_MS,)


class DiagFlowCtx(BaseModel):
    resourceUuid: str
    runId: str
    failAt: str | None = None
    killAt: str | None = None
    stepDelayMs: int = 0
    amount: int | None = None


class ReadAmount(Step[DiagFlowCtx]):
    """Reads the amount once (the system tag), so every step of the run adds the same."""

    name = "read-amount"

    def __init__(self, db: Database, tags: TagService) -> None:
        self.db = db
        self.tags = tags

    async def run(self, ctx: DiagFlowCtx) -> Any:
        if ctx.amount is None:
            async with self.db.session() as s:
                value = await self.tags.system_tag_value(s, ctx.resourceUuid, COUNTER_STEP_TAG)
            ctx.amount = int(value["amount"]) if value else 1
        return ctx.amount


class CountStep(Step[DiagFlowCtx]):
    retry = RetryPolicy(max_attempts=3, initial_delay=0.1)

    def __init__(self, step: str, db: Database, gconfig: GlobalConfigService) -> None:
        self._step = step
        self.db = db
        self.gconfig = gconfig

    @property
    def step_name(self) -> str:
        return self._step

    async def run(self, ctx: DiagFlowCtx) -> Any:
        delay = max(ctx.stepDelayMs, self.gconfig.value(STEP_DELAY_MS))
        if delay:
            await asyncio.sleep(delay / 1000)
        if ctx.failAt == self._step:
            raise PermanentError(error(Codes.INTERNAL, f"{self._step} asked to fail"))
        amount = ctx.amount or 1
        async with self.db.session() as s, s.begin():
            fresh = await _record_effect(s, self.db, ctx.runId, self._step, amount)
            if fresh:
                await _add(s, self.db, ctx.resourceUuid, self._step, amount)
        if fresh and ctx.killAt == f"effect:{self._step}":
            kill_node()  # effect committed, progress not yet persisted: the re-run must not add
        return {"amount": amount}

    async def rollback(self, ctx: DiagFlowCtx, result: Any) -> None:
        fault = f"rollback-fault:{self._step}"
        async with self.db.session() as s, s.begin():
            left = await _get(s, ctx.runId, fault)
            if left > 0:
                await _add(s, self.db, ctx.runId, fault, -1)
        if left > 0:
            raise PermanentError(error(Codes.INTERNAL, f"rollback of {self._step} failed"))
        async with self.db.session() as s, s.begin():
            # the effect row says what was applied (also when result is None: interrupted)
            gone = (
                await s.execute(
                    delete(DiagEffect)
                    .where(DiagEffect.run_id == ctx.runId, DiagEffect.step == self._step)
                    .returning(DiagEffect.amount)
                )
            ).all()
            for (amount,) in gone:
                await _add(s, self.db, ctx.resourceUuid, self._step, -int(amount))


def counter_steps(
    db: Database, tags: TagService, gconfig: GlobalConfigService
) -> list[Step[DiagFlowCtx]]:
    return [ReadAmount(db, tags), *(CountStep(s, db, gconfig) for s in STEPS)]


def counter_flows(
    db: Database, tags: TagService, gconfig: GlobalConfigService
) -> tuple[FlowDef[DiagFlowCtx], ...]:
    return (
        FlowDef(
            "DiagCounter",
            DiagFlowCtx,
            counter_steps(db, tags, gconfig),
            on_interrupt=Interrupt.RESUME,
        ),
        FlowDef(
            "DiagCounterRollback",
            DiagFlowCtx,
            counter_steps(db, tags, gconfig),
            on_interrupt=Interrupt.ROLLBACK,
        ),
    )


async def arm_rollback_faults(db: Database, run_id: str, faults: dict[str, int]) -> None:
    """Make the rollback of each named step fail that many times (durably: the GC queue
    may retry it on another node). Arming again (a redelivered message) changes nothing."""
    if not faults:
        return
    insert = postgresql.insert if db.is_postgres else sqlite.insert
    async with db.session() as s, s.begin():
        for step, times in faults.items():
            await s.execute(
                insert(DiagCounter)
                .values(resource_uuid=run_id, name=f"rollback-fault:{step}", value=times)
                .on_conflict_do_nothing(index_elements=["resource_uuid", "name"])
            )


async def counters_of(db: Database, resource_uuid: str) -> dict[str, int]:
    async with db.session() as s:
        rows = await s.execute(
            select(DiagCounter.name, DiagCounter.value).where(
                DiagCounter.resource_uuid == resource_uuid
            )
        )
        return {name: int(value) for name, value in rows.all()}


class KillSwitch:
    """Flow observer (test hook): SIGKILLs this node at the step boundary a diagnostic run
    asks for (``before:sN``, ``after:sN``, or ``rollback:sN`` before sN is undone), on its
    first owner only (a take-over has epoch > 1)."""

    async def before_step(self, run: RunInfo, step: str, phase: str, ctx: BaseModel) -> None:
        if not isinstance(ctx, DiagFlowCtx) or run.epoch != 1:
            return
        # "rollback:sN" dies in the middle of a rollback, before sN is undone
        if ctx.killAt in (f"before:{step}", f"{phase}:{step}" if phase == "rollback" else None):
            kill_node()

    async def after_step(
        self, run: RunInfo, step: str, phase: str, ctx: BaseModel, ok: bool
    ) -> None:
        if isinstance(ctx, DiagFlowCtx) and run.epoch == 1 and ctx.killAt == f"after:{step}":
            kill_node()


def kill_node() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def _record_effect(s: AsyncSession, db: Database, run_id: str, step: str, n: int) -> bool:
    insert = postgresql.insert if db.is_postgres else sqlite.insert
    result = await s.execute(
        insert(DiagEffect)
        .values(run_id=run_id, step=step, amount=n)
        .on_conflict_do_nothing(index_elements=["run_id", "step"])
    )
    return bool(getattr(result, "rowcount", 0))


async def _get(s: AsyncSession, resource_uuid: str, name: str) -> int:
    value = await s.scalar(
        select(DiagCounter.value).where(
            DiagCounter.resource_uuid == resource_uuid, DiagCounter.name == name
        )
    )
    return int(value or 0)


async def _add(s: AsyncSession, db: Database, resource_uuid: str, name: str, n: int) -> None:
    insert = postgresql.insert if db.is_postgres else sqlite.insert
    await s.execute(
        insert(DiagCounter)
        .values(resource_uuid=resource_uuid, name=name, value=0)
        .on_conflict_do_nothing(index_elements=["resource_uuid", "name"])
    )
    await s.execute(
        update(DiagCounter)
        .where(DiagCounter.resource_uuid == resource_uuid, DiagCounter.name == name)
        .values(value=DiagCounter.value + n)
    )
