"""The diagnostic allocation flow: an ``AllocateHost`` step, then a step that may fail.

Proves the allocator's flow step on real processes, as ``reserve.py`` does for counters:
``killAt="effect:allocate"`` SIGKILLs the node after the allocation committed but before
the engine recorded the step, so the node that takes the run over re-runs the step (which
must find its allocation and take nothing more) or rolls it back (which must give it back
once); ``failAt="after-allocate"`` makes the flow roll back.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mgmt.allocator import AllocatedHost, AllocateHost, AllocationSpec, HostAllocator
from mgmt.core.bus import HandlerContext
from mgmt.core.errors import Codes, PermanentError, error
from mgmt.core.flow import FlowDef, FlowEngine, FlowFailed, Interrupt, Step, current_attempt
from mgmt.diag.flows import kill_node
from mgmt.diag.messages import RunDiagAllocate, RunDiagAllocateReply


class DiagAllocateCtx(BaseModel):
    resourceUuid: str
    cpuNum: int
    memorySize: int
    hostUuid: str | None = None
    killAt: str | None = None
    failAt: str | None = None


def _spec(ctx: DiagAllocateCtx) -> AllocationSpec:
    return AllocationSpec(account_uuid="", cpu_num=ctx.cpuNum, memory_size=ctx.memorySize)


def _placed(ctx: DiagAllocateCtx, host: AllocatedHost) -> None:
    ctx.hostUuid = host.host_uuid


class DiagAllocateHost(AllocateHost[DiagAllocateCtx]):
    """``AllocateHost`` with the kill hook between its commit and the engine's record."""

    async def run(self, ctx: DiagAllocateCtx) -> Any:
        result = await super().run(ctx)
        if ctx.killAt == "effect:allocate" and current_attempt().epoch == 1:
            kill_node()  # allocated and committed; the step is not recorded as done
        return result


class AfterAllocate(Step[DiagAllocateCtx]):
    name = "after-allocate"

    async def run(self, ctx: DiagAllocateCtx) -> Any:
        if ctx.failAt == self.name:
            raise PermanentError(error(Codes.INTERNAL, f"{self.name} asked to fail"))
        return None


class DiagAllocations:
    """The flows and the handler of ``RunDiagAllocate`` (part of the diag service)."""

    def __init__(self, engine: FlowEngine, allocator: HostAllocator) -> None:
        self._engine = engine

        def steps() -> list[Step[DiagAllocateCtx]]:
            return [DiagAllocateHost(allocator, _spec, _placed), AfterAllocate()]

        self._resume = FlowDef(
            "DiagAllocate", DiagAllocateCtx, steps(), on_interrupt=Interrupt.RESUME
        )
        self._rollback = FlowDef(
            "DiagAllocateRollback", DiagAllocateCtx, steps(), on_interrupt=Interrupt.ROLLBACK
        )

    def flows(self) -> tuple[FlowDef[DiagAllocateCtx], ...]:
        return (self._resume, self._rollback)

    async def run(
        self, msg: RunDiagAllocate, ctx: HandlerContext, kill_at: str | None
    ) -> RunDiagAllocateReply:
        flow = self._resume if msg.onInterrupt == "resume" else self._rollback
        state, err, host = "Succeeded", None, None
        try:
            out = await self._engine.run(
                flow,
                DiagAllocateCtx(
                    resourceUuid=msg.resourceUuid,
                    cpuNum=msg.cpuNum,
                    memorySize=msg.memorySize,
                    killAt=kill_at,
                    failAt=msg.failAt,
                ),
                resource_uuid=msg.resourceUuid,
                flow_uuid=ctx.message_id,  # a redelivered message joins or resumes the run
                deadline=ctx.deadline,
            )
            host = out.hostUuid
        except FlowFailed as failed:
            rec = await self._engine.store.load(ctx.message_id)
            state = rec.state if rec else "Unknown"
            err = failed.error.model_dump_json()
        return RunDiagAllocateReply(state=state, node=ctx.node_id, error=err, hostUuid=host)
