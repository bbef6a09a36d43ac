"""The SQL of counters: define, reserve, release, resize; each in the caller's transaction.

Services call these with the session of the transaction that makes the change they count
(a VM row, an IP allocation), so the counter and the rows that use it commit together.

``reserve`` is one conditional ``UPDATE … SET available = available - :n WHERE … AND
available >= :n`` after inserting the reservation row keyed by the caller's reservation id:
under any concurrency exactly as many reservations succeed as the counter holds, and a
second call with the same id (a redelivered message, a step re-run after a take-over) finds
the row and changes nothing. ``release`` flips the row to ``Released`` with a conditional
update, so the amount is given back exactly once. No value is read and written back across
an ``await``: every change is computed by the database, under its row lock.

Works on PostgreSQL and SQLite (the all-in-one). On SQLite the first statement of each
function is a write, so the transaction takes the database's write lock at once (no
read-then-upgrade ``SQLITE_BUSY``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Select, delete, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.counters.models import CounterRow, ReservationRow, ReservationState
from mgmt.core.db import utcnow
from mgmt.core.errors import ErrorCode, PermanentError, error


class CounterCodes:
    """Errors of the counters framework (HTTP status in ``mgmt.core.api.spec``).

    Insufficient capacity is 409 (Conflict), not 429: the request is refused because of the
    current state of a shared resource (the host is full), which an operator changes by
    adding capacity or freeing it; 429 means the caller is over its own limit (quota, rate).
    A quota built on counters later wraps this error in ``API.1029`` (429): the outermost
    code with a status wins.
    """

    INSUFFICIENT = ("COUNTER.1001", "Insufficient capacity")
    NO_COUNTER = ("COUNTER.1002", "No such counter")
    RESERVATION_CONFLICT = ("COUNTER.1003", "Reservation id already used for another reservation")
    INVALID = ("COUNTER.1004", "Invalid counter argument")


@dataclass(frozen=True)
class Reservation:
    """The outcome of ``reserve``: the same for every call with one reservation id."""

    id: str
    owner_uuid: str
    name: str
    amount: int
    state: ReservationState
    #: True when this call made the reservation; False when it existed (a repeat)
    fresh: bool


@dataclass(frozen=True)
class Release:
    """The outcome of ``release``."""

    id: str
    owner_uuid: str
    name: str
    amount: int
    #: True when this call gave the amount back; False when it was given back before (or
    #: never reserved: nothing to give back)
    released: bool


def _insert(session: AsyncSession) -> Any:
    bind = session.bind
    dialect = bind.dialect.name if bind is not None else "postgresql"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _positive(value: int, field: str) -> None:
    if value < 0 or (field == "amount" and value == 0):
        raise PermanentError(
            error(CounterCodes.INVALID, f"{field}: must be > 0, got {value}", field=field)
        )


async def define_counter(
    session: AsyncSession,
    owner_uuid: str,
    name: str,
    total: int,
    *,
    partition: int,
    owner_type: str = "",
) -> bool:
    """Create the counter ``name`` of ``owner_uuid`` with ``total`` all available.

    Idempotent: a counter that exists is left as it is (change its size with
    ``set_total``). ``partition`` is the owner's (``Bus.partition_of(owner_uuid)``): the
    periodic checker of that partition's node keeps it right. True if created.
    """
    _positive(total, "total")
    now = utcnow()
    result = await session.execute(
        _insert(session)(CounterRow)
        .values(
            owner_uuid=owner_uuid,
            name=name,
            owner_type=owner_type,
            partition=partition,
            total=total,
            available=total,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["owner_uuid", "name"])
        .returning(CounterRow.name)
    )
    return result.scalar() is not None


async def set_total(session: AsyncSession, owner_uuid: str, name: str, total: int) -> CounterRow:
    """Resize a counter (a host's memory changed): what is reserved stays reserved, so
    ``available`` moves by the change of ``total`` (and may go negative)."""
    _positive(total, "total")
    result = await session.execute(
        update(CounterRow)
        .where(CounterRow.owner_uuid == owner_uuid, CounterRow.name == name)
        .values(
            available=CounterRow.available + (total - CounterRow.total),
            total=total,
            updated_at=utcnow(),
        )
        .returning(CounterRow)
        .execution_options(populate_existing=True)
    )
    row = result.scalar()
    if row is None:
        raise PermanentError(_no_counter(owner_uuid, name))
    return row


@dataclass(frozen=True)
class Limit:
    """How much of a counter may be reserved, when that is not exactly its ``total``.

    A reservation fits when ``used + amount + keep <= total * ratio``: ``ratio`` over-commits
    (a host's vCPUs at 10 per physical CPU), ``keep`` holds some back (memory reserved for
    the hypervisor). The counter itself stays exact (``total`` physical, ``used`` the sum of
    reservations); the limit is applied in the same conditional statement, so a changed
    ratio applies to the next reservation with nothing rewritten.
    """

    ratio: float = 1.0
    keep: int = 0

    def __post_init__(self) -> None:
        if not self.ratio > 0 or self.keep < 0:
            raise ValueError(f"a counter limit needs ratio > 0 and keep >= 0, not {self}")

    def room(self, total: int, available: int) -> int:
        """What may still be reserved of a counter with this ``total`` and ``available``."""
        return math.floor(total * self.ratio) - self.keep - (total - available)


EXACT = Limit()


async def reserve(
    session: AsyncSession,
    owner_uuid: str,
    name: str,
    amount: int,
    reservation_id: str,
    *,
    limit: Limit = EXACT,
) -> Reservation:
    """Take ``amount`` of counter ``name`` of ``owner_uuid`` for ``reservation_id``.

    ``limit`` (default: exactly ``total``) over-commits or holds some back (``Limit``).

    A second call with the same id returns the first outcome and changes nothing (also
    after the reservation was released: a late redelivery does not reserve again). The
    same id with another owner, name or amount is ``COUNTER.1003``. Not enough available:
    ``COUNTER.1001`` (409) with ``used``, ``available``, ``total`` and ``asked`` in
    ``extra``; nothing is left behind, so the same id may be tried again later.
    """
    _positive(amount, "amount")
    # The row first: its primary key serialises two calls with one id (the second waits
    # for the first's commit and then finds the row), which a condition on the counter
    # update could not (its subquery would see the snapshot from before the first commit).
    inserted = await session.execute(
        _insert(session)(ReservationRow)
        .values(
            id=reservation_id,
            owner_uuid=owner_uuid,
            name=name,
            amount=amount,
            state=ReservationState.RESERVED,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(ReservationRow.id)
    )
    if inserted.scalar() is None:
        return await _existing(session, owner_uuid, name, amount, reservation_id)
    if limit == EXACT:
        fits = CounterRow.available >= amount
    else:  # used + amount + keep <= total * ratio, computed by the database under its lock
        fits = (CounterRow.total - CounterRow.available) + (amount + limit.keep) <= (
            CounterRow.total * literal(limit.ratio, Float())
        )
    taken = await session.execute(
        update(CounterRow)
        .where(CounterRow.owner_uuid == owner_uuid, CounterRow.name == name, fits)
        .values(available=CounterRow.available - amount, updated_at=utcnow())
        .returning(CounterRow.available)
    )
    if taken.scalar() is not None:
        return Reservation(
            reservation_id, owner_uuid, name, amount, ReservationState.RESERVED, fresh=True
        )
    # refused: take the row back (the caller may still commit its transaction)
    await session.execute(delete(ReservationRow).where(ReservationRow.id == reservation_id))
    row = (await session.execute(_counter(owner_uuid, name))).scalar()
    if row is None:
        raise PermanentError(_no_counter(owner_uuid, name))
    room = limit.room(row.total, row.available)
    raise PermanentError(
        error(
            CounterCodes.INSUFFICIENT,
            f"{name} of {owner_uuid}: asked {amount}, {room} available "
            f"({row.total - row.available} used of {row.total}"
            + ("" if limit == EXACT else f" x {limit.ratio:g}, {limit.keep} kept back")
            + ")",
            owner=owner_uuid,
            counter=name,
            asked=amount,
            available=room,
            used=row.total - row.available,
            total=row.total,
        )
    )


async def _existing(
    session: AsyncSession, owner_uuid: str, name: str, amount: int, reservation_id: str
) -> Reservation:
    row = await session.get(ReservationRow, reservation_id, populate_existing=True)
    if row is None:  # cannot happen: the insert conflicted on it in this transaction
        raise PermanentError(error(CounterCodes.RESERVATION_CONFLICT, reservation_id))
    tombstone = row.owner_uuid == "" and row.state == ReservationState.RELEASED
    if not tombstone and (row.owner_uuid, row.name, row.amount) != (owner_uuid, name, amount):
        raise PermanentError(
            error(
                CounterCodes.RESERVATION_CONFLICT,
                f"reservation {reservation_id} holds {row.amount} of {row.name} of "
                f"{row.owner_uuid}, not {amount} of {name} of {owner_uuid}",
                reservation=reservation_id,
            )
        )
    return Reservation(
        reservation_id, owner_uuid, name, amount, ReservationState(row.state), fresh=False
    )


async def release(session: AsyncSession, reservation_id: str) -> Release:
    """Give back what ``reservation_id`` holds, exactly once.

    Releasing again, or releasing an id that never reserved (the rollback of a step
    interrupted before it reserved), changes nothing. The second case leaves a
    ``Released`` tombstone, so a reserve with that id arriving later (a node presumed dead
    finishing the step) does not take capacity nobody will give back.
    """
    released = await _flip(session, reservation_id)
    if released is not None:
        return released
    tomb = await session.execute(
        _insert(session)(ReservationRow)
        .values(
            id=reservation_id,
            owner_uuid="",
            name="",
            amount=0,
            state=ReservationState.RELEASED,
            created_at=utcnow(),
            released_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(ReservationRow.id)
    )
    if tomb.scalar() is not None:
        return Release(reservation_id, "", "", 0, released=False)
    # the row exists: released before, or a reserve committed while the tombstone waited
    released = await _flip(session, reservation_id)
    if released is not None:
        return released
    row = await session.get(ReservationRow, reservation_id, populate_existing=True)
    assert row is not None
    return Release(reservation_id, row.owner_uuid, row.name, row.amount, released=False)


async def _flip(session: AsyncSession, reservation_id: str) -> Release | None:
    now = utcnow()
    flipped = (
        await session.execute(
            update(ReservationRow)
            .where(
                ReservationRow.id == reservation_id,
                ReservationRow.state == ReservationState.RESERVED,
            )
            .values(state=ReservationState.RELEASED, released_at=now)
            .returning(ReservationRow.owner_uuid, ReservationRow.name, ReservationRow.amount)
        )
    ).first()
    if flipped is None:
        return None
    owner_uuid, name, amount = flipped
    await session.execute(
        update(CounterRow)
        .where(CounterRow.owner_uuid == owner_uuid, CounterRow.name == name)
        .values(available=CounterRow.available + amount, updated_at=now)
    )
    return Release(reservation_id, owner_uuid, name, int(amount), released=True)


async def get_counter(session: AsyncSession, owner_uuid: str, name: str) -> CounterRow | None:
    return (await session.execute(_counter(owner_uuid, name))).scalar()


async def counters_of(session: AsyncSession, owner_uuid: str) -> list[CounterRow]:
    rows = await session.execute(
        select(CounterRow).where(CounterRow.owner_uuid == owner_uuid).order_by(CounterRow.name)
    )
    return list(rows.scalars())


async def remove_counters(session: AsyncSession, owner_uuid: str) -> int:
    """Delete an owner's counters and their reservations (the owner is being deleted)."""
    await session.execute(delete(ReservationRow).where(ReservationRow.owner_uuid == owner_uuid))
    gone = await session.execute(
        delete(CounterRow).where(CounterRow.owner_uuid == owner_uuid).returning(CounterRow.name)
    )
    return len(gone.all())


async def purge_released(session: AsyncSession, before: datetime, *, limit: int = 1000) -> int:
    """Delete up to ``limit`` reservations released before ``before``. Their ids are
    remembered only that long: pick ``before`` past any redelivery or take-over."""
    ids = select(ReservationRow.id).where(
        ReservationRow.state == ReservationState.RELEASED, ReservationRow.released_at < before
    )
    gone = await session.execute(
        delete(ReservationRow)
        .where(ReservationRow.id.in_(ids.limit(limit).scalar_subquery()))
        .returning(ReservationRow.id)
    )
    return len(gone.all())


def _counter(owner_uuid: str, name: str) -> Select[CounterRow]:
    return (
        select(CounterRow)
        .where(CounterRow.owner_uuid == owner_uuid, CounterRow.name == name)
        .execution_options(populate_existing=True)
    )


def _no_counter(owner_uuid: str, name: str) -> ErrorCode:
    return error(
        CounterCodes.NO_COUNTER,
        f"{owner_uuid} has no counter {name!r}",
        owner=owner_uuid,
        counter=name,
    )
