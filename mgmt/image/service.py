"""Image service: adds images (the ``AddImage`` flow), makes them of volumes and snapshots
(``CreateImageFromVolume``) and changes their state. Update and
delete are the kit's defaults (the delete's cascade gives capacity and quota back and
``ImageRelease`` deletes the bits on the backup storages)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api import ApiCodes, caller_of, not_found
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.db import utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.core.flow import FlowDef
from mgmt.core.messages import Message
from mgmt.core.module import NodeParts
from mgmt.core.resource import canonical_uuid
from mgmt.host import HOST_BACKENDS, connected_hosts, host_disks
from mgmt.image.flows.add import AddImageCtx, Target, UploadSource, add_image_flow
from mgmt.image.flows.upload import create_image_from_volume_flow
from mgmt.image.messages import AddImage, ChangeImageState, CreateImageFromVolume, ImageReply
from mgmt.image.models import ImageRow
from mgmt.image.resources import image_inventory
from mgmt.storage import BACKUP_STORAGE_BACKENDS, backup_storages
from mgmt.volume import image_source

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
        self._from_volume = create_image_from_volume_flow(
            parts.db,
            parts.bus,
            parts.agents,
            self._images,
            parts.settings.node_id,
            max(parts.settings.agent_timeout, DOWNLOAD_TIMEOUT),
        )

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            AddImage: self.add,
            ChangeImageState: self.change_state,
            CreateImageFromVolume: self.create_from_volume,
        }

    def flows(self) -> Sequence[FlowDef[Any]]:
        return (self._add, self._from_volume)

    async def _targets(self, msg: AddImage | CreateImageFromVolume, fmt: str) -> list[Target]:
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
                    installPath=f"{bs.url.rstrip('/')}/{msg.resourceUuid}.{fmt}",
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
            targets=await self._targets(msg, msg.format),
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

    async def create_from_volume(
        self, msg: CreateImageFromVolume, ctx: HandlerContext
    ) -> ImageReply:
        caller = caller_of(msg)
        if not caller.isAdmin:  # the frontend refuses tenants already (admin_only)
            raise PermanentError(error(ApiCodes.PERMISSION_DENIED, "admin only"))
        if (msg.volumeUuid is None) == (msg.volumeSnapshotUuid is None):
            raise _refuse(
                ApiCodes.INVALID_ARGUMENT, "volumeUuid", "give a volume or a snapshot (one)"
            )
        async with self._db.session() as s:
            src = await image_source(
                s, caller, volume_uuid=msg.volumeUuid, snapshot_uuid=msg.volumeSnapshotUuid
            )
            agent = await self._host_agent(s, src.host_uuid) if src.size else ""
        if src.size and not agent:
            raise _refuse(
                ApiCodes.CONFLICT,
                "volumeSnapshotUuid" if msg.volumeSnapshotUuid else "volumeUuid",
                f"the host of volume {src.volume_uuid} is not Connected",
            )
        request = msg if msg.jobUuid else msg.model_copy(update={"jobUuid": ctx.message_id})
        kind = "snapshot" if src.snapshot_uuid else "volume"
        start = AddImageCtx(
            imageUuid=msg.resourceUuid,
            ownerAccountUuid=caller.accountUuid,
            isAdmin=caller.isAdmin,
            url=f"{kind}://{src.snapshot_uuid or src.volume_uuid}",
            format=src.format,
            targets=await self._targets(msg, src.format),
            request=request.model_dump(mode="json"),
            source=UploadSource(
                volumeUuid=src.volume_uuid,
                snapshotUuid=src.snapshot_uuid,
                hostUuid=src.host_uuid or "",
                agentUrl=agent,
                size=src.size,
                mediaType="RootVolumeTemplate"
                if src.volume_type == "Root"
                else "DataVolumeTemplate",
            ),
        )
        await self._engine.run(
            self._from_volume,
            start,
            resource_uuid=msg.resourceUuid,
            flow_uuid=ctx.message_id,
            deadline=ctx.deadline,
        )
        return await self._reply(msg.resourceUuid)

    async def _host_agent(self, s: AsyncSession, host_uuid: str | None) -> str:
        disk = (await host_disks(s, [host_uuid])).get(host_uuid) if host_uuid else None
        if disk is None:
            return ""
        for access in await connected_hosts(s, disk.cluster_uuid):
            if access.hostUuid == host_uuid:
                backend = self._plugins.strategy(HOST_BACKENDS, access.hypervisorType)
                return str(backend.agent_url(access))
        return ""

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
