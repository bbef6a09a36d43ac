"""Handlers of the diagnostics service: thin, each validate -> act -> reply."""

from __future__ import annotations

import asyncio
from typing import Any

from mgmt.allocator import HostAllocator
from mgmt.core.agenttasks import AgentClient, task_uuid_of
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.cascade import CascadeCtx, CascadeDeleter
from mgmt.core.db import Database, first_time
from mgmt.core.errors import Codes, PermanentError, ZCloudError, error
from mgmt.core.flow import FlowDef, FlowEngine, FlowFailed, StepAttempt
from mgmt.core.gconfig import GlobalConfigService
from mgmt.core.logging import get_logger
from mgmt.core.messages import Message
from mgmt.core.states import StatefulOperation, StatefulRunner, current_state
from mgmt.core.tags import TagService
from mgmt.diag.agentflows import DiagPingCtx, DiagVmCtx, ping_flow, vm_flow
from mgmt.diag.allocate import DiagAllocations
from mgmt.diag.cascade import TYPES
from mgmt.diag.flows import STEPS, DiagFlowCtx, arm_rollback_faults, counter_flows, counters_of
from mgmt.diag.messages import (
    CreateDiagResource,
    CreateDiagStateful,
    DeleteDiagResource,
    DeleteDiagResourceReply,
    DiagResourceReply,
    DiagStateOperationReply,
    Echo,
    EchoReply,
    PingAgent,
    PingAgentReply,
    RecordSequence,
    RecordSequenceReply,
    RunDiagAllocate,
    RunDiagAllocateReply,
    RunDiagFlow,
    RunDiagFlowReply,
    RunDiagReserve,
    RunDiagReserveReply,
    RunDiagStateOperation,
    RunDiagVmFlow,
    RunDiagVmFlowReply,
)
from mgmt.diag.models import DiagRecord, DiagResource, DiagStateful
from mgmt.diag.reserve import DiagReserveCtx, reserve_flows
from mgmt.diag.states import DIAG_STATES, DiagState, state_operations

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
        states: StatefulRunner,
        test_hooks: bool = False,
        allocator: HostAllocator | None = None,
    ) -> None:
        self._db = db
        self._allocations = DiagAllocations(engine, allocator) if allocator else None
        self._test_hooks = test_hooks
        self._agents = agents
        self._engine = engine
        self._deleter = CascadeDeleter(engine, cascade)
        self._resume_flow, self._rollback_flow = counter_flows(db, tags, gconfig)
        self._states = states
        self._state_ops = state_operations(db, tags, gconfig)
        self._reserve_flow, self._reserve_rollback_flow = reserve_flows(db)
        self._ping_flow = ping_flow(db, agents)
        self._vm_flow = vm_flow(agents)

    def flows(self) -> tuple[FlowDef[Any], ...]:
        state_flows = {op.flow.name: op.flow for op in self._state_ops.values()}
        return (
            self._resume_flow,
            self._rollback_flow,
            *state_flows.values(),
            self._reserve_flow,
            self._reserve_rollback_flow,
            self._ping_flow,
            self._vm_flow,
            *(self._allocations.flows() if self._allocations else ()),
        )

    def stateful_operations(self) -> list[StatefulOperation[DiagFlowCtx]]:
        return list(self._state_ops.values())

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            Echo: self.echo,
            RecordSequence: self.record,
            PingAgent: self.ping_agent,
            RunDiagFlow: self.run_flow,
            RunDiagReserve: self.run_reserve,
            RunDiagAllocate: self.run_allocate,
            RunDiagVmFlow: self.run_vm_flow,
            CreateDiagResource: self.create_resource,
            DeleteDiagResource: self.delete_resource,
            CreateDiagStateful: self.create_stateful,
            RunDiagStateOperation: self.run_state_operation,
        }

    def _kill_at(self, kill_at: str | None, run_id: str) -> str | None:
        """``killAt`` is a test hook: anyone who may send a diag message must not be able to
        kill a node that did not opt in, so without the setting it is dropped (and logged)."""
        if kill_at and not self._test_hooks:
            log.warning("diag.kill_hook_disabled", killAt=kill_at, run=run_id)
            return None
        return kill_at

    async def run_flow(self, msg: RunDiagFlow, ctx: HandlerContext) -> RunDiagFlowReply:
        flow = self._resume_flow if msg.onInterrupt == "resume" else self._rollback_flow
        run_id = ctx.message_id  # a redelivered message joins or resumes the same run
        kill_at = self._kill_at(msg.killAt, run_id)
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

    async def create_stateful(
        self, msg: CreateDiagStateful, ctx: HandlerContext
    ) -> DiagResourceReply:
        state = DiagState(msg.state)
        if DIAG_STATES.is_transitional(state):  # only an operation's run may hold one
            raise PermanentError(error(Codes.BAD_MESSAGE, f"cannot create in {state}"))
        async with self._db.session() as s, s.begin():
            if await s.get(DiagStateful, msg.resourceUuid) is None:
                s.add(DiagStateful(uuid=msg.resourceUuid, state=str(state)))
        return DiagResourceReply(uuid=msg.resourceUuid)

    async def run_state_operation(
        self, msg: RunDiagStateOperation, ctx: HandlerContext
    ) -> DiagStateOperationReply:
        op = self._state_ops[(msg.operation, msg.onInterrupt)]
        run_id = ctx.message_id  # the holder: a redelivered message finds its own run
        flow_state, err = "Succeeded", None
        try:
            await self._states.run(
                op,
                DiagFlowCtx(
                    resourceUuid=msg.resourceUuid,
                    runId=run_id,
                    failAt=msg.failAt,
                    killAt=self._kill_at(msg.killAt, run_id),
                    stepDelayMs=msg.stepDelayMs,
                ),
                resource_uuid=msg.resourceUuid,
                run_id=run_id,
                deadline=ctx.deadline,
            )
        except FlowFailed as failed:
            rec = await self._engine.store.load(run_id)
            flow_state = rec.state if rec else "Unknown"
            err = failed.error.model_dump_json()
        async with self._db.session() as s:
            state = await current_state(s, DIAG_STATES, msg.resourceUuid)
        return DiagStateOperationReply(
            state=str(state), flowState=flow_state, node=ctx.node_id, error=err
        )

    async def run_reserve(self, msg: RunDiagReserve, ctx: HandlerContext) -> RunDiagReserveReply:
        flow = self._reserve_flow if msg.onInterrupt == "resume" else self._reserve_rollback_flow
        state, err = "Succeeded", None
        try:
            await self._engine.run(
                flow,
                DiagReserveCtx(
                    resourceUuid=msg.resourceUuid,
                    ownerUuid=msg.ownerUuid,
                    amount=msg.amount,
                    killAt=self._kill_at(msg.killAt, ctx.message_id),
                    failAt=msg.failAt,
                ),
                resource_uuid=msg.resourceUuid,
                flow_uuid=ctx.message_id,  # a redelivered message joins or resumes the run
                deadline=ctx.deadline,
            )
        except FlowFailed as failed:
            rec = await self._engine.store.load(ctx.message_id)
            state = rec.state if rec else "Unknown"
            err = failed.error.model_dump_json()
        return RunDiagReserveReply(state=state, node=ctx.node_id, error=err)

    async def run_allocate(self, msg: RunDiagAllocate, ctx: HandlerContext) -> RunDiagAllocateReply:
        if self._allocations is None:
            raise PermanentError(error(Codes.BAD_MESSAGE, "no host allocator on this node"))
        return await self._allocations.run(msg, ctx, self._kill_at(msg.killAt, ctx.message_id))

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
                        agent_url=msg.agentUrl,
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
        run_id = ctx.message_id  # a redelivered message joins or resumes the same run
        flow_ctx = DiagPingCtx(
            hostUuid=msg.resourceUuid, agentUrl=msg.agentUrl, timeoutSeconds=msg.timeoutSeconds
        )
        if not msg.wait:
            await self._engine.start(
                self._ping_flow, flow_ctx, resource_uuid=msg.resourceUuid, flow_uuid=run_id
            )
            first = StepAttempt(run_id, self._ping_flow.name, msg.resourceUuid, "ping", "run", 1)
            return PingAgentReply(taskUuid=task_uuid_of(first), status="Pending")
        out = await self._engine.run(
            self._ping_flow,
            flow_ctx,
            resource_uuid=msg.resourceUuid,
            flow_uuid=run_id,
            deadline=ctx.deadline,
        )
        return PingAgentReply(taskUuid=out.taskUuid or "", status=out.status or "Failed")

    async def run_vm_flow(self, msg: RunDiagVmFlow, ctx: HandlerContext) -> RunDiagVmFlowReply:
        run_id = ctx.message_id
        try:
            out = await self._engine.run(
                self._vm_flow,
                DiagVmCtx(
                    vmUuid=msg.resourceUuid,
                    hostUuid=msg.hostUuid,
                    agentUrl=msg.agentUrl,
                    cpuNum=msg.cpuNum,
                    memoryBytes=msg.memoryBytes,
                    failAfterStart=msg.failAfterStart,
                ),
                resource_uuid=msg.resourceUuid,
                flow_uuid=run_id,
                deadline=ctx.deadline,
            )
        except FlowFailed as failed:
            rec = await self._engine.store.load(run_id)
            return RunDiagVmFlowReply(
                state=rec.state if rec else "Unknown",
                node=ctx.node_id,
                error=failed.error.model_dump_json(),
            )
        return RunDiagVmFlowReply(state="Succeeded", powerState=out.powerState, node=ctx.node_id)
