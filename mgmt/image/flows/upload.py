"""CreateImageFromVolume: AddImage's recipe with an upload in place of the download.

``create-row`` (the kit's one create path: UUID claimed, ``image.num`` consumed; the
row's URL names its source, ``volume://<uuid>`` or ``snapshot://<uuid>``; a root
volume's image is a RootVolumeTemplate, a data volume's a DataVolumeTemplate) →
``upload`` (``UploadVolume`` on the volume's host's agent, once per backup storage; an
empty source sends nothing) → ``reserve-capacity`` → ``mark-ready``, the last two
AddImage's own. A failure anywhere removes the image: the copies deleted on the backup
storages, capacity and quotas given back, no row and no UUID claim left.
"""

from __future__ import annotations

from typing import Any

from agent.protocol import UploadVolume
from mgmt.core.agenttasks import AgentCall, AgentClient
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.core.errors import ZCloudError
from mgmt.core.flow import FlowDef, Interrupt
from mgmt.core.resource.handlers import ResourceHandlers
from mgmt.image.flows.add import (
    AddImageCtx,
    CreateImageRow,
    Download,
    MarkReady,
    ReserveCapacity,
    Target,
)
from mgmt.image.messages import CreateImageFromVolume

CREATE_IMAGE_FROM_VOLUME = "CreateImageFromVolume"


class CreateImageFromVolumeRow(CreateImageRow):
    def message(self, ctx: AddImageCtx) -> Any:
        return CreateImageFromVolume.model_validate(ctx.request)

    def values(self, ctx: AddImageCtx, msg: Any) -> dict[str, Any]:
        return {
            "media_type": ctx.source.mediaType if ctx.source else "RootVolumeTemplate",
            "guest_os_type": msg.guestOsType,
            "url": ctx.url,
            "format": ctx.format,
        }


class Upload(Download):
    """Each backup storage gets the volume's bytes from its host's agent."""

    name = "upload"

    def _upload(self, ctx: AddImageCtx, t: Target) -> AgentCall:
        src = ctx.source
        assert src is not None
        cmd = UploadVolume(
            volumeUuid=src.volumeUuid,
            snapshotUuid=src.snapshotUuid,
            imageUuid=ctx.imageUuid,
            backupStorageUuid=t.backupStorageUuid,
            installPath=t.installPath,
            size=max(src.size, 1),
        )
        return AgentCall(
            src.agentUrl, cmd, src.hostUuid, resource_uuid=ctx.imageUuid, timeout=self.timeout
        )

    async def run(self, ctx: AddImageCtx) -> Any:
        src = ctx.source
        assert src is not None
        if src.size == 0:  # nothing to copy: an empty image
            return {"size": 0, "md5Sum": ""}
        done: list[Target] = []
        for t in ctx.targets:
            try:
                reply = await self.execute(self._upload(ctx, t), purpose=t.backupStorageUuid)
            except ZCloudError:
                # the engine does not roll a failed step back: undo the copies made
                await self._undo(ctx, done)
                raise
            done.append(t)
            ctx.size = max(ctx.size, int(reply.get("size", 0)))
            ctx.actualSize = max(ctx.actualSize, int(reply.get("actualSize", 0)))
            ctx.md5Sum = str(reply.get("md5Sum") or ctx.md5Sum)
            ctx.installPaths[t.backupStorageUuid] = str(reply.get("installPath") or t.installPath)
        return {"size": ctx.size, "md5Sum": ctx.md5Sum}

    async def rollback(self, ctx: AddImageCtx, result: Any) -> None:
        if ctx.source is not None and ctx.source.size == 0:
            return
        await super().rollback(ctx, result)


def create_image_from_volume_flow(
    db: Database,
    bus: Bus,
    agents: AgentClient,
    images: ResourceHandlers[Any, Any],
    node: str,
    timeout: float,
) -> FlowDef[AddImageCtx]:
    return FlowDef(
        CREATE_IMAGE_FROM_VOLUME,
        AddImageCtx,
        [
            CreateImageFromVolumeRow(db, bus, images, node),
            Upload(agents, db, timeout),
            ReserveCapacity(db),
            MarkReady(db),
        ],
        on_interrupt=Interrupt.RESUME,
    )
