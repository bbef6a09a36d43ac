"""Capacity and counters: totals and what is available, per (owner resource, counter name).

Counters of host CPU and memory, storage bytes, IP pools (and later quotas) change only by
idempotent reservations keyed by a caller-chosen id, each one conditional SQL statement in
the caller's transaction (``ledger``), and can be rebuilt from the rows that use them
(``recalc``; the ``COUNTER_SOURCES`` extension point says what those are). A flow reserves
with one ``ReserveCounter`` step. ``CounterService`` serves the admin recalculate API and
``CounterChecker`` recalculates the owned partitions' counters on a timer, reporting drift
as ``CounterDriftFound`` events and metrics. See docs/frameworks/counters.md.
"""

from mgmt.core.counters.api import (
    API_MESSAGES,
    CounterDriftFound,
    CounterInventory,
    RecalculateCounters,
    RecalculateCountersReply,
    RecalculatedCounter,
    readables,
)
from mgmt.core.counters.ledger import (
    EXACT,
    CounterCodes,
    Limit,
    Release,
    Reservation,
    counters_of,
    define_counter,
    get_counter,
    purge_released,
    release,
    remove_counters,
    reserve,
    set_total,
)
from mgmt.core.counters.models import CounterRow, ReservationRow, ReservationState
from mgmt.core.counters.recalc import (
    COUNTER_SOURCES,
    CounterSource,
    CounterSources,
    Measure,
    Recalculated,
    ReservationSource,
    recalculate,
)
from mgmt.core.counters.service import CounterChecker, CounterMetrics, CounterService
from mgmt.core.counters.step import ReserveCounter, reservation_id

__all__ = [
    "API_MESSAGES",
    "COUNTER_SOURCES",
    "EXACT",
    "CounterChecker",
    "CounterCodes",
    "CounterDriftFound",
    "CounterInventory",
    "CounterMetrics",
    "CounterRow",
    "CounterService",
    "CounterSource",
    "CounterSources",
    "Limit",
    "Measure",
    "RecalculateCounters",
    "RecalculateCountersReply",
    "Recalculated",
    "RecalculatedCounter",
    "Release",
    "Reservation",
    "ReservationRow",
    "ReservationSource",
    "ReservationState",
    "ReserveCounter",
    "counters_of",
    "define_counter",
    "get_counter",
    "purge_released",
    "readables",
    "recalculate",
    "release",
    "remove_counters",
    "reservation_id",
    "reserve",
    "set_total",
]
