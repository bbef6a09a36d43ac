"""``CounterService`` (the recalculate API's handler) and ``CounterChecker`` (the timer).

Both go through ``CounterService.recalculate_owner``: one transaction per owner, then for
every counter that was wrong a warning log line, the metrics
``zcloud_counter_drift_found_total{counter}`` / ``zcloud_counter_last_drift{counter}`` and
a ``CounterDriftFound`` event. The checker is a partition listener: every ``interval`` s it
recalculates the owners whose partition this node owns, so each counter has one checker
in the cluster, on the node that also runs its owner's messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import select

from mgmt.core.api import ApiCodes, caller_of
from mgmt.core.bus import Bus, HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.counters.api import (
    CounterDriftFound,
    RecalculateCounters,
    RecalculateCountersReply,
    RecalculatedCounter,
)
from mgmt.core.counters.ledger import CounterCodes, purge_released
from mgmt.core.counters.models import CounterRow
from mgmt.core.counters.recalc import CounterSources, Recalculated, recalculate
from mgmt.core.db import Database, utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.core.logging import get_logger
from mgmt.core.messages import Message
from mgmt.core.scanner import PartitionScanner

log = get_logger(__name__)


class CounterMetrics:
    """Drift found by recalculations; one instance per process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.drift_found = Counter(
            "zcloud_counter_drift_found_total",
            "Counters a recalculation found wrong (and corrected)",
            ["counter"],
            registry=r,
        )
        self.last_drift = Gauge(
            "zcloud_counter_last_drift",
            "Drift of the last wrong counter found, in the counter's units "
            "(> 0 leaked capacity, < 0 under-counted)",
            ["counter"],
            registry=r,
        )
        self.recalculated = Counter(
            "zcloud_counter_recalculations_total",
            "Counters recalculated",
            ["trigger"],
            registry=r,
        )


class CounterService:
    """Recalculates counters for the admin API and the checker, and reports drift."""

    def __init__(
        self,
        db: Database,
        sources: CounterSources,
        metrics: CounterMetrics,
        *,
        node_id: str,
        bus: Bus | None = None,
    ) -> None:
        self._db = db
        self._sources = sources
        self._metrics = metrics
        self._node_id = node_id
        #: where drift events go (the node's bus)
        self._bus = bus

    def handlers(self) -> Mapping[type[Message], Handler]:
        return {RecalculateCounters: self.recalculate_api}

    async def recalculate_api(
        self, msg: RecalculateCounters, ctx: HandlerContext
    ) -> RecalculateCountersReply:
        # the frontend refuses non-admins; a message put on the bus by other means too
        if not caller_of(msg).isAdmin:
            raise PermanentError(error(ApiCodes.PERMISSION_DENIED, "admin only"))
        done = await self.recalculate_owner(
            msg.resourceUuid, name=msg.name, trigger="api", bus=ctx.bus
        )
        if not done:
            what = f"counter {msg.name!r}" if msg.name else "counters"
            raise PermanentError(
                error(
                    CounterCodes.NO_COUNTER,
                    f"{msg.resourceUuid} has no {what}",
                    owner=msg.resourceUuid,
                )
            )
        return RecalculateCountersReply(inventories=[_reply(r) for r in done])

    async def recalculate_owner(
        self,
        owner_uuid: str,
        *,
        name: str | None = None,
        trigger: str = "checker",
        bus: Bus | None = None,
    ) -> list[Recalculated]:
        """Recalculate (and correct) the owner's counters, then report those that drifted."""
        async with self._db.session() as s, s.begin():
            done = await recalculate(s, owner_uuid, self._sources, name=name)
        self._metrics.recalculated.labels(trigger).inc(len(done))
        for r in done:
            if r.drift or r.total != r.total_before:
                await self._report(r, trigger, bus or self._bus)
        return done

    async def _report(self, r: Recalculated, trigger: str, bus: Bus | None) -> None:
        log.warning(
            "counter.drift_corrected",
            owner=r.owner_uuid,
            counter=r.name,
            drift=r.drift,
            total_before=r.total_before,
            available_before=r.available_before,
            total=r.total,
            available=r.available,
            trigger=trigger,
        )
        self._metrics.drift_found.labels(r.name).inc()
        self._metrics.last_drift.labels(r.name).set(r.drift)
        if bus is None:
            return
        event = CounterDriftFound(
            resourceUuid=r.owner_uuid,
            resourceType=r.owner_type,
            name=r.name,
            drift=r.drift,
            totalBefore=r.total_before,
            availableBefore=r.available_before,
            total=r.total,
            available=r.available,
            trigger=trigger,
            node=self._node_id,
            at=utcnow(),
        )
        try:
            await bus.publish(event)
        except Exception as exc:  # corrected all the same; the metric and the log stand
            log.warning("counter.drift_event_failed", owner=r.owner_uuid, error=repr(exc))


class CounterChecker(PartitionScanner):
    """Partition listener: recalculates every counter of the owned partitions each
    ``interval`` s (and when ownership changes), then forgets reservations released more
    than ``keep_released`` s ago. A failing owner is logged and the others still run."""

    name = "counter-checker"

    def __init__(
        self,
        db: Database,
        service: CounterService,
        *,
        interval: float = 60.0,
        keep_released: float = 86400.0,
    ) -> None:
        super().__init__(interval)
        self._db = db
        self._service = service
        self._keep_released = keep_released

    async def scan(self, owned: frozenset[int]) -> None:
        async with self._db.read_session() as s:
            owners = (
                await s.execute(
                    select(CounterRow.owner_uuid)
                    .where(CounterRow.partition.in_(sorted(owned)))
                    .distinct()
                    .order_by(CounterRow.owner_uuid)
                )
            ).scalars()
            todo = list(owners)
        for owner in todo:
            if not self._owned:  # the partitions moved away while we were at it
                return
            try:
                await self._service.recalculate_owner(owner)
            except Exception as exc:
                log.warning("counter.check_failed", owner=owner, error=f"{type(exc).__name__}")
        # reservations have no partition of their own: every node may purge, each row once
        async with self._db.session() as s, s.begin():
            await purge_released(s, utcnow() - timedelta(seconds=self._keep_released))


def _reply(r: Recalculated) -> RecalculatedCounter:
    return RecalculatedCounter(
        ownerUuid=r.owner_uuid,
        name=r.name,
        total=r.total,
        available=r.available,
        totalBefore=r.total_before,
        availableBefore=r.available_before,
        drift=r.drift,
    )
