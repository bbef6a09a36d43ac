"""Handlers of the diagnostics service: thin, each validate -> act -> reply."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from agent.protocol import PingHost
from mgmt.core.agenttasks import (
    AgentClient,
    AgentTaskRow,
    TaskContinuation,
    TaskOutcome,
)
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.cascade import CascadeCtx, CascadeDeleter
from mgmt.core.db import Database, first_time
from mgmt.core.errors import Codes, PermanentError, ZCloudError, error
from mgmt.core.flow import FlowDef, FlowEngine, FlowFailed
from mgmt.core.gconfig import GlobalConfigService
from mgmt.core.logging import get_logger
from mgmt.core.messages import Message
from mgmt.core.tags import TagService
from mgmt.diag.cascade import TYPES
from mgmt.diag.flows import STEPS, DiagFlowCtx, arm_rollback_faults, counter_flows, counters_of
from mgmt.diag.messages import (
    CreateDiagResource,
    DeleteDiagResource,
    DeleteDiagResourceReply,
    DiagResourceReply,
    Echo,
    EchoReply,
    PingAgent,
    PingAgentReply,
    RecordSequence,
    RecordSequenceReply,
    RunDiagFlow,
    RunDiagFlowReply,
)
from mgmt.diag.models import DiagAgentResult, DiagRecord, DiagResource

PING_KIND = "diag.agent-ping"

log = get_logger(__name__)


class DiagService:
    def __init__(
        self,
        db: Database,
        agents: AgentClient,
        *,
        engine: FlowEngine,
        tags: TagService,
        gconfig: GlobalConfigService,
        cascade: FlowDef[CascadeCtx],
        test_hooks: bool = False,
    ) -> None:
        self._db = db
        self._test_hooks = test_hooks
        self._agents = agents
        self._engine = engine
        self._deleter = CascadeDeleter(engine, cascade)
        self._resume_flow, self._rollback_flow = counter_flows(db, tags, gconfig)

    def flows(self) -> tuple[FlowDef[DiagFlowCtx], ...]:
        return (self._resume_flow, self._rollback_flow)

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            Echo: self.echo,
            RecordSequence: self.record,
            PingAgent: self.ping_agent,
            RunDiagFlow: self.run_flow,
            CreateDiagResource: self.create_resource,
            DeleteDiagResource: self.delete_resource,
        }

    async def run_flow(self, msg: RunDiagFlow, ctx: HandlerContext) -> RunDiagFlowReply:
        flow = self._resume_flow if msg.onInterrupt == "resume" else self._rollback_flow
        run_id = ctx.message_id  # a redelivered message joins or resumes the same run
        # killAt is a test hook: anyone who may send RunDiagFlow must not be able to kill a
        # node that did not opt in, so without the setting it is dropped (and logged)
        kill_at = msg.killAt if self._test_hooks else None
        if msg.killAt and not self._test_hooks:
            log.warning("diag.kill_hook_disabled", killAt=msg.killAt, run=run_id)
        await arm_rollback_faults(self._db, run_id, msg.rollbackFailures)
        state, err = "Succeeded", None
        try:
            await self._engine.run(
                flow,
                DiagFlowCtx(
                    resourceUuid=msg.resourceUuid,
                    runId=run_id,
                    failAt=msg.failAt,
                    killAt=kill_at,
                    stepDelayMs=msg.stepDelayMs,
                ),
                resource_uuid=msg.resourceUuid,
                flow_uuid=run_id,
                deadline=ctx.deadline,
            )
        except FlowFailed as failed:
            rec = await self._engine.store.load(run_id)
            state = rec.state if rec else "Unknown"
            err = failed.error.model_dump_json()
        counters = await counters_of(self._db, msg.resourceUuid)
        return RunDiagFlowReply(
            counters={k: v for k, v in counters.items() if k in STEPS},
            node=ctx.node_id,
            state=state,
            error=err,
        )

    async def create_resource(
        self, msg: CreateDiagResource, ctx: HandlerContext
    ) -> DiagResourceReply:
        if msg.type not in TYPES:
            raise PermanentError(error(Codes.BAD_MESSAGE, f"unknown diag type {msg.type!r}"))
        async with self._db.session() as s, s.begin():
            if await s.get(DiagResource, msg.resourceUuid) is None:
                s.add(
                    DiagResource(
                        uuid=msg.resourceUuid,
                        type=msg.type,
                        parent_uuid=msg.parentUuid,
                        other_parent_uuid=msg.otherParentUuid,
                        veto_reason=msg.vetoReason,
                    )
                )
        return DiagResourceReply(uuid=msg.resourceUuid)

    async def delete_resource(
        self, msg: DeleteDiagResource, ctx: HandlerContext
    ) -> DeleteDiagResourceReply:
        deleted = await self._deleter.delete(
            msg.type,
            msg.resourceUuid,
            msg.deleteMode,
            run_id=ctx.message_id,
            deadline=ctx.deadline,
        )
        return DeleteDiagResourceReply(deleted=deleted)

    def continuations(self) -> dict[str, TaskContinuation]:
        return {PING_KIND: self}

    async def echo(self, msg: Echo, ctx: HandlerContext) -> EchoReply:
        if msg.sleepMs:
            await asyncio.sleep(msg.sleepMs / 1000)
        if msg.fail:
            raise ZCloudError(error(Codes.INTERNAL, "asked to fail"))
        return EchoReply(text=msg.text, node=ctx.node_id, partition=ctx.partition)

    async def record(self, msg: RecordSequence, ctx: HandlerContext) -> RecordSequenceReply:
        if msg.sleepMs:
            await asyncio.sleep(msg.sleepMs / 1000)
        async with self._db.session() as s, s.begin():
            fresh = await first_time(s, ctx.message_id)
            if fresh:
                s.add(
                    DiagRecord(
                        resource_uuid=msg.resourceUuid,
                        seq=msg.seq,
                        node=ctx.node_id,
                        message_id=ctx.message_id,
                    )
                )
        return RecordSequenceReply(node=ctx.node_id, duplicate=not fresh)

    async def ping_agent(self, msg: PingAgent, ctx: HandlerContext) -> PingAgentReply:
        send = self._agents.call if msg.wait else self._agents.submit
        result = await send(
            resource_uuid=msg.resourceUuid,
            host_uuid=msg.resourceUuid,
            agent_url=msg.agentUrl,
            command=PingHost(hostUuid=msg.resourceUuid),
            kind=PING_KIND,
            timeout=msg.timeoutSeconds,
        )
        if isinstance(result, str):
            return PingAgentReply(taskUuid=result, status="Pending")
        return PingAgentReply(taskUuid=result.task_uuid, status=result.status)

    async def task_finished(
        self, session: AsyncSession, task: AgentTaskRow, outcome: TaskOutcome
    ) -> None:
        session.add(
            DiagAgentResult(
                task_uuid=task.task_uuid,
                resource_uuid=task.resource_uuid,
                status=outcome.status,
                completed_by=task.completed_by or "",
            )
        )
