"""AttachDataVolumeToVm and DetachDataVolumeFromVm, under the volume state machine
(Attaching / Detaching while they run; Ready, or back to where they began).

Attach: ``reserve-volume-capacity`` (a NotInstantiated volume: its size on the primary
storage of the VM's root volume, or another of the VM's cluster with room; a LocalStorage
on the VM's host) → ``create-on-storage`` (``CreateVolume``; that volume only) →
``attach-on-host`` (``AttachVolume``; a Running VM only) → ``record-attach`` (the row
names the VM and its device). A failure gives back what the run took: the bits made are
deleted, the capacity released, the volume NotInstantiated again.

Detach: ``detach-on-host`` (``DetachVolume``; a Running VM only) → ``record-detach``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from mgmt.core.agenttasks import AgentClient
from mgmt.core.db import Database, utcnow
from mgmt.core.flow import FlowDef, Interrupt, Step
from mgmt.core.states import StatefulOperation
from mgmt.volume.flows.steps import (
    AttachOnHost,
    CreateOnStorage,
    DetachOnHost,
    Placer,
    ReserveVolumeCapacity,
    VolumeCtx,
)
from mgmt.volume.models import VolumeRow
from mgmt.volume.states import ATTACH, DETACH, VOLUME_STATES


class RecordAttach(Step[VolumeCtx]):
    """The point of no return: the row names its VM, device and (if made now) bits."""

    name = "record-attach"
    no_rollback = True

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: VolumeCtx) -> Any:
        made = {"install_path": ctx.installPath or None} if ctx.instantiate else {}
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(VolumeRow)
                .where(VolumeRow.uuid == ctx.volumeUuid)
                .values(
                    vm_instance_uuid=ctx.vmUuid,
                    device_id=ctx.deviceId,
                    updated_at=utcnow(),
                    **made,
                )
            )
        return None


class RecordDetach(Step[VolumeCtx]):
    name = "record-detach"
    no_rollback = True

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: VolumeCtx) -> Any:
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(VolumeRow)
                .where(VolumeRow.uuid == ctx.volumeUuid)
                .values(vm_instance_uuid=None, device_id=None, updated_at=utcnow())
            )
        return None


def attach_operations(
    db: Database, placer: Placer, agents: AgentClient
) -> tuple[StatefulOperation[VolumeCtx], StatefulOperation[VolumeCtx]]:
    """(attach, detach)."""
    attach = FlowDef(
        "AttachDataVolumeToVm",
        VolumeCtx,
        [
            ReserveVolumeCapacity(db, placer),
            CreateOnStorage(agents),
            AttachOnHost(agents),
            RecordAttach(db),
        ],
        on_interrupt=Interrupt.ROLLBACK,
    )
    detach = FlowDef(
        "DetachDataVolumeFromVm",
        VolumeCtx,
        [DetachOnHost(agents), RecordDetach(db)],
        on_interrupt=Interrupt.RESUME,
    )
    return (
        StatefulOperation(VOLUME_STATES, ATTACH, attach),
        StatefulOperation(VOLUME_STATES, DETACH, detach),
    )
