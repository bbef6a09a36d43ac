"""Moving a resource through its machine: ``begin`` an operation, ``finish`` it.

Called inside the caller's transaction (``async with db.session() as s, s.begin()``): by
``StatefulRunner`` around a flow, by ``StateReleaser`` when a run ends, by ``StateSweeper``
for what a dead node left. Both are one conditional ``UPDATE`` on the resource's row, so two
operations can never both begin, and a state is never written from a value read before an
``await``: ``begin`` moves only from an allowed state with no holder, ``finish`` only while
its holder still holds the resource — a redelivered or late finish changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api.spec import not_found
from mgmt.core.errors import ErrorCode, PermanentError, error
from mgmt.core.states.machine import S, StateCodes, StateMachine


@dataclass(frozen=True)
class Began(Generic[S]):
    """An operation holds the resource: ``state`` now, ``started_from`` before it began.
    ``again``: this holder held it already (a redelivered message begins again)."""

    uuid: str
    operation: str
    holder: str
    started_from: S
    state: S
    again: bool = False


def illegal(
    machine: StateMachine[Any], uuid: str, operation: str, state: str, running: str | None
) -> ErrorCode:
    """The 409 of an operation refused in ``state``: it names the state and what is allowed
    there (nothing while another operation holds the resource)."""
    allowed = [] if running else machine.allowed_operations(state)
    froms = sorted(str(s) for s in machine.operation(operation).allowed_from)
    details = f"{machine.resource_type} {uuid} is {state}: {operation} is allowed from {froms}"
    if running:
        details += f" when no operation runs ({running} is running)"
    return error(StateCodes.ILLEGAL, details, state=state, allowedOperations=allowed)


async def begin(
    session: AsyncSession, machine: StateMachine[S], uuid: str, operation: str, holder: str
) -> Began[S]:
    """``holder`` (a flow run id) begins ``operation`` on resource ``uuid``.

    Raises ``PermanentError`` with ``STATE.1001`` (HTTP 409, ``extra`` = ``state`` and
    ``allowedOperations``) when the resource is not in a state the operation is allowed
    from or another operation holds it, and the 404 error when there is no such resource.
    Beginning again with the same holder (a redelivered message) succeeds and changes
    nothing.
    """
    op = machine.operation(operation)
    t = machine.table
    moved = (
        await session.execute(
            update(t)
            .where(
                t.c.uuid == uuid,
                t.c.op_holder.is_(None),
                t.c.state.in_([str(s) for s in op.allowed_from]),
            )
            .values(
                state=str(op.transitional) if op.transitional is not None else t.c.state,
                op_holder=holder,
                op_name=op.name,
                op_from=t.c.state,  # the value before this UPDATE, in SQL
                op_since=func.now(),
            )
            .returning(t.c.op_from)
        )
    ).first()
    if moved is not None:
        started = machine.state(moved[0])
        now = op.transitional if op.transitional is not None else started
        return Began(uuid, op.name, holder, started, now)
    # refused (or ours already): read why, only to answer; nothing is written from it
    row = (
        await session.execute(
            select(t.c.state, t.c.op_holder, t.c.op_name, t.c.op_from).where(t.c.uuid == uuid)
        )
    ).first()
    if row is None:
        raise PermanentError(not_found(machine.resource_type, uuid))
    state, held_by, held_op, started_from = row
    if held_by == holder and held_op == op.name:
        return Began(
            uuid, op.name, holder, machine.state(started_from), machine.state(state), again=True
        )
    raise PermanentError(illegal(machine, uuid, op.name, state, held_op if held_by else None))


async def finish(
    session: AsyncSession, machine: StateMachine[S], uuid: str, holder: str, *, success: bool
) -> S | None:
    """The operation ``holder`` holds on ``uuid`` ended: move the resource to the
    operation's success state, or its failure state (by default the state it began from).

    Returns the new state, or None when ``holder`` does not hold the resource (finished
    already, or never began): a repeated finish changes nothing.
    """
    t = machine.table
    row = (
        await session.execute(
            select(t.c.op_name, t.c.op_from).where(t.c.uuid == uuid, t.c.op_holder == holder)
        )
    ).first()
    if row is None:
        return None
    op_name, op_from = row
    started = machine.state(op_from)
    try:
        target = machine.operation(op_name).stable_after(success, started)
    except KeyError:  # declared by an older release: no target known, go back
        target = started
    # compare-and-set on the holder: a finish racing this one computes the same target
    done = await session.execute(
        update(t)
        .where(t.c.uuid == uuid, t.c.op_holder == holder)
        .values(state=str(target), op_holder=None, op_name=None, op_from=None, op_since=None)
    )
    return target if getattr(done, "rowcount", 0) == 1 else None


async def current_state(session: AsyncSession, machine: StateMachine[S], uuid: str) -> S | None:
    """The resource's state now (None: no such resource)."""
    t = machine.table
    value = await session.scalar(select(t.c.state).where(t.c.uuid == uuid))
    return machine.state(value) if value is not None else None
