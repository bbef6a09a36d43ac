"""CreateVolumeSnapshot, RevertVolumeFromSnapshot and DeleteVolumeSnapshot.

Create: ``create-row`` (the kit's one create path: UUID claimed, the volume the caller's
own and Ready — or NotInstantiated: an empty snapshot, size 0, that reserves and sends
nothing —, ``snapshot.volume.num`` consumed; inserted held by this run in Creating)
→ ``reserve-snapshot-capacity`` (the volume's size on every counter the volume holds: its
storage's capacity, and a LocalStorage's host share) → ``take-on-storage``
(``CreateSnapshot`` on the volume's host; undone by ``DeleteSnapshot``) →
``mark-ready``. A failure gives everything back and leaves no snapshot.

Revert (under the snapshot machine: Reverting): ``revert-on-storage`` (``RevertSnapshot``;
the handler checked the volume's VM is Stopped). Delete: ``delete-on-storage``
(``DeleteSnapshot``), then the service deletes the row through the kit's cascade, whose
hook gives back its capacity and quota.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent.protocol import CreateSnapshot, DeleteSnapshot, RevertSnapshot
from mgmt.core import quota
from mgmt.core.agenttasks import AgentCall, AgentClient, AgentStep
from mgmt.core.api import conflict_field
from mgmt.core.bus import Bus, HandlerContext
from mgmt.core.counters import ReservationRow, release, reservation_id, reserve
from mgmt.core.db import Database, utcnow
from mgmt.core.flow import NO_RETRY, FlowDef, Interrupt, Step
from mgmt.core.resource import ResourceUuidRow, forget
from mgmt.core.resource.handlers import ResourceHandlers
from mgmt.core.states import StatefulOperation, finish
from mgmt.volume.flows.steps import held, run_id
from mgmt.volume.messages import CreateVolumeSnapshot
from mgmt.volume.models import VolumeRow, VolumeSnapshotRow
from mgmt.volume.resources import SNAPSHOT_NUM, reservations
from mgmt.volume.states import (
    DELETE,
    REVERT,
    SNAPSHOT_STATES,
    TAKE,
    SnapshotStatus,
    VolumeStatus,
)

_SNAPSHOTTABLE = (VolumeStatus.READY, VolumeStatus.NOT_INSTANTIATED)


class SnapshotCtx(BaseModel):
    """What every snapshot flow carries (persisted after each step: JSON only)."""

    snapshotUuid: str
    volumeUuid: str = ""
    request: dict[str, Any] | None = None
    size: int = 0
    hostUuid: str | None = None
    agentUrl: str = ""
    installPath: str = ""


class CreateSnapshotRow(Step[SnapshotCtx]):
    name = "create-row"

    def __init__(
        self, db: Database, bus: Bus, snapshots: ResourceHandlers[Any, Any], node: str
    ) -> None:
        self.db = db
        self.bus = bus
        self.snapshots = snapshots
        self.node = node

    async def run(self, ctx: SnapshotCtx) -> Any:
        assert ctx.request is not None
        msg = CreateVolumeSnapshot.model_validate(ctx.request)
        run = run_id()
        here = HandlerContext(
            self.bus, run, msg.resourceUuid, None, 1, self.bus.partition_of(run), self.node
        )
        now = await self.db.now()
        async with self.db.session() as s, s.begin():
            volume = await s.get(VolumeRow, msg.volumeUuid)

            async def check(s: AsyncSession) -> None:  # a new row only
                if volume is not None and volume.state not in _SNAPSHOTTABLE:
                    raise conflict_field(
                        "volumeUuid",
                        f"volume {volume.uuid} is {volume.state}, not Ready or NotInstantiated",
                    )

            # a volume with no bits yet (NotInstantiated) gets an empty snapshot: nothing
            # reserved, nothing sent, nothing to revert to
            made = volume is not None and volume.primary_storage_uuid is not None

            row = await self.snapshots.create_row(
                s,
                msg,
                here,
                values={
                    "volume_type": volume.type if volume else "Data",
                    "primary_storage_uuid": volume.primary_storage_uuid if volume else None,
                    "size": volume.size if volume and made else 0,
                    "state": SnapshotStatus.CREATING,
                    "op_holder": run,
                    "op_name": TAKE,
                    "op_from": SnapshotStatus.DELETED,
                    "op_since": now,
                },
                check=check,
            )
            ctx.size = row.size
            ctx.volumeUuid = row.volume_uuid
        return {"jobUuid": msg.jobUuid}

    async def rollback(self, ctx: SnapshotCtx, result: Any) -> None:
        assert ctx.request is not None
        uuid, job = ctx.request["resourceUuid"], ctx.request["jobUuid"]
        async with self.db.session() as s, s.begin():
            claim = await s.get(ResourceUuidRow, uuid)
            if claim is None or claim.job_uuid != job:
                return  # never ours (a refused claim): touch nothing of the holder's
            row = await s.get(VolumeSnapshotRow, uuid)
            if row is not None:
                await quota.release(s, row.owner_account_uuid, SNAPSHOT_NUM.name, 1)
            await s.execute(delete(VolumeSnapshotRow).where(VolumeSnapshotRow.uuid == uuid))
            await forget(s, [uuid])


class ReserveSnapshotCapacity(Step[SnapshotCtx]):
    name = "reserve-snapshot-capacity"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: SnapshotCtx) -> Any:
        rid = reservation_id(run_id(), self.name)
        async with self.db.session() as s, s.begin():
            taken = [i for i, _ in await held(s, rid)]
            if not taken:
                volume = await s.get(VolumeRow, ctx.volumeUuid)
                assert volume is not None
                counters = (
                    await s.execute(
                        select(ReservationRow.owner_uuid, ReservationRow.name)
                        .where(ReservationRow.id.in_(reservations(volume)))
                        .order_by(ReservationRow.id)
                    )
                ).all()
                for j, (owner, name) in enumerate(counters):
                    one = f"{rid}/{j}"
                    await reserve(s, str(owner), str(name), ctx.size, one)
                    taken.append(one)
            await s.execute(
                update(VolumeSnapshotRow)
                .where(VolumeSnapshotRow.uuid == ctx.snapshotUuid)
                .values(reservation=",".join(taken) or None, updated_at=utcnow())
            )
        return {"reservations": taken}

    async def rollback(self, ctx: SnapshotCtx, result: Any) -> None:
        rid = reservation_id(run_id(), self.name)
        async with self.db.session() as s, s.begin():
            ids = set(result["reservations"]) if result else set()
            ids |= {i for i, _ in await held(s, rid)}
            for one in sorted(ids):
                await release(s, one)
            await s.execute(
                update(VolumeSnapshotRow)
                .where(VolumeSnapshotRow.uuid == ctx.snapshotUuid)
                .values(reservation=None)
            )


class TakeOnStorage(AgentStep[SnapshotCtx]):
    """``CreateSnapshot``; an empty snapshot (of a volume with no bits) sends nothing."""

    name = "take-on-storage"
    retry = NO_RETRY

    async def run(self, ctx: SnapshotCtx) -> Any:
        if ctx.size == 0:
            return {"reply": None}
        return await super().run(ctx)

    def command(self, ctx: SnapshotCtx) -> AgentCall:
        cmd = CreateSnapshot(volumeUuid=ctx.volumeUuid, snapshotUuid=ctx.snapshotUuid)
        return AgentCall(ctx.agentUrl, cmd, ctx.hostUuid or "")

    def compensation(self, ctx: SnapshotCtx, reply: dict[str, Any] | None) -> AgentCall | None:
        if ctx.size == 0:
            return None
        cmd = DeleteSnapshot(volumeUuid=ctx.volumeUuid, snapshotUuid=ctx.snapshotUuid)
        return AgentCall(ctx.agentUrl, cmd, ctx.hostUuid or "")

    def merge(self, ctx: SnapshotCtx, reply: dict[str, Any]) -> None:
        ctx.installPath = str(reply.get("installPath") or "")


class MarkSnapshotReady(Step[SnapshotCtx]):
    """The point of no return: the snapshot is Ready, let go of."""

    name = "mark-ready"
    no_rollback = True

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: SnapshotCtx) -> Any:
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(VolumeSnapshotRow)
                .where(VolumeSnapshotRow.uuid == ctx.snapshotUuid)
                .values(install_path=ctx.installPath or None, updated_at=utcnow())
            )
            await finish(s, SNAPSHOT_STATES, ctx.snapshotUuid, run_id(), success=True)
        return None


class RevertOnStorage(AgentStep[SnapshotCtx]):
    name = "revert-on-storage"
    retry = NO_RETRY

    def command(self, ctx: SnapshotCtx) -> AgentCall:
        cmd = RevertSnapshot(volumeUuid=ctx.volumeUuid, snapshotUuid=ctx.snapshotUuid)
        return AgentCall(ctx.agentUrl, cmd, ctx.hostUuid or "")


class DeleteSnapshotOnStorage(AgentStep[SnapshotCtx]):
    name = "delete-on-storage"

    def command(self, ctx: SnapshotCtx) -> AgentCall:
        cmd = DeleteSnapshot(volumeUuid=ctx.volumeUuid, snapshotUuid=ctx.snapshotUuid)
        return AgentCall(ctx.agentUrl, cmd, ctx.hostUuid or "")

    async def run(self, ctx: SnapshotCtx) -> Any:
        if not ctx.agentUrl or ctx.size == 0:
            return {"reply": None}  # its host is gone, or it is empty
        return await super().run(ctx)


def snapshot_operations(
    db: Database, bus: Bus, snapshots: ResourceHandlers[Any, Any], agents: AgentClient, node: str
) -> tuple[
    StatefulOperation[SnapshotCtx], StatefulOperation[SnapshotCtx], StatefulOperation[SnapshotCtx]
]:
    """(take, revert, delete)."""
    take = FlowDef(
        "CreateVolumeSnapshot",
        SnapshotCtx,
        [
            CreateSnapshotRow(db, bus, snapshots, node),
            ReserveSnapshotCapacity(db),
            TakeOnStorage(agents),
            MarkSnapshotReady(db),
        ],
        on_interrupt=Interrupt.ROLLBACK,
    )
    revert = FlowDef(
        "RevertVolumeFromSnapshot",
        SnapshotCtx,
        [RevertOnStorage(agents)],
        on_interrupt=Interrupt.ROLLBACK,
    )
    remove = FlowDef(
        "DeleteVolumeSnapshot",
        SnapshotCtx,
        [DeleteSnapshotOnStorage(agents)],
        on_interrupt=Interrupt.RESUME,
    )
    return (
        StatefulOperation(SNAPSHOT_STATES, TAKE, take),
        StatefulOperation(SNAPSHOT_STATES, REVERT, revert),
        StatefulOperation(SNAPSHOT_STATES, DELETE, remove),
    )
