"""``ReserveCounter``: the flow step that reserves capacity and gives it back on rollback.

A flow lists it as one line::

    ReserveCounter(db, "reserve-cpu", "host.cpu", owner=lambda c: c.hostUuid,
                   amount=lambda c: c.cpuNum)

The reservation id is ``<flow run uuid>/<step name>``: the same every time the step runs
in that run, so a step re-run after a take-over (its node died after the reserve committed
but before the engine recorded the step) finds its reservation and takes nothing more.
Rollback releases that id, also when the step was interrupted (``result`` None) and when
the GC queue retries it on another node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from mgmt.core.counters.ledger import release, reserve
from mgmt.core.db import Database
from mgmt.core.errors import Codes, PermanentError, error
from mgmt.core.flow import RetryPolicy, Step, current_attempt

C = TypeVar("C", bound=BaseModel)


def reservation_id(run_uuid: str, step: str) -> str:
    """The reservation id of ``step`` in flow run ``run_uuid``."""
    return f"{run_uuid}/{step}"


class ReserveCounter(Step[C]):
    """Reserve ``amount(ctx)`` of counter ``counter`` of ``owner(ctx)``; release on rollback.

    Not enough capacity fails the step with ``COUNTER.1001`` (the flow rolls back what it
    did before); transient database errors are retried per ``retry``. The step's result
    (stored with the run) is ``{"reservation", "owner", "counter", "amount"}``.
    """

    retry = RetryPolicy(max_attempts=5, initial_delay=0.1)

    def __init__(
        self,
        db: Database,
        name: str,
        counter: str,
        *,
        owner: Callable[[C], str],
        amount: Callable[[C], int] | int,
    ) -> None:
        self._db = db
        self._name = name
        self._counter = counter
        self._owner = owner
        self._amount = amount

    @property
    def step_name(self) -> str:
        return self._name

    def reservation_id(self) -> str:
        """This step's reservation id in the run executing it."""
        try:
            attempt = current_attempt()
        except RuntimeError:
            raise PermanentError(
                error(Codes.INTERNAL, f"step {self._name} ran outside a flow run")
            ) from None
        return reservation_id(attempt.flow_uuid, self._name)

    async def run(self, ctx: C) -> Any:
        rid = self.reservation_id()
        owner = self._owner(ctx)
        amount = self._amount(ctx) if callable(self._amount) else self._amount
        async with self._db.session() as s, s.begin():
            await reserve(s, owner, self._counter, amount, rid)
        return {"reservation": rid, "owner": owner, "counter": self._counter, "amount": amount}

    async def rollback(self, ctx: C, result: Any) -> None:
        rid = str(result["reservation"]) if result else self.reservation_id()
        async with self._db.session() as s, s.begin():
            await release(s, rid)
