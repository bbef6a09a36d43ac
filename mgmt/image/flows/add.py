"""AddImage: the image's row (Downloading), every backup storage downloads it, their
capacity and the ``image.size`` quota are taken for its size, it is Ready.

Steps, in order:

1. ``create-row`` — the kit's one create path (UUID claimed, ``image.num`` consumed, row
   inserted) with a reference per backup storage, in one transaction;
2. ``download`` — ``DownloadImage`` on each backup storage's agent (an ``AgentStep``: a
   step resumed after a take-over re-attaches to the task, so the URL is fetched once);
   meanwhile the progress the agent reports is written to the row every second;
3. ``reserve-capacity`` — ``backupStorage.capacity`` of each storage and ``image.size``
   for the size downloaded, one transaction (a full storage fails the add: 409);
4. ``mark-ready`` — the point of no return: Ready, size, md5, references Ready.

A URL that cannot be downloaded (an HTTP error status, refused, unreachable, not a
loopback address on the simulator) is the client's: ``IMAGE.1001``, 400 naming ``url``,
with the agent's reason (the HTTP status) as cause; other failures are 503.

A failure anywhere rolls back to nothing: the bits are deleted on the storages, capacity
and quotas given back, the row, its references and its UUID claim removed — the image is
**removed**, not left Failed; the job carries the reason (the agent's, with the URL's
HTTP status). A node killed mid-flow: the partition's next owner resumes the run
(``Interrupt.RESUME``), so the image ends Ready or cleanly removed, never stuck
Downloading.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import delete, update

from agent.protocol import DeleteImageBits, DownloadImage, DownloadProgress, DownloadProgressReply
from mgmt.core import quota
from mgmt.core.agenttasks import AgentCall, AgentClient, AgentStep
from mgmt.core.bus import Bus, HandlerContext
from mgmt.core.counters import release, reserve
from mgmt.core.db import Database, utcnow
from mgmt.core.errors import PermanentError, ZCloudError, error
from mgmt.core.flow import FlowDef, Interrupt, RetryPolicy, Step, current_attempt
from mgmt.core.logging import get_logger
from mgmt.core.resource import ResourceUuidRow, forget
from mgmt.core.resource.handlers import ResourceHandlers
from mgmt.image.errors import URL_ERRORS, ImageCodes, agent_code, root_details
from mgmt.image.messages import AddImage
from mgmt.image.models import ImageBackupStorageRefRow, ImageRow
from mgmt.image.resources import IMAGE_NUM, IMAGE_SIZE, reservation_id
from mgmt.storage import BS_CAPACITY

log = get_logger(__name__)

ADD_IMAGE = "AddImage"
#: how often the download's progress is read from the agent and written to the row, s
PROGRESS_INTERVAL = 1.0


class Target(BaseModel):
    backupStorageUuid: str
    agentUrl: str
    installPath: str


class UploadSource(BaseModel):
    """An image made from a volume or a snapshot: what its host's agent uploads."""

    volumeUuid: str
    snapshotUuid: str = ""
    hostUuid: str = ""
    agentUrl: str = ""
    #: bytes to copy (0: an empty image, nothing is sent)
    size: int = 0
    mediaType: str = "RootVolumeTemplate"


class AddImageCtx(BaseModel):
    imageUuid: str
    ownerAccountUuid: str
    isAdmin: bool
    url: str
    format: str
    targets: list[Target]
    #: the AddImage message, for the step that makes the row
    request: dict[str, Any]
    size: int = 0
    actualSize: int = 0
    md5Sum: str = ""
    installPaths: dict[str, str] = Field(default_factory=dict)
    #: an image of a volume (``CreateImageFromVolume``); None: downloaded from ``url``
    source: UploadSource | None = None


