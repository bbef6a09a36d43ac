"""``AgentStep``: a flow step that is an agent command, durable across take-overs.

This is how a flow continues after an agent replies — the only way: the step sends the
command and waits for the task's outcome; the reply, wherever it arrives, finishes the task
row on the resource's owner, and the step reads it. Declared in a flow like any step::

    class StartOnHost(AgentStep[StartVmCtx]):
        name = "start-on-host"

        def command(self, ctx):
            return AgentCall(ctx.agentUrl, StartVm(vmUuid=ctx.vmUuid, ...), ctx.hostUuid)

        def compensation(self, ctx, reply):  # what rollback sends
            return AgentCall(ctx.agentUrl, DestroyVm(vmUuid=ctx.vmUuid), ctx.hostUuid)

        def merge(self, ctx, reply):  # copy what the flow needs from the reply
            ctx.powerState = reply["powerState"]

Guarantees:

- **Sent once per attempt.** The task UUID is derived from (flow run, step, phase, attempt)
  (``StepAttempt.derive_uuid``), so a step resumed after its node died — on the node that
  took the run over — re-attaches to the task it already sent: it finds the stored outcome,
  or asks the agent (``GET /tasks/{uuid}``), and POSTs only if the agent never got it.
  Agents never run a task UUID twice, so the command runs once.
- **Rollback** sends ``compensation(ctx, reply)`` under its own derived UUID (phase
  ``rollback``, or ``gc:<job>`` when the GC queue retries it); ``reply`` is None when the
  command may have run without a reply here — the node died inside the run
  (``Interrupt.ROLLBACK``), or the task passed its deadline (``OperationTimeout``: the
  flow's rollback then undoes this failed step too, ``undo_on_timeout``). Such an undo
  first waits for the command to end on its agent (``settle``), so it never overtakes it.
- **Errors are explicit.** A reply with ``success: false`` raises ``PermanentError``, or
  ``TemporaryError`` when the agent marked it ``retryable``; an unreachable agent, a task
  the agent does not know and a task past its deadline raise ``TemporaryError``. The
  step's ``RetryPolicy`` then decides; each retry is a new attempt, hence a new task.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from mgmt.core.agenttasks.client import AgentCall, AgentClient, AgentHttpError
from mgmt.core.agenttasks.models import TaskStatus
from mgmt.core.agenttasks.service import TaskOutcome
from mgmt.core.errors import (
    Codes,
    ErrorCode,
    OperationTimeout,
    PermanentError,
    TemporaryError,
    error,
)
from mgmt.core.flow import RetryPolicy, Step, StepAttempt, current_attempt

C = TypeVar("C", bound=BaseModel)

#: ``agent_task.kind`` of tasks sent by flow steps.
FLOW_STEP_KIND = "flow-step"


class AgentStep(Step[C], Generic[C]):
    """A step whose work is one agent command (see the module docstring)."""

    retry: ClassVar[RetryPolicy] = RetryPolicy(max_attempts=3, initial_delay=1.0)
    #: a command that timed out may have run: the flow's rollback undoes this step too
    undo_on_timeout: ClassVar[bool] = True
    #: how long a rollback waits for a timed-out command to end on its agent (``settle``);
    #: past it the rollback goes to the GC queue, which settles again on each retry
    settle_timeout: ClassVar[float] = 10.0
    #: How often a waiting step re-reads the task row, s: it notices an outcome finished on
    #: another node (the partition moved) without a wake-up here.
    poll_interval: ClassVar[float] = 2.0

    def __init__(self, agents: AgentClient) -> None:
        self.agents = agents

    def command(self, ctx: C) -> AgentCall:
        """The command this step sends."""
        raise NotImplementedError

    def compensation(self, ctx: C, reply: dict[str, Any] | None) -> AgentCall | None:
        """The command that undoes it (rollback), or None when there is nothing to undo."""
        return None

    def merge(self, ctx: C, reply: dict[str, Any]) -> None:
        """Copy what the flow needs from the agent's reply into ``ctx`` (after success)."""
        return None

    async def run(self, ctx: C) -> Any:
        reply = await self.execute(self.command(ctx))
        self.merge(ctx, reply)
        return {"reply": reply}

    async def rollback(self, ctx: C, result: Any) -> None:
        reply = result.get("reply") if isinstance(result, dict) else None
        call = self.compensation(ctx, reply)
        if call is None:
            return
        if reply is None:  # the command may have run, or may be running still
            await self.settle()
        await self.execute(call)

    async def settle(self) -> None:
        """Wait until no ``run`` attempt of this step is still running on its agent, so an
        undo never overtakes the command it undoes (a task past its deadline here may
        still be running there). Waits up to ``settle_timeout`` seconds, then raises
        ``TemporaryError``: the rollback is retried (by the GC queue, with back-off) —
        as it is when the agent cannot say."""
        attempt = current_attempt()
        tasks = [
            task_uuid_of(replace(attempt, phase="run", attempt=i))
            for i in range(1, self.retry.max_attempts + 1)
        ]
        deadline = time.monotonic() + self.settle_timeout
        for task in tasks:
            while True:
                try:
                    running = await self.agents.still_running(task)
                except AgentHttpError as exc:
                    raise TemporaryError(exc.error) from exc
                if not running:
                    break
                if time.monotonic() > deadline:
                    raise TemporaryError(
                        error(Codes.AGENT_TIMEOUT, f"task {task} still running on its agent")
                    )
                await asyncio.sleep(self.poll_interval)

    def task_uuid(self, purpose: str = "") -> str:
        """The task UUID of the current attempt (inside ``run``/``rollback``)."""
        return task_uuid_of(current_attempt(), purpose)

    async def execute(self, call: AgentCall, purpose: str = "") -> dict[str, Any]:
        """Send ``call`` as this attempt's task (``purpose`` tells several calls of one step
        apart) and return the agent's reply; raises as the module docstring says."""
        attempt = current_attempt()
        return await run_task(self.agents, attempt, call, purpose, self.poll_interval)


