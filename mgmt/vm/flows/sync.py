"""SyncHostVms (the VM state sync of one host, run by the host's owner every
``vm.sync.interval`` and when its agent reports a change): ``read-vms`` (what the database
says of the host's VMs no operation holds) → ``get-vm-states`` (``GetVmStates``: every VM
the host has) → ``apply-vm-states`` (the rules of ``mgmt.vm.reconcile``). Nothing to roll
back: a run that fails changed nothing, or changed what the host said; the next round reads
again (level-triggered)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from agent.protocol import GetVmStates
from mgmt.core.agenttasks import AgentCall, AgentClient, AgentStep
from mgmt.core.flow import NO_RETRY, FlowDef, Interrupt, Step
from mgmt.vm.reconcile import VmReconciler


class VmSyncCtx(BaseModel):
    hostUuid: str
    ownerAccountUuid: str = ""
    agentUrl: str
    #: why this run: "periodic sync" or "change report"
    why: str = "periodic sync"
    #: vm uuid -> [state, updated_at ISO], read before the host was asked
    snapshot: dict[str, tuple[str, str]] = Field(default_factory=dict)
    #: vm uuid -> power state, as the host reported
    states: dict[str, str] = Field(default_factory=dict)
    changed: int = 0


class ReadVms(Step[VmSyncCtx]):
    name = "read-vms"
    retry = NO_RETRY

    def __init__(self, reconciler: VmReconciler) -> None:
        self.reconciler = reconciler

    async def run(self, ctx: VmSyncCtx) -> Any:
        ctx.snapshot = await self.reconciler.snapshot(ctx.hostUuid)
        return {"vms": len(ctx.snapshot)}


class GetHostVmStates(AgentStep[VmSyncCtx]):
    name = "get-vm-states"
    retry = NO_RETRY  # the next round asks again

    def command(self, ctx: VmSyncCtx) -> AgentCall:
        return AgentCall(ctx.agentUrl, GetVmStates(vmUuids=[]), ctx.hostUuid)

    def merge(self, ctx: VmSyncCtx, reply: dict[str, Any]) -> None:
        ctx.states = {str(k): str(v) for k, v in (reply.get("states") or {}).items()}


class ApplyVmStates(Step[VmSyncCtx]):
    name = "apply-vm-states"
    retry = NO_RETRY

    def __init__(self, reconciler: VmReconciler) -> None:
        self.reconciler = reconciler

    async def run(self, ctx: VmSyncCtx) -> Any:
        changes = await self.reconciler.apply(
            ctx.hostUuid, ctx.ownerAccountUuid, ctx.states, ctx.snapshot, why=ctx.why
        )
        ctx.changed = len(changes)
        return {"changed": [c.vm_uuid for c in changes]}


def sync_host_flow(reconciler: VmReconciler, agents: AgentClient) -> FlowDef[VmSyncCtx]:
    return FlowDef(
        "SyncHostVms",
        VmSyncCtx,
        [ReadVms(reconciler), GetHostVmStates(agents), ApplyVmStates(reconciler)],
        on_interrupt=Interrupt.RESUME,
    )
