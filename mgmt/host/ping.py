"""Hosts at run time: the owner of a host checks every ping interval that it is there.

Each node pings the hosts of the partitions it owns (``HostPinger``, a partition listener:
when partitions move, the new owner pings the moved hosts from its next round) with the
sync ``HeartbeatHost``. A Connected host that misses ``host.ping.maxFailure`` pings in a row
is Disconnected (event ``HostStatusChanged``, then the ``HOST_STATUS_EXTENSIONS``: the
VM service makes its VMs Unknown); a Disconnected host that answers is
reconnected by the ``ReconnectHost`` operation (the whole handshake: capacity and VM list
read again), and stays Disconnected if that fails. An agent that answers but no longer
knows the host (it restarted: no host UUID in its reply, or a 404 for the host) has lost
what the handshake told it, so a Connected host is reconnected at once. A host with an
operation in flight (Connecting) is left alone. Misses are counted in memory: a new owner
starts from zero, so a take-over can only delay a disconnect, never invent one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from http import HTTPStatus

from pydantic import Field
from sqlalchemy import select, update

from agent.protocol import HeartbeatHost, HeartbeatHostReply
from mgmt.core.agenttasks import AgentClient
from mgmt.core.bus import Bus
from mgmt.core.db import Database, utcnow
from mgmt.core.errors import ZCloudError
from mgmt.core.gconfig import GlobalConfigDef, GlobalConfigService
from mgmt.core.logging import get_logger
from mgmt.core.messages import Event
from mgmt.core.scanner import PartitionScanner
from mgmt.host.backends import HostBackend
from mgmt.host.extensions import HostStatusExtension
from mgmt.host.models import HostRow
from mgmt.host.reads import access_of
from mgmt.host.states import Status

log = get_logger(__name__)

PING_INTERVAL = GlobalConfigDef(
    "host",
    "ping.interval",
    int,
    60,
    "Seconds between two pings of a host by its owner node.",
    ge=1,
    le=3600,
)
PING_TIMEOUT = GlobalConfigDef(
    "host", "ping.timeout", int, 10, "Seconds a ping waits for the agent.", ge=1, le=300
)
PING_MAX_FAILURE = GlobalConfigDef(
    "host",
    "ping.maxFailure",
    int,
    3,
    "Pings in a row a Connected host may miss before it is Disconnected.",
    ge=1,
    le=100,
)
PING_CONFIGS = (PING_INTERVAL, PING_TIMEOUT, PING_MAX_FAILURE)

#: what ``_ping`` answers when the agent answers but no longer knows the host
FORGOTTEN = "the agent no longer knows this host (it restarted)"

#: pings in flight at once per node
PARALLEL_PINGS = 64


class HostStatusChanged(Event):
    """A host's status moved outside an API call (published as ``host.status.<new>``)."""

    hostUuid: str
    oldStatus: str
    newStatus: str
    reason: str = Field(description="Why, e.g. the last ping's error.")
    at: datetime

    @classmethod
    def topic(cls) -> str:
        return "host.status.#"

    def event_topic(self) -> str:
        return f"host.status.{self.newStatus}"


