"""``MountSharedOnJoin``: a host's connect handshake mounts the shared primary storage
(NFS, SharedMountPoint) attached to its cluster (``HOST_CONNECT_EXTENSIONS``).

Runs after ``define-capacity`` in the add and reconnect flows: each storage is mounted
through the host's agent (one task per storage, so a resumed step re-attaches), then the
host is recorded as mounting it (what the storage's delete unmounts) and a storage not yet
Connected gets the size the host reported. A mount that fails fails the handshake: the
storages this step mounted are unmounted again, so an add leaves nothing on the host.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update

from agent.protocol import MountPrimaryStorage, UnmountPrimaryStorage
from mgmt.core.agenttasks import AgentCall, AgentClient, AgentStep
from mgmt.core.counters import get_counter, set_total
from mgmt.core.db import Database, utcnow
from mgmt.core.flow import RetryPolicy, Step
from mgmt.core.logging import get_logger
from mgmt.host import HostBackends, HostConnectCtx, host_disks
from mgmt.storage.capacity import LOCAL, PS_CAPACITY
from mgmt.storage.models import (
    PrimaryStorageClusterRefRow,
    PrimaryStorageHostRefRow,
    PrimaryStorageRow,
)

log = get_logger(__name__)

MOUNT_ROOT = "/opt/zcloud/mnt"


class MountSharedOnJoin(AgentStep[HostConnectCtx]):
    name = "mount-primary-storage"
    retry = RetryPolicy(max_attempts=2, initial_delay=0.5)

    def __init__(self, agents: AgentClient, db: Database, backends: HostBackends) -> None:
        super().__init__(agents)
        self.db = db
        self.backends = backends

    async def _shared(self, ctx: HostConnectCtx) -> list[tuple[str, str, str, str]]:
        """(uuid, type, url, status) of the shared storages of the host's cluster."""
        async with self.db.session() as s:
            host = (await host_disks(s, [ctx.hostUuid])).get(ctx.hostUuid)
            if host is None:
                return []
            rows = await s.execute(
                select(
                    PrimaryStorageRow.uuid,
                    PrimaryStorageRow.type,
                    PrimaryStorageRow.url,
                    PrimaryStorageRow.status,
                )
                .join(
                    PrimaryStorageClusterRefRow,
                    PrimaryStorageClusterRefRow.primary_storage_uuid == PrimaryStorageRow.uuid,
                )
                .where(
                    PrimaryStorageClusterRefRow.cluster_uuid == host.cluster_uuid,
                    PrimaryStorageRow.type != LOCAL,
                )
                .order_by(PrimaryStorageRow.uuid)
            )
            return [(u, t, url, st) for u, t, url, st in rows.all()]

    def _call(self, ctx: HostConnectCtx, ps: str, kind: str, url: str, mount: bool) -> AgentCall:
        agent = self.backends(ctx.hypervisorType).agent_url(ctx.access())
        path = f"{MOUNT_ROOT}/{ps}"
        command = (
            MountPrimaryStorage(
                hostUuid=ctx.hostUuid, primaryStorageUuid=ps, type=kind, url=url, mountPath=path
            )
            if mount
            else UnmountPrimaryStorage(hostUuid=ctx.hostUuid, primaryStorageUuid=ps, mountPath=path)
        )
        return AgentCall(agent, command, ctx.hostUuid)

    async def run(self, ctx: HostConnectCtx) -> Any:
        shared = await self._shared(ctx)
        done: list[str] = []
        for ps, kind, url, status in shared:
            try:
                reply = await self.execute(self._call(ctx, ps, kind, url, True), purpose=ps)
            except Exception:
                for other, okind, ourl, _ in shared:  # the engine does not undo a failed step
                    if other in done:
                        try:
                            await self.execute(
                                self._call(ctx, other, okind, ourl, False), purpose=f"undo:{other}"
                            )
                        except Exception:
                            log.warning("unmount.failed", host=ctx.hostUuid, ps=other)
                raise
            done.append(ps)
            await self._record(ctx, ps, status, reply)
        return {"mounted": done}

    async def _record(
        self, ctx: HostConnectCtx, ps: str, status: str, reply: dict[str, Any]
    ) -> None:
        agent = self.backends(ctx.hypervisorType).agent_url(ctx.access())
        async with self.db.session() as s, s.begin():
            if await s.get(PrimaryStorageHostRefRow, (ps, ctx.hostUuid)) is None:
                s.add(
                    PrimaryStorageHostRefRow(
                        primary_storage_uuid=ps,
                        host_uuid=ctx.hostUuid,
                        agent_url=agent,
                        mount_path=f"{MOUNT_ROOT}/{ps}",
                        created_at=utcnow(),
                    )
                )
            if status != "Connected":  # the first host to reach it tells its size
                total = int(reply.get("totalCapacity", 0))
                if await get_counter(s, ps, PS_CAPACITY) is not None:  # made with the storage
                    await set_total(s, ps, PS_CAPACITY, total)
                await s.execute(
                    update(PrimaryStorageRow)
                    .where(PrimaryStorageRow.uuid == ps)
                    .values(
                        status="Connected",
                        total_physical_capacity=total,
                        available_physical_capacity=int(reply.get("availableCapacity", 0)),
                        updated_at=utcnow(),
                    )
                )

    async def rollback(self, ctx: HostConnectCtx, result: Any) -> None:
        # an add rolled back: the host lets go of what it mounted (None: it may have)
        for ps, kind, url, _ in await self._shared(ctx):
            await self.execute(self._call(ctx, ps, kind, url, False), purpose=ps)


class SharedStorageOnJoin:
    """``HOST_CONNECT_EXTENSIONS``: the step above, in every connect handshake."""

    def __init__(self, agents: AgentClient, db: Database) -> None:
        self._agents, self._db = agents, db

    def connect_steps(self, backends: HostBackends) -> Sequence[Step[HostConnectCtx]]:
        return [MountSharedOnJoin(self._agents, self._db, backends)]
