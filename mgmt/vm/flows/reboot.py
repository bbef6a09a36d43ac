"""RebootVmInstance: ``reboot-on-host`` (``RebootVm``); Running again, or Running still
when it fails (the hypervisor did not take it)."""

from __future__ import annotations

from typing import Any

from agent.protocol import RebootVm
from mgmt.core.agenttasks import AgentCall, AgentStep
from mgmt.core.flow import FlowDef, Interrupt
from mgmt.core.states import StatefulOperation
from mgmt.vm.flows.steps import VmCtx
from mgmt.vm.states import REBOOT, VM_STATES


class RebootOnHost(AgentStep[VmCtx]):
    name = "reboot-on-host"

    def command(self, ctx: VmCtx) -> AgentCall:
        return AgentCall(ctx.agentUrl, RebootVm(vmUuid=ctx.vmUuid), ctx.hostUuid or "")


def reboot_operation(agents: Any) -> StatefulOperation[VmCtx]:
    flow = FlowDef("RebootVmInstance", VmCtx, [RebootOnHost(agents)], on_interrupt=Interrupt.RESUME)
    return StatefulOperation(VM_STATES, REBOOT, flow)
