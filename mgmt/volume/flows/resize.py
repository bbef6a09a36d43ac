"""ResizeDataVolume (grow only), under the volume state machine (Resizing while it runs):
``reserve-growth`` (the difference on every counter the volume holds — its storage's
capacity and a LocalStorage's host share — and in ``volume.capacity``, one transaction)
→ ``resize-on-storage`` (``ResizeVolume``) → ``record-size``. A failure gives the
difference back; the volume keeps its size."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from agent.protocol import ResizeVolume
from mgmt.core import quota
from mgmt.core.agenttasks import AgentCall, AgentClient, AgentStep
from mgmt.core.counters import ReservationRow, release, reservation_id, reserve
from mgmt.core.db import Database, utcnow
from mgmt.core.flow import NO_RETRY, FlowDef, Interrupt, Step
from mgmt.core.states import StatefulOperation
from mgmt.volume.flows.steps import VolumeCtx, held, run_id
from mgmt.volume.models import VolumeRow
from mgmt.volume.resources import VOLUME_CAPACITY, reservations
from mgmt.volume.states import RESIZE, VOLUME_STATES


class ReserveGrowth(Step[VolumeCtx]):
    name = "reserve-growth"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: VolumeCtx) -> Any:
        rid = reservation_id(run_id(), self.name)
        grow = ctx.newSize - ctx.size
        async with self.db.session() as s, s.begin():
            row = await s.get(VolumeRow, ctx.volumeUuid, with_for_update=True)
            assert row is not None
            taken = [i for i, _ in await held(s, rid)]
            if not taken:
                counters = (
                    await s.execute(
                        select(ReservationRow.owner_uuid, ReservationRow.name)
                        .where(ReservationRow.id.in_(reservations(row)))
                        .order_by(ReservationRow.id)
                    )
                ).all()
                for j, (owner, name) in enumerate(counters):
                    one = f"{rid}/{j}"
                    await reserve(s, str(owner), str(name), grow, one)
                    taken.append(one)
                await quota.consume(
                    s, row.owner_account_uuid, VOLUME_CAPACITY, grow, is_admin=ctx.isAdmin
                )
                row.reservation = ",".join([*reservations(row), *taken]) or None
                row.updated_at = utcnow()
        return {"reservations": taken}

    async def rollback(self, ctx: VolumeCtx, result: Any) -> None:
        rid = reservation_id(run_id(), self.name)
        async with self.db.session() as s, s.begin():
            row = await s.get(VolumeRow, ctx.volumeUuid, with_for_update=True)
            ids = set(result["reservations"]) if result else set()
            ids |= {i for i, _ in await held(s, rid)}
            if row is not None:
                mine = [r for r in reservations(row) if r.startswith(f"{rid}/")]
                if mine or ids:
                    await quota.release(
                        s, row.owner_account_uuid, VOLUME_CAPACITY.name, ctx.newSize - ctx.size
                    )
                row.reservation = ",".join(r for r in reservations(row) if r not in mine) or None
            for one in sorted(ids):
                await release(s, one)


class ResizeOnStorage(AgentStep[VolumeCtx]):
    name = "resize-on-storage"
    retry = NO_RETRY

    def command(self, ctx: VolumeCtx) -> AgentCall:
        cmd = ResizeVolume(volumeUuid=ctx.volumeUuid, size=ctx.newSize)
        return AgentCall(ctx.agentUrl, cmd, ctx.hostUuid or "")


class RecordSize(Step[VolumeCtx]):
    name = "record-size"
    no_rollback = True

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: VolumeCtx) -> Any:
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(VolumeRow)
                .where(VolumeRow.uuid == ctx.volumeUuid)
                .values(size=ctx.newSize, updated_at=utcnow())
            )
        return None


def resize_operation(db: Database, agents: AgentClient) -> StatefulOperation[VolumeCtx]:
    flow = FlowDef(
        "ResizeDataVolume",
        VolumeCtx,
        [ReserveGrowth(db), ResizeOnStorage(agents), RecordSize(db)],
        on_interrupt=Interrupt.ROLLBACK,
    )
    return StatefulOperation(VOLUME_STATES, RESIZE, flow)
