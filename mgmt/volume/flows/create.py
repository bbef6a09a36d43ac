"""CreateDataVolume: the recipe, top to bottom.

``create-row`` (the kit's one create path: UUID claimed, the disk offering and the named
primary storage visible to the caller, quotas ``volume.data.num`` and ``volume.capacity``
consumed; with a storage named, the row is inserted held by this run in Creating) →
``reserve-volume-capacity`` (the size on that storage, and a LocalStorage's host share)
→ ``create-on-storage`` (``CreateVolume`` on a host that reaches it) → ``mark-ready``.
Without a storage the flow is only ``create-row`` (NotInstantiated; the first attach
makes it).

A failure at any step rolls every earlier one back: no volume row, no UUID claim,
capacity and quotas as before. A node killed mid-flow: the partition's next owner rolls
the run back (``Interrupt.ROLLBACK``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core import quota
from mgmt.core.agenttasks import AgentClient
from mgmt.core.api import caller_of, invalid_field
from mgmt.core.bus import Bus, HandlerContext
from mgmt.core.db import Database, utcnow
from mgmt.core.flow import FlowDef, Interrupt, Step
from mgmt.core.resource import ResourceTypes, ResourceUuidRow, forget
from mgmt.core.resource.handlers import ResourceHandlers
from mgmt.core.states import finish
from mgmt.volume.flows.steps import (
    CreateOnStorage,
    Placer,
    ReserveVolumeCapacity,
    VolumeCtx,
    run_id,
)
from mgmt.volume.messages import CreateDataVolume
from mgmt.volume.models import VolumeRow
from mgmt.volume.resources import DATA, VOLUME_CAPACITY, VOLUME_DATA_NUM
from mgmt.volume.states import INSTANTIATE, VOLUME_STATES, VolumeStatus


class CreateVolumeRow(Step[VolumeCtx]):
    """The one create path; a volume to be made now is inserted held by this run (no
    moment exists where it is Creating and nothing owns it)."""

    name = "create-row"

    def __init__(
        self,
        db: Database,
        bus: Bus,
        volumes: ResourceHandlers[Any, Any],
        types: ResourceTypes,
        node: str,
        held: bool,
    ) -> None:
        self.db = db
        self.bus = bus
        self.volumes = volumes
        self.types = types
        self.node = node
        self.held = held

    async def run(self, ctx: VolumeCtx) -> Any:
        assert ctx.request is not None
        msg = CreateDataVolume.model_validate(ctx.request)
        caller = caller_of(msg)
        run = run_id()
        here = HandlerContext(
            self.bus, run, msg.resourceUuid, None, 1, self.bus.partition_of(run), self.node
        )
        now = await self.db.now()
        async with self.db.session() as s, s.begin():
            size = await self._size(s, msg)
            fresh: list[bool] = []

            async def check(s: AsyncSession) -> None:  # a new row only
                fresh.append(True)

            state: dict[str, Any] = (
                {
                    "state": VolumeStatus.CREATING,
                    "op_holder": run,
                    "op_name": INSTANTIATE,
                    "op_from": VolumeStatus.NOT_INSTANTIATED,
                    "op_since": now,
                }
                if self.held
                else {"state": VolumeStatus.NOT_INSTANTIATED}
            )
            row = await self.volumes.create_row(
                s,
                msg,
                here,
                values={"type": DATA, "size": size, "actual_size": 0, **state},
                check=check,
            )
            if fresh:  # quota rows in one order everywhere: num, then capacity
                await quota.consume(s, caller.accountUuid, VOLUME_DATA_NUM, is_admin=caller.isAdmin)
                await quota.consume(
                    s, caller.accountUuid, VOLUME_CAPACITY, size, is_admin=caller.isAdmin
                )
            ctx.size = row.size
        return {"jobUuid": msg.jobUuid}

    async def _size(self, s: AsyncSession, msg: CreateDataVolume) -> int:
        if msg.diskOfferingUuid is None:
            if msg.diskSize is None:
                raise invalid_field("diskOfferingUuid", "give a disk offering, or diskSize")
            return msg.diskSize
        offering = await s.get(self.types.types["DiskOffering"].table, msg.diskOfferingUuid)
        if offering is None:
            raise invalid_field("diskOfferingUuid", f"no disk offering {msg.diskOfferingUuid}")
        return int(offering.disk_size)

    async def rollback(self, ctx: VolumeCtx, result: Any) -> None:
        assert ctx.request is not None
        uuid, job = ctx.request["resourceUuid"], ctx.request["jobUuid"]
        async with self.db.session() as s, s.begin():
            claim = await s.get(ResourceUuidRow, uuid)
            if claim is None or claim.job_uuid != job:
                return  # never ours (a refused claim): touch nothing of the holder's
            row = await s.get(VolumeRow, uuid)
            if row is not None:
                owner = row.owner_account_uuid
                await quota.release(s, owner, VOLUME_DATA_NUM.name, 1)
                await quota.release(s, owner, VOLUME_CAPACITY.name, row.size)
            await s.execute(delete(VolumeRow).where(VolumeRow.uuid == uuid))
            await forget(s, [uuid])


class MarkReady(Step[VolumeCtx]):
    """The point of no return: the volume is Ready where it was made, let go of."""

    name = "mark-ready"
    no_rollback = True

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: VolumeCtx) -> Any:
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(VolumeRow)
                .where(VolumeRow.uuid == ctx.volumeUuid)
                .values(install_path=ctx.installPath or None, updated_at=utcnow())
            )
            await finish(s, VOLUME_STATES, ctx.volumeUuid, run_id(), success=True)
        return None


def create_volume_flows(
    db: Database,
    bus: Bus,
    volumes: ResourceHandlers[Any, Any],
    types: ResourceTypes,
    placer: Placer,
    agents: AgentClient,
    node: str,
) -> tuple[FlowDef[VolumeCtx], FlowDef[VolumeCtx]]:
    """(create on a named primary storage, create only the record)."""
    made = FlowDef(
        "CreateDataVolume",
        VolumeCtx,
        [
            CreateVolumeRow(db, bus, volumes, types, node, held=True),
            ReserveVolumeCapacity(db, placer),
            CreateOnStorage(agents),
            MarkReady(db),
        ],
        on_interrupt=Interrupt.ROLLBACK,
    )
    recorded = FlowDef(
        "CreateDataVolumeRecord",
        VolumeCtx,
        [CreateVolumeRow(db, bus, volumes, types, node, held=False)],
        on_interrupt=Interrupt.ROLLBACK,
    )
    return made, recorded
