"""DestroyVmInstance (deletion policy Direct): ``destroy-on-host`` (``DestroyVm`` on the
host it runs on, or last ran on; skipped when it never ran or that host is gone) →
``release-host``; the VM is then Destroyed, and the service deletes its row through the
kit's cascade, whose hook gives back its IPs, root volume capacity and quotas in the
delete's transaction. A destroy interrupted after ``release-host`` leaves it Destroyed; a
DELETE again removes the row."""

from __future__ import annotations

from typing import Any

from agent.protocol import DestroyVm
from mgmt.allocator import HostAllocator
from mgmt.core.agenttasks import AgentCall, AgentStep
from mgmt.core.db import Database
from mgmt.core.flow import FlowDef, Interrupt
from mgmt.core.states import StatefulOperation
from mgmt.vm.flows.steps import ReleaseHost, VmCtx
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
