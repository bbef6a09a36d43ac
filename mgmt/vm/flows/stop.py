"""StopVmInstance: ``stop-on-host`` (``StopVm``; ``cold`` powers it off, ``grace`` asks the
guest to shut down and powers it off after ``vm.stopGracePeriod`` seconds) →
``release-host`` (its CPU and memory back to the host; it keeps its IPs, its root
volume's capacity and ``lastHostUuid``). A failed stop leaves the VM where it was."""

from __future__ import annotations

from typing import Any

from agent.protocol import StopVm
from mgmt.allocator import HostAllocator
from mgmt.core.agenttasks import AgentCall, AgentStep
from mgmt.core.db import Database
from mgmt.core.flow import FlowDef, Interrupt
from mgmt.core.states import StatefulOperation
from mgmt.vm.flows.steps import ReleaseHost, VmCtx
from mgmt.vm.states import STOP, VM_STATES


class StopOnHost(AgentStep[VmCtx]):
    name = "stop-on-host"

    def command(self, ctx: VmCtx) -> AgentCall:
        stop = StopVm(vmUuid=ctx.vmUuid, force=ctx.force, graceSeconds=ctx.graceSeconds)
        # the task outlives the grace period: the agent answers after it at the latest
        timeout = None if ctx.force else self.agents.default_timeout + ctx.graceSeconds
        return AgentCall(ctx.agentUrl, stop, ctx.hostUuid or "", timeout=timeout)


def stop_operation(db: Database, allocator: HostAllocator, agents: Any) -> StatefulOperation[VmCtx]:
    flow = FlowDef(
        "StopVmInstance",
        VmCtx,
        [StopOnHost(agents), ReleaseHost(allocator, db)],
        on_interrupt=Interrupt.RESUME,
    )
    return StatefulOperation(VM_STATES, STOP, flow)