class CreateImageRow(Step[AddImageCtx]):
    name = "create-row"

    def __init__(self, db: Database, bus: Bus, images: ResourceHandlers[Any, Any], node: str):
        self.db = db
        self.bus = bus
        self.images = images
        self.node = node

    def values(self, ctx: AddImageCtx, msg: Any) -> dict[str, Any]:
        """The row's columns the message does not name as its own."""
        return {"media_type": msg.mediaType, "guest_os_type": msg.guestOsType}

    def message(self, ctx: AddImageCtx) -> Any:
        return AddImage.model_validate(ctx.request)

    async def run(self, ctx: AddImageCtx) -> Any:
        msg = self.message(ctx)
        run_id = current_attempt().flow_uuid
        here = HandlerContext(
            self.bus, run_id, msg.resourceUuid, None, 1, self.bus.partition_of(run_id), self.node
        )
        async with self.db.session() as s, s.begin():
            await self.images.create_row(
                s,
                msg,
                here,
                values={**self.values(ctx, msg), "status": "Downloading", "state": "Enabled"},
            )
            now = utcnow()
            for t in ctx.targets:
                if await s.get(ImageBackupStorageRefRow, (ctx.imageUuid, t.backupStorageUuid)):
                    continue  # a resumed step: made the first time
                s.add(
                    ImageBackupStorageRefRow(
                        image_uuid=ctx.imageUuid,
                        backup_storage_uuid=t.backupStorageUuid,
                        install_path=t.installPath,
                        status="Downloading",
                        agent_url=t.agentUrl,
                        created_at=now,
                    )
                )
        return {"jobUuid": msg.jobUuid}

    async def rollback(self, ctx: AddImageCtx, result: Any) -> None:
        uuid, job = ctx.imageUuid, ctx.request["jobUuid"]
        async with self.db.session() as s, s.begin():
            claim = await s.get(ResourceUuidRow, uuid)
            if claim is None or claim.job_uuid != job:
                return  # never ours (a refused claim): touch nothing of the holder's
            row = await s.get(ImageRow, uuid)
            await s.execute(
                delete(ImageBackupStorageRefRow).where(ImageBackupStorageRefRow.image_uuid == uuid)
            )
            if row is not None:
                await s.execute(delete(ImageRow).where(ImageRow.uuid == uuid))
                await quota.release(s, row.owner_account_uuid, IMAGE_NUM.name, 1)
            await forget(s, [uuid])


class Download(AgentStep[AddImageCtx]):
    """Each backup storage downloads the URL; the agent's progress goes to the row."""

    name = "download"
    # a download that failed is not tried again by itself: the operator sees why
    retry = RetryPolicy(max_attempts=1)

    def __init__(self, agents: AgentClient, db: Database, timeout: float) -> None:
        super().__init__(agents)
        self.db = db
        self.timeout = timeout

    def _call(self, ctx: AddImageCtx, t: Target) -> AgentCall:
        return AgentCall(
            t.agentUrl,
            DownloadImage(
                backupStorageUuid=t.backupStorageUuid,
                imageUuid=ctx.imageUuid,
                url=ctx.url,
                installPath=t.installPath,
                format=ctx.format,
            ),
            t.backupStorageUuid,
            resource_uuid=ctx.imageUuid,
            timeout=self.timeout,
        )

    async def run(self, ctx: AddImageCtx) -> Any:
        done: list[Target] = []
        for t in ctx.targets:
            watch = asyncio.create_task(self._progress(ctx, t), name=f"progress-{ctx.imageUuid}")
            try:
                reply = await self.execute(self._call(ctx, t), purpose=t.backupStorageUuid)
            except ZCloudError as exc:
                # the engine does not roll a failed step back: the storages that have the
                # image already delete it here (a failure is logged; the bits are orphans)
                await self._undo(ctx, done)
                if agent_code(exc.error) in URL_ERRORS:
                    raise PermanentError(
                        error(
                            ImageCodes.URL_FAILED,
                            f"url: {ctx.url} could not be downloaded: {root_details(exc.error)}",
                            field="url",
                        ).caused(exc.error)
                    ) from exc
                raise
            finally:
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch
            done.append(t)
            ctx.size = max(ctx.size, int(reply.get("size", 0)))
            ctx.actualSize = max(ctx.actualSize, int(reply.get("actualSize", 0)))
            ctx.md5Sum = str(reply.get("md5Sum") or ctx.md5Sum)
            ctx.installPaths[t.backupStorageUuid] = str(reply.get("installPath") or t.installPath)
        return {"size": ctx.size, "md5Sum": ctx.md5Sum}

    async def _progress(self, ctx: AddImageCtx, t: Target) -> None:
        """Best effort: a progress read that fails is tried again at the next tick."""
        command = DownloadProgress(backupStorageUuid=t.backupStorageUuid, imageUuid=ctx.imageUuid)
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            try:
                got = await self.agents.call_sync(
                    t.agentUrl, command, DownloadProgressReply, timeout=5.0
                )
                async with self.db.session() as s, s.begin():
                    await s.execute(
                        update(ImageRow)
                        .where(ImageRow.uuid == ctx.imageUuid, ImageRow.status == "Downloading")
                        .values(download_percent=got.percent, downloaded_bytes=got.downloadedBytes)
                    )
            except Exception as exc:
                log.debug("image.progress_unread", image=ctx.imageUuid, error=str(exc))

    async def _undo(self, ctx: AddImageCtx, done: list[Target]) -> None:
        for t in done:
            try:
                await self.execute(self._delete(ctx, t), purpose=f"undo:{t.backupStorageUuid}")
            except Exception as exc:
                log.warning("image.undo_failed", image=ctx.imageUuid, error=str(exc))

    def _delete(self, ctx: AddImageCtx, t: Target) -> AgentCall:
        return AgentCall(
            t.agentUrl,
            DeleteImageBits(
                backupStorageUuid=t.backupStorageUuid,
                imageUuid=ctx.imageUuid,
                installPath=t.installPath,
            ),
            t.backupStorageUuid,
            resource_uuid=ctx.imageUuid,
        )

    async def rollback(self, ctx: AddImageCtx, result: Any) -> None:
        # result is None when the node died inside run(): any storage may have the bits
        for t in ctx.targets:
            await self.execute(self._delete(ctx, t), purpose=t.backupStorageUuid)


