"""PauseVmInstance: ``pause-on-host`` (``PauseVm``); the VM keeps its host and capacity."""

from __future__ import annotations

from typing import Any

from agent.protocol import PauseVm
from mgmt.core.agenttasks import AgentCall, AgentStep
from mgmt.core.flow import FlowDef, Interrupt
from mgmt.core.states import StatefulOperation
from mgmt.vm.flows.steps import VmCtx
from mgmt.vm.states import PAUSE, VM_STATES


class PauseOnHost(AgentStep[VmCtx]):
    name = "pause-on-host"

    def command(self, ctx: VmCtx) -> AgentCall:
        return AgentCall(ctx.agentUrl, PauseVm(vmUuid=ctx.vmUuid), ctx.hostUuid or "")


def pause_operation(agents: Any) -> StatefulOperation[VmCtx]:
    flow = FlowDef("PauseVmInstance", VmCtx, [PauseOnHost(agents)], on_interrupt=Interrupt.RESUME)
    return StatefulOperation(VM_STATES, PAUSE, flow)
