"""ChangeInstanceOffering, under the state machine (a Stopped VM stays Stopped, held by
the run): ``apply-offering`` — one transaction: the row's ``cpuNum``, ``memorySize`` and
``instanceOfferingUuid`` become the offering's, and the owner's ``vm.cpuNum`` and
``vm.memorySize`` quotas change by the difference (over quota: 429, nothing changed). A
re-run finds the row changed and moves the quotas by nothing.

A Running or Paused VM is refused before the run (409 with the reason: the hypervisor
does not hot-plug CPU or memory), as is any state but Stopped (409 naming the state and
the operations allowed there).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core import quota
from mgmt.core.api import CallerContext, invalid_field
from mgmt.core.db import Database, utcnow
from mgmt.core.flow import FlowDef, Interrupt, Step
from mgmt.core.resource import ResourceTypes
from mgmt.core.sharing import shared_with
from mgmt.core.states import StatefulOperation
from mgmt.vm.flows.steps import VmCtx
from mgmt.vm.models import VmInstanceRow
from mgmt.vm.resources import VM_CPU, VM_MEMORY
from mgmt.vm.states import CHANGE_OFFERING, VM_STATES


class ChangeOfferingCtx(VmCtx):
    """``cpuNum``/``memorySize``/``instanceOfferingUuid`` are the new offering's."""

    #: False when the owner's quotas limit the change (the owner is not the admin caller)
    unlimited: bool = False


async def offering_shape(
    s: AsyncSession, types: ResourceTypes, offering_uuid: str, caller: CallerContext
) -> tuple[int, int]:
    """(cpuNum, memorySize) of an offering the caller may use (its own, shared with it or
    public); else a 400 naming ``instanceOfferingUuid``."""
    kind = types.types["InstanceOffering"]
    found = await s.get(kind.table, offering_uuid)
    if found is None or not (
        kind.may_act(caller, found) or await shared_with(s, offering_uuid, caller.accountUuid)
    ):
        raise invalid_field("instanceOfferingUuid", f"no instance offering {offering_uuid}")
    return int(found.cpu_num), int(found.memory_size)


class ApplyOffering(Step[ChangeOfferingCtx]):
    name = "apply-offering"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: ChangeOfferingCtx) -> Any:
        async with self.db.session() as s, s.begin():
            row = await s.get(VmInstanceRow, ctx.vmUuid, with_for_update=True)
            assert row is not None
            owner = row.owner_account_uuid
            cpu, memory = ctx.cpuNum - row.cpu_num, ctx.memorySize - row.memory_size
            # the quota rows in the order every transaction takes them (vm.cpuNum first)
            for q, delta in ((VM_CPU, cpu), (VM_MEMORY, memory)):
                if delta > 0:
                    await quota.consume(s, owner, q, delta, is_admin=ctx.unlimited)
                elif delta < 0:
                    await quota.release(s, owner, q.name, -delta)
            row.cpu_num, row.memory_size = ctx.cpuNum, ctx.memorySize
            row.instance_offering_uuid = ctx.instanceOfferingUuid
            row.updated_at = utcnow()
        return {"cpuDelta": cpu, "memoryDelta": memory}


def change_offering_operation(db: Database) -> StatefulOperation[ChangeOfferingCtx]:
    flow = FlowDef(
        "ChangeInstanceOffering",
        ChangeOfferingCtx,
        [ApplyOffering(db)],
        on_interrupt=Interrupt.RESUME,
    )
    return StatefulOperation(VM_STATES, CHANGE_OFFERING, flow)
