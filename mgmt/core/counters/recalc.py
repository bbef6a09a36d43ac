"""Rebuilding counters from the rows that use them (the truth), and who says what that is.

``recalculate`` is called by the admin API (``RecalculateCounters``) and by the periodic
``CounterChecker``, both through ``CounterService.recalculate_owner``. For each counter it
locks the counter row first, then measures (while no reserve or release of that counter can
commit), then writes ``available = total - used``. Measuring under the lock is what makes
the read and the write one atomic step: a reservation in flight either committed before the
lock (and is measured) or waits for it (and applies to the corrected value).

What "used" is comes from a ``CounterSource``: by default the sum of the counter's live
reservations (``ReservationSource``); a resource type registers its own for a counter name
through the ``COUNTER_SOURCES`` extension point (later: host capacity as the sum of its
VMs' reservations, IP pools as their allocated addresses).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.counters.models import CounterRow, ReservationRow, ReservationState
from mgmt.core.db import utcnow
from mgmt.core.plugins import ExtensionPoint, Kind, PluginRegistry


@dataclass(frozen=True)
class Measure:
    """What a counter should say: ``used`` now, and ``total`` if the source knows it
    (None keeps the stored total)."""

    used: int
    total: int | None = None


class CounterSource(Protocol):
    """Extension point (strategy, by counter name): the truth of a counter.

    Called by ``recalculate`` inside its transaction, with the counter row locked, once per
    counter of that name being recalculated (by the admin API or the periodic checker, on
    the node owning the owner's partition). It must only read, with ``session``, and count
    every row that holds the counter, including those of operations in flight; rows must
    change in the same transaction as the counter's reserve or release, so what it reads
    agrees with the counter. An exception aborts that owner's recalculation (the checker
    logs it and goes on with the next owner; the API answers the error).
    """

    async def measure(self, session: AsyncSession, owner_uuid: str, name: str) -> Measure: ...


class ReservationSource:
    """The default truth: what the live (``Reserved``) reservations of the counter hold."""

    async def measure(self, session: AsyncSession, owner_uuid: str, name: str) -> Measure:
        used = await session.scalar(
            select(func.coalesce(func.sum(ReservationRow.amount), 0)).where(
                ReservationRow.owner_uuid == owner_uuid,
                ReservationRow.name == name,
                ReservationRow.state == ReservationState.RESERVED,
            )
        )
        return Measure(used=int(used or 0))


COUNTER_SOURCES: ExtensionPoint[CounterSource] = ExtensionPoint(
    "counter.source",
    CounterSource,
    Kind.STRATEGY,
    "The truth of the counters of one name (the type a plugin claims is the counter name), "
    "read by recalculate with the counter row locked; an exception aborts that owner's "
    "recalculation. Counters of a name nobody claims count their live reservations.",
)


class CounterSources:
    """Counter name -> its source; ``ReservationSource`` for names nobody claimed."""

    def __init__(
        self,
        sources: Mapping[str, CounterSource] | None = None,
        default: CounterSource | None = None,
    ) -> None:
        self._sources = dict(sources or {})
        self._default = default or ReservationSource()

    @classmethod
    def from_plugins(cls, plugins: PluginRegistry) -> CounterSources:
        names = plugins.strategy_types(COUNTER_SOURCES)
        return cls({n: plugins.strategy(COUNTER_SOURCES, n) for n in names})

    def source(self, name: str) -> CounterSource:
        return self._sources.get(name, self._default)


@dataclass(frozen=True)
class Recalculated:
    """One counter after ``recalculate``: what it said before and what it says now."""

    owner_uuid: str
    owner_type: str
    name: str
    total_before: int
    available_before: int
    total: int
    available: int

    @property
    def drift(self) -> int:
        """How much the stored ``used`` was off: positive when the counter claimed more
        was in use than is (capacity leaked), negative when it claimed less (over-commit
        risk). Zero when it was right."""
        used_before = self.total_before - self.available_before
        return used_before - (self.total - self.available)

    @property
    def changed(self) -> bool:
        return (self.total, self.available) != (self.total_before, self.available_before)


async def recalculate(
    session: AsyncSession,
    owner_uuid: str,
    sources: CounterSources,
    *,
    name: str | None = None,
) -> list[Recalculated]:
    """Rebuild the counters of ``owner_uuid`` (only ``name`` if given) from their sources,
    in the caller's transaction; one ``Recalculated`` per counter, by name."""
    # an update that changes nothing: locks the rows (PostgreSQL) and takes the write lock
    # (SQLite) before anything is measured; RETURNING gives the values under that lock
    lock = update(CounterRow).where(CounterRow.owner_uuid == owner_uuid)
    if name is not None:
        lock = lock.where(CounterRow.name == name)
    locked = (
        await session.execute(
            lock.values(total=CounterRow.total).returning(
                CounterRow.name, CounterRow.owner_type, CounterRow.total, CounterRow.available
            )
        )
    ).all()
    out: list[Recalculated] = []
    for counter, owner_type, total, available in sorted(locked):
        measure = await sources.source(counter).measure(session, owner_uuid, counter)
        new_total = int(total) if measure.total is None else measure.total
        result = Recalculated(
            owner_uuid,
            owner_type,
            counter,
            total_before=int(total),
            available_before=int(available),
            total=new_total,
            available=new_total - measure.used,
        )
        if result.changed:
            await session.execute(
                update(CounterRow)
                .where(CounterRow.owner_uuid == owner_uuid, CounterRow.name == counter)
                .values(total=result.total, available=result.available, updated_at=utcnow())
            )
        out.append(result)
    return out
