"""The VM state sync at run time: who runs the rules of ``mgmt.vm.reconcile`` and when.

- ``VmSyncer`` (a partition listener of the VM service): every ``vm.sync.interval`` the
  owner of each Connected host runs ``SyncHostVms`` for it (``flows/sync.py``; not for a
  host whose handshake ran within the interval: it read the VMs), and makes
  the VMs of each Disconnected host Unknown (level-triggered: a node that died between a
  host's disconnect and its VMs' is made good by the next owner). When partitions move,
  the new owner syncs the moved hosts from its next round.
- ``AgentReported`` (an agent's change report, routed to the host's owner) runs the same
  flow at once for that host. Runs for one host never overlap on a node: a report that
  comes during a run waits for it, then reads the host again.
- ``VmSyncPlugin``: the connect handshake's ``reconcile-vms`` step (the VMs of a host
  added or reconnected: an Unknown VM takes the state the host reports, a VM the database
  does not know is a stranger) and the pinger's disconnect hook (VMs Unknown at once).
"""

from __future__ import annotations

import asyncio
import uuid as uuidlib
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from mgmt.core.agenttasks import AgentReported
from mgmt.core.bus import Bus, HandlerContext
from mgmt.core.db import Database, utcnow
from mgmt.core.flow import FlowDef, FlowEngine, Step
from mgmt.core.gconfig import GlobalConfigDef, GlobalConfigService
from mgmt.core.logging import get_logger
from mgmt.core.module import PluginParts
from mgmt.core.plugins import Extension
from mgmt.core.scanner import PartitionScanner
from mgmt.host import (
    HOST_CONNECT_EXTENSIONS,
    HOST_STATUS_EXTENSIONS,
    HostAtRunTime,
    HostBackends,
    HostConnectCtx,
    host_disks,
    hosts_at_run_time,
)
from mgmt.vm.flows.sync import VmSyncCtx
from mgmt.vm.reconcile import VmReconciler

log = get_logger(__name__)

SYNC_INTERVAL = GlobalConfigDef(
    "vm",
    "sync.interval",
    int,
    60,
    "Seconds between two syncs of a host's VM states by the host's owner node.",
    ge=1,
    le=3600,
)
#: host syncs in flight at once per node
PARALLEL_SYNCS = 16

#: hypervisor type -> its backend's agent URL of a host
AgentUrlOf = Callable[[HostAtRunTime], str]


class VmSyncer(PartitionScanner):
    name = "vm-syncer"

    def __init__(
        self,
        db: Database,
        bus: Bus,
        gconfig: GlobalConfigService,
        engine: FlowEngine,
        flow: FlowDef[VmSyncCtx],
        reconciler: VmReconciler,
        agent_url: AgentUrlOf,
    ) -> None:
        super().__init__(float(SYNC_INTERVAL.default))
        self._db = db
        self._bus = bus
        self._gconfig = gconfig
        self._engine = engine
        self._flow = flow
        self._reconciler = reconciler
        self._agent_url = agent_url
        self._locks: dict[str, asyncio.Lock] = {}

    async def scan(self, owned: frozenset[int]) -> None:
        self._interval = float(self._gconfig.value(SYNC_INTERVAL))  # from the next wait on
        async with self._db.read_session() as s:
            hosts = await hosts_at_run_time(s)
        # a host whose handshake ran within the interval had its VMs read then
        recent = utcnow() - timedelta(seconds=self._interval)
        mine = [
            h
            for h in hosts
            if self._bus.partition_of(h.access.hostUuid) in owned
            and not (h.status == "Connected" and h.updated_at > recent)
        ]
        self._locks = {
            u: lock for u, lock in self._locks.items() if u in {h.access.hostUuid for h in mine}
        }
        gate = asyncio.Semaphore(PARALLEL_SYNCS)

        async def one(host: HostAtRunTime) -> None:
            async with gate:
                try:
                    await self._one(host, "periodic sync")
                except Exception as exc:  # one host's failure is not the round's
                    log.info("vm.sync_failed", host=host.access.hostUuid, error=repr(exc))

        await asyncio.gather(*(one(h) for h in mine if not h.busy))

    async def _one(self, host: HostAtRunTime, why: str) -> None:
        uuid = host.access.hostUuid
        if host.status != "Connected":
            await self._reconciler.unknown(uuid, f"host {uuid} is {host.status}")
            return
        lock = self._locks.setdefault(uuid, asyncio.Lock())
        async with lock:
            start = VmSyncCtx(
                hostUuid=uuid,
                ownerAccountUuid=host.owner_account_uuid,
                agentUrl=self._agent_url(host),
                why=why,
            )
            await self._engine.run(
                self._flow, start, resource_uuid=uuid, flow_uuid=str(uuidlib.uuid4())
            )

    async def on_report(self, msg: AgentReported, ctx: HandlerContext) -> None:
        """A host's agent reported a change: sync that host now (if it is Connected and
        free; otherwise the report is dropped: the host's next sync or reconnect reads it)."""
        async with self._db.read_session() as s:
            hosts = [h for h in await hosts_at_run_time(s) if h.access.hostUuid == msg.hostUuid]
        if not hosts or hosts[0].busy or hosts[0].status != "Connected":
            log.info("vm.report_ignored", host=msg.hostUuid, report=msg.report)
            return
        await self._one(hosts[0], "change report")


class ReconcileVms(Step[HostConnectCtx]):
    """After ``define-capacity``: the host's report (``sync-vms``) decides the state of its
    Unknown VMs, and names the strangers. Running VMs are the periodic sync's (it reads
    the database before the host, which this step cannot)."""

    name = "reconcile-vms"

    def __init__(self, db: Database, reconciler: VmReconciler) -> None:
        self.db = db
        self.reconciler = reconciler

    async def run(self, ctx: HostConnectCtx) -> Any:
        snapshot = await self.reconciler.snapshot(ctx.hostUuid)
        unknown = {u: v for u, v in snapshot.items() if v[0] == "Unknown"}
        known = set(snapshot) - set(unknown)  # Running/Paused here: not strangers
        async with self.db.session() as s:
            host = (await host_disks(s, [ctx.hostUuid])).get(ctx.hostUuid)
        owner = host.owner_account_uuid if host is not None else ""
        states = {u: p for u, p in ctx.vmStates.items() if u not in known}
        changes = await self.reconciler.apply(
            ctx.hostUuid, owner, states, unknown, why="host reconnected"
        )
        return {"changed": [c.vm_uuid for c in changes]}


class VmSyncPlugin:
    """The VM service's part of the host handshake and of the pinger's disconnect."""

    name = "vm.sync"

    def __init__(self, parts: PluginParts) -> None:
        self._reconciler = VmReconciler(parts.db, parts.bus)
        self._db = parts.db

    def connect_steps(self, backends: HostBackends) -> Sequence[Step[HostConnectCtx]]:
        return (ReconcileVms(self._db, self._reconciler),)

    def extensions(self) -> Sequence[Extension]:
        return [
            Extension(HOST_CONNECT_EXTENSIONS, self),
            Extension(HOST_STATUS_EXTENSIONS, self._reconciler),
        ]
