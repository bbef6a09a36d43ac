"""DestroyVmInstance. Deletion policy Direct: ``destroy-on-host`` (``DestroyVm`` on the
host it runs on, or last ran on; skipped when it never ran or that host is gone) →
``release-host``; the VM is then Destroyed, and the service deletes its row through the
kit's cascade, whose hook gives back its IPs, root volume capacity and quotas in the
delete's transaction. A destroy interrupted after ``release-host`` leaves it Destroyed; a
DELETE again removes the row.

Delay and Never: ``destroy-on-host`` → ``release-host`` → ``release-for-recovery`` (one
transaction: its NICs and their IPs, ``vm.num``, ``vm.cpuNum`` and ``vm.memorySize`` given
back, ``destroyed_at`` set — done once, whoever re-runs it); it stays Destroyed, holding
its root volume's primary storage capacity and ``vm.totalNum`` until it is expunged."""

from __future__ import annotations

from typing import Any

from agent.protocol import DestroyVm
from mgmt.allocator import HostAllocator
from mgmt.core.agenttasks import AgentCall, AgentStep
from mgmt.core.db import Database
from mgmt.core.flow import FlowDef, Interrupt, Step
from mgmt.core.states import StatefulOperation
from mgmt.vm.flows.steps import ReleaseHost, VmCtx
from mgmt.vm.models import VmInstanceRow
from mgmt.vm.resources import release_nics, release_quotas
from mgmt.vm.states import DESTROY, VM_STATES


class DestroyOnHost(AgentStep[VmCtx]):
    name = "destroy-on-host"

    def command(self, ctx: VmCtx) -> AgentCall:
        return AgentCall(ctx.agentUrl, DestroyVm(vmUuid=ctx.vmUuid), ctx.hostUuid or "")

    async def run(self, ctx: VmCtx) -> Any:
        if not ctx.agentUrl:
            return {"reply": None}  # never placed, or its host is gone
        return await super().run(ctx)


def destroy_operation(
    db: Database, allocator: HostAllocator, agents: Any
) -> StatefulOperation[VmCtx]:
    flow = FlowDef(
        "DestroyVmInstance",
        VmCtx,
        [DestroyOnHost(agents), ReleaseHost(allocator, db)],
        on_interrupt=Interrupt.RESUME,
    )
    return StatefulOperation(VM_STATES, DESTROY, flow)


class ReleaseForRecovery(Step[VmCtx]):
    """What a Destroyed VM does not keep: its NICs and IPs and its ``vm.num``,
    ``vm.cpuNum`` and ``vm.memorySize`` quotas, given back with ``destroyed_at`` set in one
    transaction (a re-run finds it set and gives nothing back twice)."""

    name = "release-for-recovery"
    no_rollback = True

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: VmCtx) -> Any:
        now = await self.db.now()  # the database's clock: what the expunge tracker reads
        async with self.db.session() as s, s.begin():
            row = await s.get(VmInstanceRow, ctx.vmUuid, with_for_update=True)
            if row is None or row.destroyed_at is not None:
                return {"released": False}
            await release_nics(s, row.uuid)
            await release_quotas(s, row)
            row.destroyed_at = now
        return {"released": True}


def destroy_delayed_operation(
    db: Database, allocator: HostAllocator, agents: Any
) -> StatefulOperation[VmCtx]:
    """The destroy of the Delay and Never policies (the VM stays, Destroyed)."""
    flow = FlowDef(
        "DestroyVmInstanceDelayed",
        VmCtx,
        [DestroyOnHost(agents), ReleaseHost(allocator, db), ReleaseForRecovery(db)],
        on_interrupt=Interrupt.RESUME,
    )
    return StatefulOperation(VM_STATES, DESTROY, flow)
