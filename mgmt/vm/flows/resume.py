"""ResumeVmInstance: ``resume-on-host`` (``ResumeVm``) of a Paused VM."""

from __future__ import annotations

from typing import Any

from agent.protocol import ResumeVm
from mgmt.core.agenttasks import AgentCall, AgentStep
from mgmt.core.flow import FlowDef, Interrupt
from mgmt.core.states import StatefulOperation
from mgmt.vm.flows.steps import VmCtx
from mgmt.vm.states import RESUME, VM_STATES


class ResumeOnHost(AgentStep[VmCtx]):
    name = "resume-on-host"

    def command(self, ctx: VmCtx) -> AgentCall:
        return AgentCall(ctx.agentUrl, ResumeVm(vmUuid=ctx.vmUuid), ctx.hostUuid or "")


def resume_operation(agents: Any) -> StatefulOperation[VmCtx]:
    flow = FlowDef("ResumeVmInstance", VmCtx, [ResumeOnHost(agents)], on_interrupt=Interrupt.RESUME)
    return StatefulOperation(VM_STATES, RESUME, flow)