class ReserveCapacity(Step[AddImageCtx]):
    """Backup storage capacity and ``image.size`` for the size downloaded, at once."""

    name = "reserve-capacity"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: AddImageCtx) -> Any:
        async with self.db.session() as s, s.begin():
            if ctx.size > 0:
                for t in ctx.targets:
                    await reserve(
                        s,
                        t.backupStorageUuid,
                        BS_CAPACITY,
                        ctx.size,
                        reservation_id(ctx.imageUuid, t.backupStorageUuid),
                    )
                await quota.consume(
                    s, ctx.ownerAccountUuid, IMAGE_SIZE, ctx.size, is_admin=ctx.isAdmin
                )
        return {"quota": ctx.size}

    async def rollback(self, ctx: AddImageCtx, result: Any) -> None:
        async with self.db.session() as s, s.begin():
            gave_back = False
            for t in ctx.targets:
                out = await release(s, reservation_id(ctx.imageUuid, t.backupStorageUuid))
                gave_back = gave_back or out.released
            # the quota moved in the reservations' transaction: given back with them
            if gave_back and ctx.size > 0:
                await quota.release(s, ctx.ownerAccountUuid, IMAGE_SIZE.name, ctx.size)


class MarkReady(Step[AddImageCtx]):
    name = "mark-ready"
    no_rollback = True

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: AddImageCtx) -> Any:
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(ImageRow)
                .where(ImageRow.uuid == ctx.imageUuid)
                .values(
                    status="Ready",
                    size=ctx.size,
                    actual_size=ctx.actualSize,
                    md5_sum=ctx.md5Sum or None,
                    download_percent=100,
                    downloaded_bytes=ctx.size,
                    updated_at=utcnow(),
                )
            )
            for bs, path in ctx.installPaths.items():
                await s.execute(
                    update(ImageBackupStorageRefRow)
                    .where(
                        ImageBackupStorageRefRow.image_uuid == ctx.imageUuid,
                        ImageBackupStorageRefRow.backup_storage_uuid == bs,
                    )
                    .values(status="Ready", install_path=path)
                )
        return None


def add_image_flow(
    db: Database,
    bus: Bus,
    agents: AgentClient,
    images: ResourceHandlers[Any, Any],
    node: str,
    download_timeout: float,
) -> FlowDef[AddImageCtx]:
    return FlowDef(
        ADD_IMAGE,
        AddImageCtx,
        [
            CreateImageRow(db, bus, images, node),
            Download(agents, db, download_timeout),
            ReserveCapacity(db),
            MarkReady(db),
        ],
        on_interrupt=Interrupt.RESUME,
    )
