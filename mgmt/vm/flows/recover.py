"""RecoverVmInstance, under the state machine (a Destroyed VM, held by the run, Stopped
after): ``reclaim-quotas`` (one transaction: ``vm.num``, ``vm.cpuNum`` and
``vm.memorySize`` counted again — over quota: 429 — and ``destroyed_at`` cleared) →
``allocate-nics`` (a NIC on each of its L3 networks, its static IPs asked for again: an
address taken meanwhile is a 409). A failure rolls back: it stays Destroyed, holding what
it held before. Its root volume's capacity stayed reserved, so its next start runs on
its last host as any Stopped VM's. A VM expunged meanwhile is a 404.
"""

from __future__ import annotations

from typing import Any, cast

from mgmt.core import quota
from mgmt.core.db import Database
from mgmt.core.flow import FlowDef, Interrupt, Step
from mgmt.core.states import StatefulOperation
from mgmt.vm.flows.steps import AllocateNics, VmCtx
from mgmt.vm.models import VmInstanceRow
from mgmt.vm.resources import VM_CPU, VM_MEMORY, VM_NUM, release_quotas
from mgmt.vm.states import RECOVER, VM_STATES


class RecoverCtx(VmCtx):
    #: the owner is the admin caller: its quotas count, they do not limit
    unlimited: bool = False


class ReclaimQuotas(Step[RecoverCtx]):
    name = "reclaim-quotas"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: RecoverCtx) -> Any:
        async with self.db.session() as s, s.begin():
            row = await s.get(VmInstanceRow, ctx.vmUuid, with_for_update=True)
            if row is None or row.destroyed_at is None:
                return {"destroyedAt": None}  # holds its quotas (a re-run, or a Direct destroy)
            owner, free = row.owner_account_uuid, ctx.unlimited
            await quota.consume(s, owner, VM_NUM, 1, is_admin=free)
            await quota.consume(s, owner, VM_CPU, row.cpu_num, is_admin=free)
            await quota.consume(s, owner, VM_MEMORY, row.memory_size, is_admin=free)
            destroyed, row.destroyed_at = row.destroyed_at, None
        return {"destroyedAt": destroyed.isoformat()}

    async def rollback(self, ctx: RecoverCtx, result: Any) -> None:
        if not result or result.get("destroyedAt") is None:
            return
        async with self.db.session() as s, s.begin():
            row = await s.get(VmInstanceRow, ctx.vmUuid, with_for_update=True)
            if row is None or row.destroyed_at is not None:
                return
            await release_quotas(s, row)
            row.destroyed_at = await self.db.now()


def recover_operation(db: Database) -> StatefulOperation[RecoverCtx]:
    flow = FlowDef(
        "RecoverVmInstance",
        RecoverCtx,
        # AllocateNics reads only VmCtx's fields, which a RecoverCtx has
        [ReclaimQuotas(db), cast(Step[RecoverCtx], AllocateNics(db))],
        on_interrupt=Interrupt.ROLLBACK,
    )
    return StatefulOperation(VM_STATES, RECOVER, flow)
