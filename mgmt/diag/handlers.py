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
from mgmt.core.db import Database, first_time
from mgmt.core.errors import Codes, ZCloudError, error
from mgmt.core.messages import Message
from mgmt.diag.messages import (
    Echo,
    EchoReply,
    PingAgent,
    PingAgentReply,
    RecordSequence,
    RecordSequenceReply,
)
from mgmt.diag.models import DiagAgentResult, DiagRecord

PING_KIND = "diag.agent-ping"


class DiagService:
    def __init__(self, db: Database, agents: AgentClient) -> None:
        self._db = db
        self._agents = agents

    def handlers(self) -> dict[type[Message], Handler]:
        return {Echo: self.echo, RecordSequence: self.record, PingAgent: self.ping_agent}

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
