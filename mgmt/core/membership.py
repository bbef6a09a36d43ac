"""Cluster membership: a lease per management node in table ``management_node``.

Each node renews its row every ``heartbeat_interval`` seconds in database time. Every node
removes rows not renewed for ``heartbeat_misses`` intervals (the lease), so a dead node's
partitions move to the survivors. A node that cannot renew fences itself (stops consuming)
one interval before its lease would run out, and rejoins when the database answers again.
Called by ``mgmt.core.node.NodeRuntime``; it reports the live member set through
``on_members`` and fencing through ``on_fence``. It should get a ``Database`` of its own
(a small pool): handlers that exhaust the main pool must not starve the lease.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import String, Text, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base, Database
from mgmt.core.db.types import UtcDateTime
from mgmt.core.logging import get_logger

log = get_logger(__name__)


class ManagementNodeRow(Base):
    __tablename__ = "management_node"

    uuid: Mapped[str] = mapped_column(String(128), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    address: Mapped[str] = mapped_column(Text, default="")
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


MembersCallback = Callable[[frozenset[str]], Awaitable[None]]
FenceCallback = Callable[[], Awaitable[None]]


class Membership:
    """Keeps this node's lease and tells the runtime who is alive."""

    def __init__(
        self,
        db: Database,
        node_id: str,
        *,
        interval: float,
        misses: int,
        on_members: MembersCallback,
        on_fence: FenceCallback,
        address: str = "",
    ) -> None:
        self._db = db
        self.node_id = node_id
        self._interval = interval
        self._lease = timedelta(seconds=interval * misses)
        self._on_members = on_members
        self._on_fence = on_fence
        self._address = address
        self._last_renewed = 0.0  # monotonic time of the last successful renewal
        self._fenced = True
        self._members: frozenset[str] = frozenset()
        self._task: asyncio.Task[None] | None = None

    @property
    def members(self) -> frozenset[str]:
        return self._members

    @property
    def fenced(self) -> bool:
        return self._fenced

    async def start(self) -> None:
        """Join (insert or refresh our row) and start renewing; fails if the DB is down."""
        await self._renew()
        await self._scan()
        self._task = asyncio.create_task(self._loop(), name=f"membership-{self.node_id}")

    async def stop(self, *, leave: bool = True) -> None:
        """Stop renewing; with ``leave`` delete our row so others take over at once."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if leave:
            try:
                async with self._db.session() as s, s.begin():
                    await s.execute(
                        delete(ManagementNodeRow).where(ManagementNodeRow.uuid == self.node_id)
                    )
            except Exception as exc:  # the others will expire us instead
                log.warning("membership.leave_failed", error=str(exc))

    async def _loop(self) -> None:
        # Scan more often than we renew, so a dead peer is noticed soon after its lease ends.
        tick = min(self._interval / 4, 0.5)
        next_renewal = time.monotonic() + self._interval
        while True:
            await asyncio.sleep(tick)
            try:
                if time.monotonic() >= next_renewal:
                    next_renewal = time.monotonic() + self._interval
                    await self._renew()
                await self._scan()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("membership.db_error", error=f"{type(exc).__name__}: {exc}")
            await self._check_fence()

    async def _check_fence(self) -> None:
        # Stop consuming one interval before the lease the others see would run out.
        limit = self._lease.total_seconds() - self._interval
        if not self._fenced and time.monotonic() - self._last_renewed > limit:
            self._fenced = True
            self._members = frozenset()
            log.error("membership.fenced", reason="lease could not be renewed")
            await self._on_fence()

    async def _renew(self) -> None:
        started = time.monotonic()
        now = await self._db.now()
        async with self._db.session() as s, s.begin():
            result = await s.execute(
                update(ManagementNodeRow)
                .where(ManagementNodeRow.uuid == self.node_id)
                .values(heartbeat_at=now)
            )
            if getattr(result, "rowcount", 0) == 0:
                # First start, or the others expired us while we could not renew: (re)join.
                s.add(
                    ManagementNodeRow(
                        uuid=self.node_id,
                        hostname=socket.gethostname(),
                        pid=os.getpid(),
                        address=self._address,
                        joined_at=now,
                        heartbeat_at=now,
                    )
                )
                log.info("membership.joined")
        self._last_renewed = started
        if self._fenced:
            self._fenced = False
            log.info("membership.lease_held")

    async def _scan(self) -> None:
        now = await self._db.now()
        cutoff = now - self._lease
        async with self._db.session() as s, s.begin():
            # Our own lease is ours to judge (fencing), never the scan's.
            expired = await s.execute(
                delete(ManagementNodeRow)
                .where(
                    ManagementNodeRow.heartbeat_at < cutoff,
                    ManagementNodeRow.uuid != self.node_id,
                )
                .returning(ManagementNodeRow.uuid)
            )
            for node in expired.scalars():
                log.warning("membership.expired", peer=node)
            live = frozenset((await s.execute(select(ManagementNodeRow.uuid))).scalars())
        if self._fenced:
            live = live - {self.node_id}
        if live != self._members:
            self._members = live
            log.info("membership.changed", members=sorted(live))
            await self._on_members(live)
