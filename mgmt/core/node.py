"""``NodeRuntime``: one management node's partitions, lease and bus, put together.

Membership says who is alive; the ring says which partitions are ours; this module makes the
consumers match: it releases partitions that moved away (draining running handlers first, so
per-resource order holds across the hand-over) and consumes the ones that moved here. It
re-consumes after a broker reconnect and stops consuming when the lease is lost (fencing).
Partition listeners (agent-task tracker, later VM sync, host ping …) hear the owned set.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from mgmt.core.bus import Bus, HandlerTable, PartitionConsumer, Transport
from mgmt.core.db import Database
from mgmt.core.logging import get_logger
from mgmt.core.membership import Membership
from mgmt.core.metrics import BusMetrics
from mgmt.core.ring import owned_by
from mgmt.core.shutdown import Shutdown
from mgmt.settings import Settings

log = get_logger(__name__)


class PartitionListener(Protocol):
    """Extension point: told the full set of owned partitions after every change, in
    registration order. An exception is logged and does not stop the rebalance."""

    async def partitions_changed(self, owned: frozenset[int]) -> None: ...


class NodeRuntime:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        transport: Transport,
        table: HandlerTable,
        metrics: BusMetrics,
        *,
        listeners: Sequence[PartitionListener] = (),
        address: str = "",
        lease_db: Database | None = None,
    ) -> None:
        self.settings = settings
        self.node_id = settings.node_id
        self.db = db
        self.metrics = metrics
        self.bus = Bus(
            transport,
            node_id=settings.node_id,
            partitions=settings.partitions,
            metrics=metrics,
            default_timeout=settings.default_timeout,
            max_message_bytes=settings.max_message_bytes,
        )
        self._table = table
        self._listeners = list(listeners)
        self._lease_db = lease_db
        self.membership = Membership(
            lease_db or db,
            settings.node_id,
            interval=settings.heartbeat_interval,
            misses=settings.heartbeat_misses,
            on_members=self._members_changed,
            on_fence=self._fenced,
            address=address,
        )
        self._consumers: dict[int, PartitionConsumer] = {}
        self._limiter = asyncio.Semaphore(settings.max_concurrent_handlers)
        self._members: frozenset[str] = frozenset()
        self._wake = asyncio.Event()
        self._reattach = False
        self._rebalancer: asyncio.Task[None] | None = None
        self._depth_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.ready = asyncio.Event()

    def add_listener(self, listener: PartitionListener) -> None:
        """Register a partition listener; only before ``start`` (none may miss a change)."""
        if self._rebalancer is not None:
            raise RuntimeError("partition listeners are added before the node starts")
        self._listeners.append(listener)

    @property
    def owned(self) -> frozenset[int]:
        return frozenset(self._consumers)

    async def start(self, before_join: Callable[[], Awaitable[None]] | None = None) -> None:
        """Start the bus, run ``before_join`` (what partition listeners need loaded, such
        as global config: no partition is ours until the node joins), then join."""
        await self.bus.start()
        if before_join is not None:
            await before_join()
        self.bus.transport.add_connection_listener(self._connection_changed)
        self._rebalancer = asyncio.create_task(self._rebalance_loop(), name="rebalancer")
        await self.membership.start()
        self._depth_task = asyncio.create_task(self._report_depth(), name="queue-depth")

    async def stop(self, shutdown: Shutdown | None = None) -> None:
        """Graceful, within ``shutdown``'s grace period (see ``mgmt.core.shutdown``).

        Leave first (delete our lease row) so the others start standby consumers on our
        partitions; start no new handlers; let the running ones finish for a bounded drain;
        cancel what is left (not acked: the next owner runs it again, and a cancelled flow
        suspends its run for flow recovery); close the consumer channels, which returns every
        unacked delivery in order. Each stage that overruns is logged and skipped over: a
        delivery whose channel could not be closed is returned when the connection drops.
        ``close`` (after the services have stopped) closes the bus."""
        shutdown = shutdown or Shutdown.unbounded()
        self._stopping = True
        log.info("node.leaving")
        await shutdown.run("leave", self.membership.stop(leave=True), share=0.05)
        await shutdown.run("rebalancer", self._stop_loops(), share=0.03)
        consumers = list(self._consumers.values())
        for consumer in consumers:
            consumer.stop_taking()
        await shutdown.run("drain", _all(c.wait_idle() for c in consumers), share=0.35)
        await shutdown.run("cancel", _all(c.cancel_running() for c in consumers), share=0.1)
        await shutdown.run("consumers", _all(c.close() for c in consumers), share=0.05)
        self._consumers.clear()
        self.metrics.partitions_owned.set(0)
        for listener in self._listeners:  # scanners stop scanning what is no longer ours
            with contextlib.suppress(Exception):
                await listener.partitions_changed(frozenset())
        log.info("node.released_all")

    async def close(self, shutdown: Shutdown | None = None) -> None:
        """Close the bus and the lease pool (after ``stop`` and the services' own stops)."""
        shutdown = shutdown or Shutdown.unbounded()
        await shutdown.run("bus", self.bus.close(), share=0.03)
        if self._lease_db is not None:
            await shutdown.run("lease_db", self._lease_db.close(), share=0.02)

    async def _stop_loops(self) -> None:
        for task in (self._rebalancer, self._depth_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def _members_changed(self, members: frozenset[str]) -> None:
        self._members = members
        self._wake.set()  # never block the membership loop on draining

    async def _fenced(self) -> None:
        self._members = frozenset()
        self._wake.set()

    async def _connection_changed(self, up: bool) -> None:
        if up:
            self._reattach = True
            self._wake.set()

    def desired(self) -> frozenset[int]:
        if self.node_id not in self._members or not self.bus.transport.connected:
            return frozenset()
        return frozenset(owned_by(self.node_id, self._members, self.settings.partitions))

    async def _rebalance_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                if self._reattach:
                    self._reattach = False
                    await self._reattach_all()
                await self._apply(self.desired())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("node.rebalance_failed")
                await asyncio.sleep(0.5)
                self._wake.set()

    async def _reattach_all(self) -> None:
        for partition, consumer in list(self._consumers.items()):
            try:
                await consumer.attach(self.bus.transport)
            except Exception:
                log.exception("node.reattach_failed", partition=partition)
                del self._consumers[partition]
        log.info("node.reattached", partitions=len(self._consumers))

    async def _apply(self, desired: frozenset[int]) -> None:
        current = frozenset(self._consumers)
        release, acquire = current - desired, desired - current
        if release:
            await asyncio.gather(*(self._release(p) for p in sorted(release)))
        # all at once: a take-over waits for one round of broker calls, not one per partition
        attached = await asyncio.gather(
            *(self._acquire(p) for p in sorted(acquire)), return_exceptions=True
        )
        acquired = sorted(p for p in acquire if p in self._consumers)
        if release or acquired:
            log.info(
                "node.partitions_changed",
                owned=len(self._consumers),
                released=sorted(release),
                acquired=acquired,
                members=sorted(self._members),
            )
            self.metrics.partitions_owned.set(len(self._consumers))
            for listener in self._listeners:
                try:
                    await listener.partitions_changed(self.owned)
                except Exception:
                    log.exception("node.partition_listener_failed")
        failed = [r for r in attached if isinstance(r, BaseException)]
        if failed:  # the rebalance loop logs it and tries the rest again
            raise failed[0]
        if desired and not self.ready.is_set():
            self.ready.set()
        if not self._members and self.ready.is_set() and not self._stopping:
            self.ready.clear()

    async def _acquire(self, partition: int) -> None:
        if not self.bus.transport.connected:
            return
        consumer = PartitionConsumer(
            partition,
            self.bus,
            self._table,
            prefetch=self.settings.prefetch,
            max_attempts=self.settings.max_attempts,
            limiter=self._limiter,
            transient_retry_seconds=self.settings.transient_retry_seconds,
        )
        await consumer.attach(self.bus.transport)
        self._consumers[partition] = consumer

    async def _release(self, partition: int) -> None:
        # Forget the consumer only once it is closed: if we are cancelled half-way (stop),
        # the final release in stop() finds it and closes it.
        await self._consumers[partition].release(self.settings.drain_timeout)
        self._consumers.pop(partition, None)

    async def _report_depth(self) -> None:
        while True:
            await asyncio.sleep(5.0)
            try:
                depth = sum(c.backlog for c in self._consumers.values())
                for partition in list(self._consumers):
                    depth += await self.bus.transport.queue_depth(partition)
                self.metrics.queue_depth.set(depth)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("node.depth_failed", error=str(exc))


async def _all(aws: Iterable[Awaitable[None]]) -> None:
    await asyncio.gather(*aws)