class HostPinger(PartitionScanner):
    name = "host-pinger"

    def __init__(
        self,
        db: Database,
        bus: Bus,
        gconfig: GlobalConfigService,
        agents: AgentClient,
        backends: Callable[[str], HostBackend],
        reconnect: Callable[[str], Awaitable[None]],
        status_extensions: Sequence[HostStatusExtension] = (),
    ) -> None:
        super().__init__(float(PING_INTERVAL.default))
        self._db = db
        self._bus = bus
        self._gconfig = gconfig
        self._agents = agents
        self._backends = backends
        self._reconnect = reconnect
        self._status_extensions = status_extensions
        self._misses: dict[str, int] = {}
        self._reconnecting: set[str] = set()

    async def scan(self, owned: frozenset[int]) -> None:
        self._interval = float(self._gconfig.value(PING_INTERVAL))  # from the next wait on
        async with self._db.read_session() as s:
            rows = (
                await s.scalars(
                    select(HostRow).where(
                        HostRow.state.in_((Status.CONNECTED, Status.DISCONNECTED)),
                        HostRow.op_holder.is_(None),
                    )
                )
            ).all()
        mine = [r for r in rows if self._bus.partition_of(r.uuid) in owned]
        known = {r.uuid for r in mine}
        self._misses = {u: n for u, n in self._misses.items() if u in known}
        gate = asyncio.Semaphore(PARALLEL_PINGS)

        async def one(row: HostRow) -> None:
            async with gate:
                error = await self._ping(row)
            if error is FORGOTTEN:
                if row.uuid not in self._reconnecting:
                    await self._back(row, row.state)
            elif row.state == Status.CONNECTED:
                await self._connected(row, error)
            elif error is None and row.uuid not in self._reconnecting:
                await self._back(row, row.state)

        await asyncio.gather(*(one(r) for r in mine))

    async def _ping(self, row: HostRow) -> str | None:
        """None if the host answered as itself, ``FORGOTTEN`` if its agent no longer knows
        it, else what went wrong."""
        access = access_of(row)
        try:
            reply = await self._agents.call_sync(
                self._backends(row.hypervisor_type).agent_url(access),
                HeartbeatHost(hostUuid=row.uuid),
                HeartbeatHostReply,
                timeout=float(self._gconfig.value(PING_TIMEOUT)),
            )
        except ZCloudError as exc:
            if exc.error.extra.get("httpStatus") == HTTPStatus.NOT_FOUND:
                return FORGOTTEN
            return exc.error.details or exc.error.description
        except Exception as exc:  # a backend that cannot even say where the host is
            return f"{type(exc).__name__}: {exc}"
        if not reply.success:
            return reply.error or "the agent refused the heartbeat"
        if not reply.hostUuid:
            return FORGOTTEN
        if reply.hostUuid != row.uuid:
            return f"the agent at {row.management_ip} serves host {reply.hostUuid}"
        return None

    async def _connected(self, row: HostRow, error: str | None) -> None:
        if error is None:
            self._misses.pop(row.uuid, None)
            return
        misses = self._misses.get(row.uuid, 0) + 1
        self._misses[row.uuid] = misses
        log.info("host.ping_missed", host=row.uuid, misses=misses, error=error)
        if misses < self._gconfig.value(PING_MAX_FAILURE):
            return
        async with self._db.session() as s, s.begin():
            # Connected and free only: an operation that began since the read wins
            done = await s.execute(
                update(HostRow)
                .where(
                    HostRow.uuid == row.uuid,
                    HostRow.state == Status.CONNECTED,
                    HostRow.op_holder.is_(None),
                )
                .values(state=Status.DISCONNECTED, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        self._misses.pop(row.uuid, None)
        if getattr(done, "rowcount", 0) == 1:
            reason = f"{misses} pings missed; last: {error}"
            log.warning("host.disconnected", host=row.uuid, reason=reason)
            await self._event(row.uuid, Status.CONNECTED, Status.DISCONNECTED, reason)
            for extension in self._status_extensions:
                try:
                    await extension.host_disconnected(row.uuid, reason)
                except Exception as exc:
                    log.warning("host.disconnect_extension_failed", host=row.uuid, error=repr(exc))

    async def _back(self, row: HostRow, status: str) -> None:
        """A Disconnected host answers, or an agent forgot its host: reconnect it (the
        handshake decides if it is)."""
        self._reconnecting.add(row.uuid)
        self._misses.pop(row.uuid, None)
        try:
            await self._reconnect(row.uuid)
            log.info("host.reconnected", host=row.uuid, was=status)
            if status != Status.CONNECTED:
                await self._event(row.uuid, status, Status.CONNECTED, "it answers again")
        except Exception as exc:
            log.warning("host.reconnect_failed", host=row.uuid, error=repr(exc))
        finally:
            self._reconnecting.discard(row.uuid)

    async def _event(self, host: str, old: str, new: str, reason: str) -> None:
        try:
            await self._bus.publish(
                HostStatusChanged(
                    hostUuid=host, oldStatus=old, newStatus=new, reason=reason, at=utcnow()
                )
            )
        except Exception as exc:  # the status stands; the event is best effort
            log.warning("host.status_event_failed", host=host, error=repr(exc))
