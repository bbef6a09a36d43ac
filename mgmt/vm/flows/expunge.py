"""ExpungeVmInstance, under the state machine (Expunging while it runs):
``release-root-volume`` (its root volume's primary storage capacity given back); the
service then removes the row through the kit's cascade, whose hook gives back whatever
else it still holds (everything, for a VM a Direct destroy left Destroyed) and the kit
``vm.totalNum``. Run by the API and by the expunge tracker (``mgmt/vm/expunge.py``)."""

from __future__ import annotations

from typing import Any

from mgmt.core.db import Database
from mgmt.core.flow import FlowDef, Interrupt, Step
from mgmt.core.states import StatefulOperation
from mgmt.vm.flows.steps import VmCtx
from mgmt.vm.models import VmInstanceRow
from mgmt.vm.resources import release_root
from mgmt.vm.states import EXPUNGE, VM_STATES


class ReleaseRootVolume(Step[VmCtx]):
    name = "release-root-volume"
    no_rollback = True

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: VmCtx) -> Any:
        async with self.db.session() as s, s.begin():
            row = await s.get(VmInstanceRow, ctx.vmUuid, with_for_update=True)
            if row is not None:
                await release_root(s, row)  # by reservation id: once
        return None


def expunge_operation(db: Database) -> StatefulOperation[VmCtx]:
    flow = FlowDef(
        "ExpungeVmInstance", VmCtx, [ReleaseRootVolume(db)], on_interrupt=Interrupt.RESUME
    )
    return StatefulOperation(VM_STATES, EXPUNGE, flow)
