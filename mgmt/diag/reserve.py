"""The diagnostic reservation flow: a ``ReserveCounter`` step, then a step that may fail.

Proves the counters framework on real processes: ``killAt="effect:reserve"`` SIGKILLs the
node after the reservation committed but before the engine recorded the step, so the node
that takes the run over re-runs the step (which must find its reservation and take nothing
more); ``failAt="after-reserve"`` makes the flow roll back (which must give it back once).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mgmt.core.counters import ReserveCounter
from mgmt.core.db import Database
from mgmt.core.errors import Codes, PermanentError, error
from mgmt.core.flow import FlowDef, Interrupt, Step, current_attempt
from mgmt.diag.flows import kill_node

#: The counter the diagnostic reservation flow reserves from (define it on the owner first).
DIAG_COUNTER = "diag.capacity"


class DiagReserveCtx(BaseModel):
    resourceUuid: str
    ownerUuid: str
    amount: int
    killAt: str | None = None
    failAt: str | None = None


class DiagReserve(ReserveCounter[DiagReserveCtx]):
    """``ReserveCounter`` with the kill hook between its commit and the engine's record."""

    async def run(self, ctx: DiagReserveCtx) -> Any:
        result = await super().run(ctx)
        if ctx.killAt == "effect:reserve" and current_attempt().epoch == 1:
            kill_node()  # reserved and committed; the step is not recorded as done
        return result


class AfterReserve(Step[DiagReserveCtx]):
    name = "after-reserve"

    async def run(self, ctx: DiagReserveCtx) -> Any:
        if ctx.failAt == self.name:
            raise PermanentError(error(Codes.INTERNAL, f"{self.name} asked to fail"))
        return None


def reserve_flows(db: Database) -> tuple[FlowDef[DiagReserveCtx], ...]:
    def steps() -> list[Step[DiagReserveCtx]]:
        reserve = DiagReserve(
            db, "reserve", DIAG_COUNTER, owner=lambda c: c.ownerUuid, amount=lambda c: c.amount
        )
        return [reserve, AfterReserve()]

    return (
        FlowDef("DiagReserve", DiagReserveCtx, steps(), on_interrupt=Interrupt.RESUME),
        FlowDef("DiagReserveRollback", DiagReserveCtx, steps(), on_interrupt=Interrupt.ROLLBACK),
    )
