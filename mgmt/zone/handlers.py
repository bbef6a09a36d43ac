"""Zone service handlers: thin — check the caller may act, change the rows, reply.

A resource another account owns is reported as not found: a tenant cannot learn that it
exists. Creates are idempotent on the resource UUID (a redelivered create returns the row).
Deletes run the cascade flow, keyed by the API job, so a node dying mid-delete is resumed.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api import ApiCodes, CallerContext, caller_of, not_found
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.cascade import CascadeCtx, CascadeDeleter
from mgmt.core.db import Database, utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.core.flow import FlowDef, FlowEngine
from mgmt.core.messages import Message
from mgmt.core.resource import insert_or_get
from mgmt.zone.messages import (
    ClusterInventory,
    ClusterReply,
    CreateCluster,
    CreateZone,
    DeleteCluster,
    DeletedReply,
    DeleteZone,
    UpdateCluster,
    UpdateZone,
    ZoneInventory,
    ZoneReply,
)
from mgmt.zone.models import ClusterRow, ZoneRow

Row = TypeVar("Row", ZoneRow, ClusterRow)


def zone_inventory(row: ZoneRow) -> ZoneInventory:
    return ZoneInventory(
        uuid=row.uuid,
        name=row.name,
        description=row.description,
        state=row.state,
        ownerAccountUuid=row.owner_account_uuid,
        createDate=row.created_at,
        lastOpDate=row.updated_at,
    )


def cluster_inventory(row: ClusterRow) -> ClusterInventory:
    return ClusterInventory(
        uuid=row.uuid,
        name=row.name,
        description=row.description,
        state=row.state,
        hypervisorType=row.hypervisor_type,
        zoneUuid=row.zone_uuid,
        ownerAccountUuid=row.owner_account_uuid,
        createDate=row.created_at,
        lastOpDate=row.updated_at,
    )


async def _visible(
    s: AsyncSession, model: type[Row], uuid: str, caller: CallerContext, *, what: str
) -> Row:
    row = await s.get(model, uuid)
    if row is None or not (caller.isAdmin or row.owner_account_uuid == caller.accountUuid):
        raise PermanentError(not_found(what, uuid))
    return row


class ZoneService:
    def __init__(self, db: Database, engine: FlowEngine, cascade: FlowDef[CascadeCtx]) -> None:
        self._db = db
        self._deleter = CascadeDeleter(engine, cascade)

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            CreateZone: self.create_zone,
            UpdateZone: self.update_zone,
            DeleteZone: self.delete_zone,
            CreateCluster: self.create_cluster,
            UpdateCluster: self.update_cluster,
            DeleteCluster: self.delete_cluster,
        }

    async def create_zone(self, msg: CreateZone, ctx: HandlerContext) -> ZoneReply:
        now = utcnow()

        def build(caller: CallerContext) -> ZoneRow:
            return ZoneRow(
                uuid=msg.resourceUuid,
                name=msg.name,
                description=msg.description,
                state="Enabled",
                owner_account_uuid=caller.accountUuid,
                created_at=now,
                updated_at=now,
            )

        async with self._db.session() as s, s.begin():
            row = await insert_or_get(s, ZoneRow, msg, ctx, build=build, quota_name="zone.num")
        return ZoneReply(inventory=zone_inventory(row))

    async def update_zone(self, msg: UpdateZone, ctx: HandlerContext) -> ZoneReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            row = await _visible(s, ZoneRow, msg.resourceUuid, caller, what="Zone")
            _apply(row, msg.name, msg.description, msg.state)
            row.updated_at = utcnow()
        return ZoneReply(inventory=zone_inventory(row))

    async def delete_zone(self, msg: DeleteZone, ctx: HandlerContext) -> DeletedReply:
        async with self._db.session() as s:
            await _visible(s, ZoneRow, msg.resourceUuid, caller_of(msg), what="Zone")
        return await self._delete("Zone", msg.resourceUuid, msg.deleteMode, msg.jobUuid, ctx)

    async def create_cluster(self, msg: CreateCluster, ctx: HandlerContext) -> ClusterReply:
        caller = caller_of(msg)
        now = utcnow()

        def build(caller: CallerContext) -> ClusterRow:
            return ClusterRow(
                uuid=msg.resourceUuid,
                name=msg.name,
                description=msg.description,
                state="Enabled",
                hypervisor_type=msg.hypervisorType,
                zone_uuid=msg.zoneUuid,
                owner_account_uuid=caller.accountUuid,
                created_at=now,
                updated_at=now,
            )

        async with self._db.session() as s, s.begin():
            zone = await s.get(ZoneRow, msg.zoneUuid)
            if zone is None or not (
                caller.isAdmin or zone.owner_account_uuid == caller.accountUuid
            ):
                raise PermanentError(
                    error(
                        ApiCodes.INVALID_ARGUMENT,
                        f"zoneUuid: zone {msg.zoneUuid} not found",
                        field="zoneUuid",
                    )
                )
            row = await insert_or_get(
                s,
                ClusterRow,
                msg,
                ctx,
                build=build,
                quota_name="cluster.num",
            )
        return ClusterReply(inventory=cluster_inventory(row))

    async def update_cluster(self, msg: UpdateCluster, ctx: HandlerContext) -> ClusterReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            row = await _visible(s, ClusterRow, msg.resourceUuid, caller, what="Cluster")
            _apply(row, msg.name, msg.description, msg.state)
            row.updated_at = utcnow()
        return ClusterReply(inventory=cluster_inventory(row))

    async def delete_cluster(self, msg: DeleteCluster, ctx: HandlerContext) -> DeletedReply:
        async with self._db.session() as s:
            await _visible(s, ClusterRow, msg.resourceUuid, caller_of(msg), what="Cluster")
        return await self._delete("Cluster", msg.resourceUuid, msg.deleteMode, msg.jobUuid, ctx)

    async def _delete(
        self, type_name: str, uuid: str, mode: str, job: str, ctx: HandlerContext
    ) -> DeletedReply:
        deleted = await self._deleter.delete(
            type_name, uuid, mode, run_id=job or ctx.message_id, deadline=ctx.deadline
        )
        return DeletedReply(deleted=deleted)


def _apply(
    row: ZoneRow | ClusterRow, name: str | None, description: str | None, state: str | None
) -> None:
    if name is not None:
        row.name = name
    if description is not None:
        row.description = description
    if state is not None:
        row.state = state
