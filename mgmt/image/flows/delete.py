"""``ImageRelease`` (``CASCADE_RELEASES``): before an image's rows go, each backup storage
it is on deletes its bits through its agent (flow ``DeleteImageFromBackupStorage``, one
per storage; a failure is retried by the GC queue, so no image is left on a storage
unseen)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.protocol import DeleteImageBits
from mgmt.core.agenttasks import AgentCall, AgentClient, AgentStep
from mgmt.core.cascade import Release
from mgmt.core.flow import FlowDef, Interrupt
from mgmt.image.models import ImageBackupStorageRefRow


class DeleteBitsCtx(BaseModel):
    imageUuid: str
    backupStorageUuid: str
    agentUrl: str
    installPath: str


class DeleteOnBackupStorage(AgentStep[DeleteBitsCtx]):
    name = "delete-on-backup-storage"

    def command(self, ctx: DeleteBitsCtx) -> AgentCall:
        return AgentCall(
            ctx.agentUrl,
            DeleteImageBits(
                backupStorageUuid=ctx.backupStorageUuid,
                imageUuid=ctx.imageUuid,
                installPath=ctx.installPath,
            ),
            ctx.backupStorageUuid,
        )


def delete_bits_flow(agents: AgentClient) -> FlowDef[DeleteBitsCtx]:
    return FlowDef(
        "DeleteImageFromBackupStorage",
        DeleteBitsCtx,
        [DeleteOnBackupStorage(agents)],
        on_interrupt=Interrupt.RESUME,
    )


class ImageRelease:
    type_name = "Image"

    def __init__(self, agents: AgentClient) -> None:
        self._flow = delete_bits_flow(agents)
        self.flows: Sequence[FlowDef[Any]] = (self._flow,)

    async def releases(self, session: AsyncSession, uuids: Sequence[str]) -> Sequence[Release]:
        rows = await session.execute(
            select(ImageBackupStorageRefRow)
            .where(ImageBackupStorageRefRow.image_uuid.in_(list(uuids)))
            # a resumed release step numbers its runs the same
            .order_by(
                ImageBackupStorageRefRow.image_uuid, ImageBackupStorageRefRow.backup_storage_uuid
            )
        )
        return [
            Release(
                self._flow,
                DeleteBitsCtx(
                    imageUuid=r.image_uuid,
                    backupStorageUuid=r.backup_storage_uuid,
                    agentUrl=r.agent_url,
                    installPath=r.install_path,
                ),
            )
            for r in rows.scalars()
            if r.agent_url
        ]
