"""Mounting a shared primary storage (NFS, SharedMountPoint) on a cluster's hosts.

``AttachSharedPrimaryStorage``: ``mount-on-hosts`` (each Connected host of the cluster
mounts it through its agent, one task per host; the reported size is the storage's),
then ``record-attachment`` (the point of no return: the cluster reference, the capacity
counter at the size reported, status Connected, in one transaction). A host that fails
fails the attach: the hosts that mounted it unmount it (the step's rollback) and no
reference is left. ``DetachSharedPrimaryStorage`` unmounts it from the hosts after the
reference is gone. Every agent command is an ``AgentStep`` task: a step resumed after a
take-over re-attaches, never mounts twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent.protocol import MountPrimaryStorage, UnmountPrimaryStorage
from mgmt.core.agenttasks import AgentCall, AgentClient, AgentStep
from mgmt.core.bus import Bus
from mgmt.core.cascade import Release
from mgmt.core.db import Database, utcnow
from mgmt.core.flow import FlowDef, Interrupt, RetryPolicy, Step
from mgmt.core.logging import get_logger
from mgmt.storage.capacity import PS_CAPACITY, ensure_counter
from mgmt.storage.models import (
    PrimaryStorageClusterRefRow,
    PrimaryStorageHostRefRow,
    PrimaryStorageRow,
)

log = get_logger(__name__)

ATTACH_SHARED = "AttachSharedPrimaryStorage"
DETACH_SHARED = "DetachSharedPrimaryStorage"
RELEASE_SHARED = "ReleaseSharedPrimaryStorage"

#: a hung agent costs a timeout per attempt: two, so a transient failure gets a retry
MOUNT_RETRY = RetryPolicy(max_attempts=2, initial_delay=0.5)


class MountHost(BaseModel):
    hostUuid: str
    agentUrl: str


class MountCtx(BaseModel):
    primaryStorageUuid: str
    clusterUuid: str
    type: str
    url: str
    mountPath: str
    hosts: list[MountHost] = Field(default_factory=list)
    totalCapacity: int = 0
    availableCapacity: int = 0


class MountOnHosts(AgentStep[MountCtx]):
    name = "mount-on-hosts"
    retry = MOUNT_RETRY

    def __init__(self, agents: AgentClient) -> None:
        super().__init__(agents)

    def _mount(self, ctx: MountCtx, host: MountHost) -> AgentCall:
        return AgentCall(
            host.agentUrl,
            MountPrimaryStorage(
                hostUuid=host.hostUuid,
                primaryStorageUuid=ctx.primaryStorageUuid,
                type=ctx.type,
                url=ctx.url,
                mountPath=ctx.mountPath,
            ),
            host.hostUuid,
        )

    def _unmount(self, ctx: MountCtx, host: MountHost) -> AgentCall:
        return AgentCall(
            host.agentUrl,
            UnmountPrimaryStorage(
                hostUuid=host.hostUuid,
                primaryStorageUuid=ctx.primaryStorageUuid,
                mountPath=ctx.mountPath,
            ),
            host.hostUuid,
        )

    async def run(self, ctx: MountCtx) -> Any:
        totals: list[int] = []
        availables: list[int] = []
        mounted: list[MountHost] = []
        try:
            for host in ctx.hosts:
                reply = await self.execute(self._mount(ctx, host), purpose=host.hostUuid)
                mounted.append(host)
                totals.append(int(reply.get("totalCapacity", 0)))
                availables.append(int(reply.get("availableCapacity", 0)))
        except Exception:
            # a failed step is not rolled back by the engine: the hosts that did mount it
            # let go of it here (best effort: a stale mount is harmless and is mounted
            # again by the next attach)
            for host in mounted:
                try:
                    await self.execute(self._unmount(ctx, host), purpose=f"undo:{host.hostUuid}")
                except Exception:
                    log.warning("unmount.failed", host=host.hostUuid, ps=ctx.primaryStorageUuid)
            raise
        if totals:  # one storage seen by every host: the smallest report is the safe one
            ctx.totalCapacity, ctx.availableCapacity = min(totals), min(availables)
        return {"mounted": [h.hostUuid for h in ctx.hosts]}

    async def rollback(self, ctx: MountCtx, result: Any) -> None:
        # result is None when the node died inside run(): any host may have mounted it
        for host in ctx.hosts:
            await self.execute(self._unmount(ctx, host), purpose=host.hostUuid)


class RecordAttachment(Step[MountCtx]):
    """The point of no return: the reference, the capacity and Connected, at once."""

    name = "record-attachment"
    no_rollback = True

    def __init__(self, db: Database, bus: Bus) -> None:
        self.db = db
        self.bus = bus

    async def run(self, ctx: MountCtx) -> Any:
        async with self.db.session() as s, s.begin():
            row = await s.get(PrimaryStorageRow, ctx.primaryStorageUuid)
            if row is None:  # deleted meanwhile: nothing to record
                return None
            if (
                await s.get(PrimaryStorageClusterRefRow, (ctx.primaryStorageUuid, ctx.clusterUuid))
                is None
            ):
                s.add(
                    PrimaryStorageClusterRefRow(
                        primary_storage_uuid=ctx.primaryStorageUuid,
                        cluster_uuid=ctx.clusterUuid,
                        created_at=utcnow(),
                    )
                )
            for host in ctx.hosts:  # what a delete of the storage unmounts
                if await s.get(PrimaryStorageHostRefRow, (ctx.primaryStorageUuid, host.hostUuid)):
                    continue
                s.add(
                    PrimaryStorageHostRefRow(
                        primary_storage_uuid=ctx.primaryStorageUuid,
                        host_uuid=host.hostUuid,
                        agent_url=host.agentUrl,
                        mount_path=ctx.mountPath,
                        created_at=utcnow(),
                    )
                )
            values: dict[str, Any] = {"updated_at": utcnow()}
            if ctx.hosts:
                values.update(
                    status="Connected",
                    total_physical_capacity=ctx.totalCapacity,
                    available_physical_capacity=ctx.availableCapacity,
                )
                await ensure_counter(
                    s,
                    ctx.primaryStorageUuid,
                    PS_CAPACITY,
                    ctx.totalCapacity,
                    partition=self.bus.partition_of(ctx.primaryStorageUuid),
                    owner_type="PrimaryStorage",
                )
            await s.execute(
                update(PrimaryStorageRow)
                .where(PrimaryStorageRow.uuid == ctx.primaryStorageUuid)
                .values(**values)
            )
        return None


class UnmountFromHosts(MountOnHosts):
    """Detach: every host lets go of it (the reference is gone already)."""

    name = "unmount-from-hosts"

    async def run(self, ctx: MountCtx) -> Any:
        for host in ctx.hosts:
            await self.execute(self._unmount(ctx, host), purpose=host.hostUuid)
        return None

    async def rollback(self, ctx: MountCtx, result: Any) -> None:
        return None


def attach_shared_flow(db: Database, bus: Bus, agents: AgentClient) -> FlowDef[MountCtx]:
    return FlowDef(
        ATTACH_SHARED,
        MountCtx,
        [MountOnHosts(agents), RecordAttachment(db, bus)],
        on_interrupt=Interrupt.RESUME,
    )


def detach_shared_flow(agents: AgentClient, name: str = DETACH_SHARED) -> FlowDef[MountCtx]:
    return FlowDef(name, MountCtx, [UnmountFromHosts(agents)], on_interrupt=Interrupt.RESUME)


class PrimaryStorageRelease:
    """``CASCADE_RELEASES`` of PrimaryStorage: before a shared primary storage's rows go,
    the hosts that mounted it unmount it (flow ``ReleaseSharedPrimaryStorage``; a failure
    is retried by the GC queue)."""

    type_name = "PrimaryStorage"

    def __init__(self, agents: AgentClient) -> None:
        self._flow = detach_shared_flow(agents, RELEASE_SHARED)
        self.flows: Sequence[FlowDef[Any]] = (self._flow,)

    async def releases(self, session: AsyncSession, uuids: Sequence[str]) -> Sequence[Release]:
        rows = await session.execute(
            select(PrimaryStorageHostRefRow, PrimaryStorageRow.type, PrimaryStorageRow.url)
            .join(
                PrimaryStorageRow,
                PrimaryStorageRow.uuid == PrimaryStorageHostRefRow.primary_storage_uuid,
            )
            .where(PrimaryStorageHostRefRow.primary_storage_uuid.in_(list(uuids)))
            # a resumed release step numbers its runs the same
            .order_by(
                PrimaryStorageHostRefRow.primary_storage_uuid, PrimaryStorageHostRefRow.host_uuid
            )
        )
        by_ps: dict[str, MountCtx] = {}
        for ref, kind, url in rows.all():
            ctx = by_ps.setdefault(
                ref.primary_storage_uuid,
                MountCtx(
                    primaryStorageUuid=ref.primary_storage_uuid,
                    clusterUuid="",
                    type=kind,
                    url=url,
                    mountPath=ref.mount_path,
                ),
            )
            ctx.hosts.append(MountHost(hostUuid=ref.host_uuid, agentUrl=ref.agent_url))
        return [Release(self._flow, ctx) for ctx in by_ps.values()]
