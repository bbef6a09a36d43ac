"""Primary storage service: add (one API per type), attach to and detach from clusters,
change state. Update and delete are the kit's defaults (the cascade takes the cluster
references and the capacity counter along).

Attaching a LocalStorage adds the cluster's hosts' disks to its capacity, in one
transaction. Attaching a shared one (NFS, SharedMountPoint) is the durable flow
``AttachSharedPrimaryStorage``: the cluster's Connected hosts mount it through their
hypervisor's agent (``HOST_BACKENDS``) and report its size.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api import (
    ApiCodes,
    caller_of,
    invalid_field,
    not_found,
    require_admin,
)
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.db import utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.core.flow import FlowDef, FlowFailed
from mgmt.core.messages import Message
from mgmt.core.module import NodeParts
from mgmt.core.resource import canonical_uuid
from mgmt.host import HOST_BACKENDS, HostAccess, hosts_in_clusters
from mgmt.storage.capacity import LOCAL, PS_CAPACITY, ensure_counter, sync_local
from mgmt.storage.flows.mount import MountCtx, MountHost, attach_shared_flow, detach_shared_flow
from mgmt.storage.messages import (
    AddLocalPrimaryStorage,
    AddNfsPrimaryStorage,
    AddPrimaryStorage,
    AddSharedMountPointPrimaryStorage,
    AttachPrimaryStorageToCluster,
    ChangePrimaryStorageState,
    DetachPrimaryStorageFromCluster,
    PrimaryStorageInventory,
    PrimaryStorageReply,
    state_event_target,
)
from mgmt.storage.models import (
    PrimaryStorageClusterRefRow,
    PrimaryStorageHostRefRow,
    PrimaryStorageRow,
)
from mgmt.storage.points import PRIMARY_STORAGE_DETACH_CHECKS
from mgmt.storage.resources import ps_inventory

log = logging.getLogger(__name__)

#: where hosts mount a shared primary storage
MOUNT_ROOT = "/opt/zcloud/mnt"


class PrimaryStorageService:
    def __init__(self, parts: NodeParts) -> None:
        self._db = parts.db
        self._bus = parts.bus
        self._engine = parts.engine
        self._ps = parts.resource("PrimaryStorage")
        self._clusters = parts.types.types["Cluster"]
        self._plugins = parts.plugins
        self._attach = attach_shared_flow(parts.db, parts.bus, parts.agents)
        self._detach = detach_shared_flow(parts.agents)

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            AddLocalPrimaryStorage: self.add,
            AddNfsPrimaryStorage: self.add,
            AddSharedMountPointPrimaryStorage: self.add,
            AttachPrimaryStorageToCluster: self.attach_cluster,
            DetachPrimaryStorageFromCluster: self.detach_cluster,
            ChangePrimaryStorageState: self.change_state,
        }

    def flows(self) -> Sequence[FlowDef[Any]]:
        return (self._attach, self._detach)

    async def _inventory(self, s: AsyncSession, row: PrimaryStorageRow) -> PrimaryStorageInventory:
        return await ps_inventory(s, row)

    async def add(self, msg: AddPrimaryStorage, ctx: HandlerContext) -> PrimaryStorageReply:
        require_admin(caller_of(msg))
        local = msg.ps_type == LOCAL
        async with self._db.session() as s, s.begin():
            row = await self._ps.create_row(
                s,
                msg,
                ctx,
                values={
                    "type": msg.ps_type,
                    # a LocalStorage is its hosts' disks: nothing to reach; a shared one is
                    # Connected once hosts mounted it
                    "status": "Connected" if local else "Disconnected",
                    "state": "Enabled",
                },
            )
            await ensure_counter(
                s,
                row.uuid,
                PS_CAPACITY,
                0,
                partition=self._bus.partition_of(row.uuid),
                owner_type="PrimaryStorage",
            )
            return PrimaryStorageReply(inventory=await self._inventory(s, row))

    async def _cluster_of_zone(self, s: AsyncSession, cluster_uuid: str, zone_uuid: str) -> Any:
        cluster = await s.get(self._clusters.table, cluster_uuid)
        if cluster is None:
            raise PermanentError(not_found("Cluster", cluster_uuid, field="clusterUuid"))
        if self._clusters.to_inventory(cluster).zoneUuid != zone_uuid:
            raise invalid_field("clusterUuid", f"cluster {cluster_uuid} is in another zone")
        return cluster

    async def _mount_ctx(
        self, s: AsyncSession, row: PrimaryStorageRow, cluster_uuid: str
    ) -> MountCtx:
        hosts = [h for h in await hosts_in_clusters(s, [cluster_uuid]) if h.status == "Connected"]
        mounted: list[MountHost] = []
        for h in hosts:
            backend = self._plugins.strategy(HOST_BACKENDS, h.hypervisor_type)
            access = HostAccess(
                hostUuid=h.uuid, managementIp=h.management_ip, hypervisorType=h.hypervisor_type
            )
            mounted.append(MountHost(hostUuid=h.uuid, agentUrl=backend.agent_url(access)))
        return MountCtx(
            primaryStorageUuid=row.uuid,
            clusterUuid=cluster_uuid,
            type=row.type,
            url=row.url,
            mountPath=f"{MOUNT_ROOT}/{row.uuid}",
            hosts=mounted,
        )

    async def attach_cluster(
        self, msg: AttachPrimaryStorageToCluster, ctx: HandlerContext
    ) -> PrimaryStorageReply:
        caller = caller_of(msg)
        require_admin(caller)
        cluster_uuid = canonical_uuid(msg.clusterUuid, field="clusterUuid")
        async with self._db.session() as s, s.begin():
            row = await self._ps.visible(s, msg.resourceUuid, caller)
            await self._cluster_of_zone(s, cluster_uuid, row.zone_uuid)
            attached = await s.get(PrimaryStorageClusterRefRow, (row.uuid, cluster_uuid))
            if row.type == LOCAL and attached is None:
                s.add(
                    PrimaryStorageClusterRefRow(
                        primary_storage_uuid=row.uuid,
                        cluster_uuid=cluster_uuid,
                        created_at=utcnow(),
                    )
                )
                await s.flush()
                await sync_local(s, [row.uuid])
            start = await self._mount_ctx(s, row, cluster_uuid) if row.type != LOCAL else None
        if start is not None and attached is None:
            await self._engine.run(
                self._attach,
                start,
                resource_uuid=row.uuid,
                flow_uuid=ctx.message_id,
                deadline=ctx.deadline,
            )
        return await self._reply(row.uuid)

    async def detach_cluster(
        self, msg: DetachPrimaryStorageFromCluster, ctx: HandlerContext
    ) -> PrimaryStorageReply:
        caller = caller_of(msg)
        require_admin(caller)
        cluster_uuid = canonical_uuid(msg.clusterUuid, field="clusterUuid")
        async with self._db.session() as s, s.begin():
            row = await self._ps.visible(s, msg.resourceUuid, caller)
            reasons = [
                reason
                for check in self._plugins.observers(PRIMARY_STORAGE_DETACH_CHECKS)
                for reason in await check.detach_refusals(s, row.uuid, cluster_uuid)
            ]
            if reasons:
                raise PermanentError(
                    error(
                        ApiCodes.CONFLICT,
                        f"primary storage {row.uuid} cannot leave cluster {cluster_uuid}: "
                        + "; ".join(reasons),
                        reasons=reasons,
                    )
                )
            gone = await s.execute(
                delete(PrimaryStorageClusterRefRow).where(
                    PrimaryStorageClusterRefRow.primary_storage_uuid == row.uuid,
                    PrimaryStorageClusterRefRow.cluster_uuid == cluster_uuid,
                )
            )
            if row.type == LOCAL:
                await sync_local(s, [row.uuid])
            cluster_hosts = [h.uuid for h in await hosts_in_clusters(s, [cluster_uuid])]
            await s.execute(
                delete(PrimaryStorageHostRefRow).where(
                    PrimaryStorageHostRefRow.primary_storage_uuid == row.uuid,
                    PrimaryStorageHostRefRow.host_uuid.in_(cluster_hosts),
                )
            )
            unmount = (
                await self._mount_ctx(s, row, cluster_uuid)
                if row.type != LOCAL and getattr(gone, "rowcount", 0)
                else None
            )
        if unmount is not None and unmount.hosts:
            try:
                await self._engine.run(
                    self._detach,
                    unmount,
                    resource_uuid=row.uuid,
                    flow_uuid=ctx.message_id,
                    deadline=ctx.deadline,
                )
            except FlowFailed:  # detached already; a host keeps a stale mount until it reconnects
                log.exception("unmount of %s from cluster %s failed", row.uuid, cluster_uuid)
        return await self._reply(row.uuid)

    async def change_state(
        self, msg: ChangePrimaryStorageState, ctx: HandlerContext
    ) -> PrimaryStorageReply:
        caller = caller_of(msg)
        require_admin(caller)
        async with self._db.session() as s, s.begin():
            row = await self._ps.visible(s, msg.resourceUuid, caller)
            await s.execute(
                update(PrimaryStorageRow)
                .where(PrimaryStorageRow.uuid == row.uuid)
                .values(state=state_event_target(msg.stateEvent), updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        return await self._reply(msg.resourceUuid)

    async def _reply(self, uuid: str) -> PrimaryStorageReply:
        async with self._db.session() as s:
            row = await s.get(PrimaryStorageRow, uuid)
            if row is None:  # deleted while the operation ran
                raise PermanentError(not_found("PrimaryStorage", uuid))
            return PrimaryStorageReply(inventory=await self._inventory(s, row))
