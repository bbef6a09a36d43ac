"""Diagnostic flows made of agent steps: ping a host, start a VM (compensated), and the
release of a DiagVm (destroy it on its host) that a cascade delete runs before its row goes.

They prove the durable agent step end to end on real processes: a command is sent once
however often its node dies, a rollback sends the compensating command once, a failed
release goes to the GC queue and is retried until it succeeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.protocol import DestroyVm, PingHost, StartVm
from mgmt.core.agenttasks import AgentCall, AgentClient, AgentStep
from mgmt.core.cascade import Release
from mgmt.core.db import Database
from mgmt.core.errors import Codes, PermanentError, ZCloudError, error
from mgmt.core.flow import NO_RETRY, FlowDef, Interrupt, Step
from mgmt.diag.models import DiagAgentResult, DiagResource

# -- ping: an agent step, then a step recording its outcome ------------------------------


class DiagPingCtx(BaseModel):
    hostUuid: str
    agentUrl: str
    timeoutSeconds: float = 60.0
    taskUuid: str | None = None
    status: str | None = None


class SendPing(AgentStep[DiagPingCtx]):
    """A ping is a probe: its outcome (Done, Failed, TimedOut) is the answer, not a failure
    of the flow, and it is not retried."""

    name = "ping"
    retry = NO_RETRY

    def command(self, ctx: DiagPingCtx) -> AgentCall:
        return AgentCall(
            ctx.agentUrl, PingHost(hostUuid=ctx.hostUuid), ctx.hostUuid, timeout=ctx.timeoutSeconds
        )

    async def run(self, ctx: DiagPingCtx) -> Any:
        ctx.taskUuid = self.task_uuid()
        try:
            await self.execute(self.command(ctx))
            ctx.status = "Done"
        except ZCloudError:
            row = await self.agents.load(ctx.taskUuid)
            ctx.status = row.status if row is not None else "Failed"
        return {"taskUuid": ctx.taskUuid, "status": ctx.status}


class RecordPing(Step[DiagPingCtx]):
    name = "record"

    def __init__(self, db: Database, agents: AgentClient) -> None:
        self.db = db
        self.agents = agents

    async def run(self, ctx: DiagPingCtx) -> Any:
        assert ctx.taskUuid is not None
        row = await self.agents.load(ctx.taskUuid)
        async with self.db.session() as s, s.begin():
            if await s.get(DiagAgentResult, ctx.taskUuid) is None:  # idempotent re-run
                s.add(
                    DiagAgentResult(
                        task_uuid=ctx.taskUuid,
                        resource_uuid=ctx.hostUuid,
                        status=ctx.status or "Failed",
                        completed_by=(row.completed_by if row else None) or "",
                    )
                )
        return None


def ping_flow(db: Database, agents: AgentClient) -> FlowDef[DiagPingCtx]:
    return FlowDef(
        "DiagPingAgent",
        DiagPingCtx,
        [SendPing(agents), RecordPing(db, agents)],
        on_interrupt=Interrupt.RESUME,
    )


# -- start a VM, compensated by destroying it --------------------------------------------


class DiagVmCtx(BaseModel):
    vmUuid: str
    hostUuid: str
    agentUrl: str
    cpuNum: int = 1
    memoryBytes: int = 1 << 30
    failAfterStart: bool = False
    powerState: str | None = None


class StartOnHost(AgentStep[DiagVmCtx]):
    name = "start-on-host"

    def command(self, ctx: DiagVmCtx) -> AgentCall:
        cmd = StartVm(
            vmUuid=ctx.vmUuid, name="diag", cpuNum=ctx.cpuNum, memoryBytes=ctx.memoryBytes
        )
        return AgentCall(ctx.agentUrl, cmd, ctx.hostUuid)

    def compensation(self, ctx: DiagVmCtx, reply: dict[str, Any] | None) -> AgentCall | None:
        return AgentCall(ctx.agentUrl, DestroyVm(vmUuid=ctx.vmUuid), ctx.hostUuid)

    def merge(self, ctx: DiagVmCtx, reply: dict[str, Any]) -> None:
        ctx.powerState = str(reply.get("powerState"))


class ConfirmStart(Step[DiagVmCtx]):
    name = "confirm"

    async def run(self, ctx: DiagVmCtx) -> Any:
        if ctx.failAfterStart:
            raise PermanentError(error(Codes.INTERNAL, "confirm asked to fail"))
        return None


def vm_flow(agents: AgentClient) -> FlowDef[DiagVmCtx]:
    return FlowDef(
        "DiagVmStart",
        DiagVmCtx,
        [StartOnHost(agents), ConfirmStart()],
        on_interrupt=Interrupt.RESUME,
    )


# -- the release of a DiagVm: destroy it on its host before its row goes -----------------


class DiagVmReleaseCtx(BaseModel):
    vmUuid: str
    hostUuid: str
    agentUrl: str


class DestroyOnHost(AgentStep[DiagVmReleaseCtx]):
    name = "destroy-on-host"

    def command(self, ctx: DiagVmReleaseCtx) -> AgentCall:
        return AgentCall(ctx.agentUrl, DestroyVm(vmUuid=ctx.vmUuid), ctx.hostUuid)


def vm_release_flow(agents: AgentClient) -> FlowDef[DiagVmReleaseCtx]:
    return FlowDef(
        "DiagVmRelease", DiagVmReleaseCtx, [DestroyOnHost(agents)], on_interrupt=Interrupt.RESUME
    )


class DiagVmRelease:
    """``CascadeRelease`` of DiagVm: a VM with an agent is destroyed on its host (its parent
    DiagHost's UUID is the host's) before its row is deleted."""

    type_name = "DiagVm"

    def __init__(self, agents: AgentClient) -> None:
        self._flow = vm_release_flow(agents)
        self.flows: Sequence[FlowDef[Any]] = (self._flow,)

    async def releases(self, session: AsyncSession, uuids: Sequence[str]) -> Sequence[Release]:
        rows = await session.execute(
            select(DiagResource.uuid, DiagResource.parent_uuid, DiagResource.agent_url)
            .where(DiagResource.uuid.in_(uuids), DiagResource.agent_url.is_not(None))
            .order_by(DiagResource.uuid)  # a resumed release step numbers its runs the same
        )
        return [
            Release(
                self._flow,
                DiagVmReleaseCtx(vmUuid=u, hostUuid=host or "", agentUrl=str(url)),
            )
            for u, host, url in rows.all()
        ]
