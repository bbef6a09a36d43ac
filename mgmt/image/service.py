"""Image service: adds images (the ``AddImage`` flow) and changes their state. Update and
delete are the kit's defaults (the delete's cascade gives capacity and quota back and
``ImageRelease`` deletes the bits on the backup storages)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import update

from mgmt.core.api import ApiCodes, caller_of, not_found
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.db import utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.core.flow import FlowDef
from mgmt.core.messages import Message
from mgmt.core.module import NodeParts
from mgmt.core.resource import canonical_uuid
from mgmt.image.flows.add import AddImageCtx, Target, add_image_flow
from mgmt.image.messages import AddImage, ChangeImageState, ImageReply
from mgmt.image.models import ImageRow
from mgmt.image.resources import image_inventory
from mgmt.storage import BACKUP_STORAGE_BACKENDS, backup_storages

#: a download may take long; its task's deadline (the API job's deadline bounds it too)
DOWNLOAD_TIMEOUT = 3 * 3600.0


def _refuse(status: tuple[str, str], field: str, details: str) -> PermanentError:
    return PermanentError(error(status, f"{field}: {details}", field=field))


class ImageService:
    def __init__(self, parts: NodeParts) -> None:
        self._db = parts.db
        self._engine = parts.engine
        self._images = parts.resource("Image")
        self._plugins = parts.plugins
        self._add = add_image_flow(
            parts.db,
            parts.bus,
            parts.agents,
            self._images,
            parts.settings.node_id,
            max(parts.settings.agent_timeout, DOWNLOAD_TIMEOUT),
        )

    def handlers(self) -> dict[type[Message], Handler]:
        return {AddImage: self.add, ChangeImageState: self.change_state}

    def flows(self) -> Sequence[FlowDef[Any]]:
        return (self._add,)

    async def _targets(self, msg: AddImage) -> list[Target]:
        wanted = list(
            dict.fromkeys(
                canonical_uuid(u, field="backupStorageUuids") for u in msg.backupStorageUuids
            )
        )
        async with self._db.session() as s:
            found = await backup_storages(s, wanted)
        targets: list[Target] = []
        for uuid in wanted:
            bs = found.get(uuid)
            if bs is None:
                raise PermanentError(not_found("BackupStorage", uuid, field="backupStorageUuids"))
            if bs.state != "Enabled" or bs.status != "Connected":
                raise _refuse(
                    ApiCodes.CONFLICT,
                    "backupStorageUuids",
                    f"backup storage {uuid} is {bs.state} and {bs.status} "
                    "(Enabled and Connected needed)",
                )
            if bs.type not in self._plugins.strategy_types(BACKUP_STORAGE_BACKENDS):
                raise _refuse(
                    ApiCodes.INVALID_ARGUMENT,
                    "backupStorageUuids",
                    f"no backend for {bs.type} backup storage {uuid}",
                )
            backend = self._plugins.strategy(BACKUP_STORAGE_BACKENDS, bs.type)
            targets.append(
                Target(
                    backupStorageUuid=uuid,
                    agentUrl=backend.agent_url(bs.access()),
                    installPath=f"{bs.url.rstrip('/')}/{msg.resourceUuid}.{msg.format}",
                )
            )
        return targets

    async def add(self, msg: AddImage, ctx: HandlerContext) -> ImageReply:
        caller = caller_of(msg)
        if not caller.isAdmin:  # the frontend refuses tenants already (admin_only)
            raise PermanentError(error(ApiCodes.PERMISSION_DENIED, "admin only"))
        request = msg if msg.jobUuid else msg.model_copy(update={"jobUuid": ctx.message_id})
        start = AddImageCtx(
            imageUuid=msg.resourceUuid,
            ownerAccountUuid=caller.accountUuid,
            isAdmin=caller.isAdmin,
            url=msg.url,
            format=msg.format,
            targets=await self._targets(msg),
            request=request.model_dump(mode="json"),
        )
        await self._engine.run(
            self._add,
            start,
            resource_uuid=msg.resourceUuid,
            flow_uuid=ctx.message_id,  # a redelivered message joins this run
            deadline=ctx.deadline,
        )
        return await self._reply(msg.resourceUuid)

    async def change_state(self, msg: ChangeImageState, ctx: HandlerContext) -> ImageReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            row = await self._images.visible(s, msg.resourceUuid, caller)
            if not self._images.resource.may_act(caller, row):
                raise PermanentError(not_found("Image", msg.resourceUuid))
            await s.execute(
                update(ImageRow)
                .where(ImageRow.uuid == row.uuid)
                .values(state="Enabled" if msg.stateEvent == "enable" else "Disabled")
                .values(updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        return await self._reply(msg.resourceUuid)

    async def _reply(self, uuid: str) -> ImageReply:
        async with self._db.session() as s:
            row = await s.get(ImageRow, uuid)
            if row is None:
                raise PermanentError(not_found("Image", uuid))
            return ImageReply(inventory=await image_inventory(s, row))
