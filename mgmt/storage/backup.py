"""Backup storage service: add an ImageStore (the ``AddBackupStorage`` flow: connect the
agent, then the row), reconnect, change state, attach to and detach from zones. Update
and delete are the kit's defaults (the zone references and the counter go with it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, update

from mgmt.core.api import caller_of, invalid_field, not_found, require_admin
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.db import utcnow
from mgmt.core.errors import PermanentError
from mgmt.core.flow import FlowDef, FlowFailed
from mgmt.core.messages import Message
from mgmt.core.module import NodeParts
from mgmt.core.resource import canonical_uuid
from mgmt.storage.flows.backup import (
    BackupStorageCtx,
    add_backup_storage_flow,
    reconnect_backup_storage_flow,
)
from mgmt.storage.messages import (
    AddImageStoreBackupStorage,
    AttachBackupStorageToZone,
    BackupStorageReply,
    ChangeBackupStorageState,
    DetachBackupStorageFromZone,
    ReconnectBackupStorage,
    state_event_target,
)
from mgmt.storage.models import BackupStorageRow, BackupStorageZoneRefRow
from mgmt.storage.points import BACKUP_STORAGE_BACKENDS, BackupStorageAccess
from mgmt.storage.resources import bs_inventory


class BackupStorageService:
    def __init__(self, parts: NodeParts) -> None:
        self._db = parts.db
        self._engine = parts.engine
        self._bs = parts.resource("BackupStorage")
        self._zones = parts.types.types["Zone"].table
        plugins = parts.plugins
        self._types = frozenset(plugins.strategy_types(BACKUP_STORAGE_BACKENDS))

        def agent_url(access: BackupStorageAccess) -> str:
            return plugins.strategy(BACKUP_STORAGE_BACKENDS, access.type).agent_url(access)

        self._add = add_backup_storage_flow(
            parts.db, parts.bus, parts.agents, agent_url, self._bs, parts.settings.node_id
        )
        self._reconnect = reconnect_backup_storage_flow(
            parts.db, parts.bus, parts.agents, agent_url
        )

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            AddImageStoreBackupStorage: self.add,
            ReconnectBackupStorage: self.reconnect,
            ChangeBackupStorageState: self.change_state,
            AttachBackupStorageToZone: self.attach_zone,
            DetachBackupStorageFromZone: self.detach_zone,
        }

    def flows(self) -> Sequence[FlowDef[Any]]:
        return (self._add, self._reconnect)

    async def add(self, msg: AddImageStoreBackupStorage, ctx: HandlerContext) -> BackupStorageReply:
        require_admin(caller_of(msg))
        if msg.bs_type not in self._types:
            raise invalid_field("type", f"no backend for {msg.bs_type} backup storage is installed")
        request = msg if msg.jobUuid else msg.model_copy(update={"jobUuid": ctx.message_id})
        start = BackupStorageCtx(
            backupStorageUuid=msg.resourceUuid,
            type=msg.bs_type,
            url=msg.url,
            hostname=msg.hostname,
            request=request.model_dump(mode="json"),
        )
        await self._engine.run(
            self._add,
            start,
            resource_uuid=msg.resourceUuid,
            flow_uuid=ctx.message_id,
            deadline=ctx.deadline,
        )
        return await self._reply(msg.resourceUuid)

    async def reconnect(
        self, msg: ReconnectBackupStorage, ctx: HandlerContext
    ) -> BackupStorageReply:
        caller = caller_of(msg)
        require_admin(caller)
        async with self._db.session() as s:
            row = await self._bs.visible(s, msg.resourceUuid, caller)
            start = BackupStorageCtx(
                backupStorageUuid=row.uuid, type=row.type, url=row.url, hostname=row.hostname
            )
        try:
            await self._engine.run(
                self._reconnect,
                start,
                resource_uuid=row.uuid,
                flow_uuid=ctx.message_id,
                deadline=ctx.deadline,
            )
        except FlowFailed:
            await self._set(row.uuid, status="Disconnected")
            raise
        return await self._reply(row.uuid)

    async def _set(self, uuid: str, **values: Any) -> None:
        async with self._db.session() as s, s.begin():
            await s.execute(
                update(BackupStorageRow)
                .where(BackupStorageRow.uuid == uuid)
                .values(**values, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    async def change_state(
        self, msg: ChangeBackupStorageState, ctx: HandlerContext
    ) -> BackupStorageReply:
        caller = caller_of(msg)
        require_admin(caller)
        async with self._db.session() as s:
            await self._bs.visible(s, msg.resourceUuid, caller)
        await self._set(msg.resourceUuid, state=state_event_target(msg.stateEvent))
        return await self._reply(msg.resourceUuid)

    async def attach_zone(
        self, msg: AttachBackupStorageToZone, ctx: HandlerContext
    ) -> BackupStorageReply:
        caller = caller_of(msg)
        require_admin(caller)
        zone_uuid = canonical_uuid(msg.zoneUuid, field="zoneUuid")
        async with self._db.session() as s, s.begin():
            row = await self._bs.visible(s, msg.resourceUuid, caller)
            if await s.get(self._zones, zone_uuid) is None:
                raise PermanentError(not_found("Zone", zone_uuid, field="zoneUuid"))
            if await s.get(BackupStorageZoneRefRow, (row.uuid, zone_uuid)) is None:
                s.add(
                    BackupStorageZoneRefRow(
                        backup_storage_uuid=row.uuid, zone_uuid=zone_uuid, created_at=utcnow()
                    )
                )
        return await self._reply(msg.resourceUuid)

    async def detach_zone(
        self, msg: DetachBackupStorageFromZone, ctx: HandlerContext
    ) -> BackupStorageReply:
        caller = caller_of(msg)
        require_admin(caller)
        async with self._db.session() as s, s.begin():
            row = await self._bs.visible(s, msg.resourceUuid, caller)
            await s.execute(
                delete(BackupStorageZoneRefRow).where(
                    BackupStorageZoneRefRow.backup_storage_uuid == row.uuid,
                    BackupStorageZoneRefRow.zone_uuid == msg.zoneUuid,
                )
            )
        return await self._reply(msg.resourceUuid)

    async def _reply(self, uuid: str) -> BackupStorageReply:
        async with self._db.session() as s:
            row = await s.get(BackupStorageRow, uuid)
            if row is None:
                raise PermanentError(not_found("BackupStorage", uuid))
            return BackupStorageReply(inventory=await bs_inventory(s, row))