async def run_task(
    agents: AgentClient,
    attempt: StepAttempt,
    call: AgentCall,
    purpose: str = "",
    poll_interval: float = 2.0,
) -> dict[str, Any]:
    """The agent command of one step attempt, sent once and awaited (``AgentStep.execute``)."""
    task_uuid = task_uuid_of(attempt, purpose)
    resource = call.resource_uuid or attempt.resource_uuid
    # watch before sending: the reply may be back before the POST returns
    fut = agents.service.wait(task_uuid)
    try:
        await agents.send(
            task_uuid,
            call,
            resource_uuid=resource,
            kind=FLOW_STEP_KIND,
            context={
                "flowUuid": attempt.flow_uuid,
                "flow": attempt.flow_name,
                "step": attempt.step,
                "phase": attempt.phase,
                "attempt": attempt.attempt,
            },
        )
        outcome = await _outcome(agents, task_uuid, fut, poll_interval)
    finally:
        agents.service.forget(task_uuid)
    return _reply_or_raise(outcome, call)


def task_uuid_of(attempt: StepAttempt, purpose: str = "") -> str:
    """The task UUID a step attempt sends its command under (callers that answer before
    the flow ends, e.g. with "Pending", can name the task)."""
    return attempt.derive_uuid(f"agent-task:{purpose}")


async def _outcome(
    agents: AgentClient, task_uuid: str, fut: asyncio.Future[TaskOutcome], poll: float
) -> TaskOutcome:
    while True:
        if fut.done():
            return fut.result()
        stored = await agents.outcome(task_uuid)
        if stored is not None:
            return stored
        await asyncio.wait({fut}, timeout=poll)


def _reply_or_raise(outcome: TaskOutcome, call: AgentCall) -> dict[str, Any]:
    if outcome.status == TaskStatus.DONE and outcome.reply is not None:
        return outcome.reply
    name = call.command.command_name()
    cause = outcome.error or error(Codes.AGENT_ERROR, f"{name} ended {outcome.status}")
    err: ErrorCode = error(
        Codes.AGENT_ERROR if outcome.reply is not None else cause_kind(cause),
        f"{name} on host {call.host_uuid} failed: {cause.details}",
        taskUuid=outcome.task_uuid,
        command=name,
        hostUuid=call.host_uuid,
    ).caused(cause)
    if outcome.reply is not None and not outcome.reply.get("retryable", False):
        raise PermanentError(err)  # the agent ran it and said no; it says when to retry
    if outcome.status == TaskStatus.TIMED_OUT:
        raise OperationTimeout(err)  # it may have run, or be running: a rollback undoes it
    # timed out, unreachable, unknown to the agent, or a failure the agent called transient
    raise TemporaryError(err)


def cause_kind(cause: ErrorCode) -> tuple[str, str]:
    """The catalogue entry of a failure without an agent reply (kept as the error's code)."""
    for kind in (Codes.AGENT_TIMEOUT, Codes.AGENT_UNREACHABLE):
        if kind[0] == cause.code:
            return kind
    return Codes.AGENT_ERROR
