"""Messages of the diagnostics service."""

from __future__ import annotations

from pydantic import Field

from mgmt.core.messages import Reply, Request


class EchoReply(Reply):
    text: str
    node: str = Field(description="Management node that handled the request.")
    partition: int


class Echo(Request[EchoReply]):
    """Answer ``text`` back from the owner of ``resourceUuid``'s partition."""

    resourceUuid: str = Field(min_length=1, max_length=64)
    text: str = Field(default="", max_length=65536)
    sleepMs: int = Field(default=0, ge=0, le=600_000, description="Work to simulate.")
    fail: bool = Field(default=False, description="Raise inside the handler (error path).")


class RecordSequenceReply(Reply):
    node: str
    duplicate: bool = Field(description="True when this message id was already recorded.")


class RecordSequence(Request[RecordSequenceReply]):
    """Record ``seq`` for a resource exactly once (dedupe by message id)."""

    resourceUuid: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0)
    sleepMs: int = Field(default=0, ge=0, le=600_000)


class PingAgentReply(Reply):
    taskUuid: str
    status: str = Field(description="Pending when not waited for; else the final status.")


class PingAgent(Request[PingAgentReply]):
    """Send PingHost to an agent in a durable flow (an agent step, then a step recording
    the outcome in diag tables, on whichever node owns the host when the reply comes)."""

    resourceUuid: str = Field(min_length=1, max_length=64, description="The host UUID.")
    agentUrl: str = Field(min_length=1, max_length=2048)
    wait: bool = Field(
        default=True,
        description="Wait for the outcome; false: answer Pending once the flow is recorded "
        "(the command is sent right after, and finished by the host's owner).",
    )
    timeoutSeconds: float = Field(default=60.0, gt=0, le=3600)


class RunDiagFlowReply(Reply):
    counters: dict[str, int] = Field(description="The resource's counters after the run.")
    node: str = Field(description="Node that finished the run.")
    state: str = Field(description="Succeeded or the flow's final failed state.")
    error: str | None = Field(default=None, description="Why the run failed, if it did.")


class RunDiagFlow(Request[RunDiagFlowReply]):
    """Run the 5-step diagnostic flow on a resource: each step adds to one counter.

    The fault fields drive failure tests: a step that fails, rollbacks that fail a number of
    times, a kill (SIGKILL of the node) at a step boundary, slow steps.
    """

    resourceUuid: str = Field(min_length=1, max_length=64)
    failAt: str | None = Field(default=None, description="Step (s1..s5) that fails.")
    rollbackFailures: dict[str, int] = Field(
        default_factory=dict, description="Step -> how many times its rollback fails."
    )
    killAt: str | None = Field(
        default=None,
        description="'before:sN', 'after:sN' or 'effect:sN': SIGKILL the first node there "
        "(test hook: ignored unless the node runs with ZCLOUD_TEST_HOOKS=1).",
    )
    onInterrupt: str = Field(default="resume", pattern="^(resume|rollback)$")
    stepDelayMs: int = Field(default=0, ge=0, le=60_000)


class DiagResourceReply(Reply):
    uuid: str


class CreateDiagResource(Request[DiagResourceReply]):
    resourceUuid: str = Field(min_length=1, max_length=64)
    type: str = Field(description="DiagZone, DiagCluster, DiagHost, DiagVm or DiagNic.")
    parentUuid: str | None = Field(default=None, description="The one parent it depends on.")
    otherParentUuid: str | None = Field(default=None, description="DiagNic: its cluster.")
    vetoReason: str | None = Field(default=None, description="Refuse Permissive deletes.")
    agentUrl: str | None = Field(
        default=None,
        max_length=2048,
        description="DiagVm: its host's agent; a delete destroys the VM there first.",
    )


class RunDiagVmFlowReply(Reply):
    state: str = Field(description="The flow's final state: Succeeded, RolledBack, Failed.")
    powerState: str | None = Field(default=None, description="What the agent reported.")
    node: str = Field(description="Node that answered (the one that finished the run).")
    error: str | None = Field(default=None, description="Why the run failed, if it did.")


class RunDiagVmFlow(Request[RunDiagVmFlowReply]):
    """Start a VM on a host's agent with a durable agent step (compensated by DestroyVm),
    then optionally fail the next step so the rollback runs."""

    resourceUuid: str = Field(min_length=1, max_length=64, description="The VM UUID.")
    hostUuid: str = Field(min_length=1, max_length=64)
    agentUrl: str = Field(min_length=1, max_length=2048)
    cpuNum: int = Field(default=1, ge=1, le=1024)
    memoryBytes: int = Field(default=1 << 30, ge=1)
    failAfterStart: bool = Field(default=False, description="Fail the step after the start.")


class DeleteDiagResourceReply(Reply):
    deleted: list[str] = Field(description="Types deleted, in order.")


class DeleteDiagResource(Request[DeleteDiagResourceReply]):
    resourceUuid: str = Field(min_length=1, max_length=64)
    type: str
    deleteMode: str = Field(default="Permissive", pattern="^(Permissive|Enforcing)$")


class CreateDiagStateful(Request[DiagResourceReply]):
    """Create a diag resource under the diag state machine (idempotent)."""

    resourceUuid: str = Field(min_length=1, max_length=64)
    state: str = Field(default="Stopped", description="Its first state: Stopped or Running.")


class DiagStateOperationReply(Reply):
    state: str = Field(description="The resource's state after the operation.")
    flowState: str = Field(description="Succeeded or the flow's final failed state.")
    node: str = Field(description="Node that answered.")
    error: str | None = Field(default=None, description="Why the run failed, if it did.")


class RunDiagStateOperation(Request[DiagStateOperationReply]):
    """Run ``operation`` (start, stop) of the diag state machine as the 5-step counter flow.

    Refused with STATE.1001 (409) when the resource's state does not allow it. The fault
    fields are those of ``RunDiagFlow``.
    """

    resourceUuid: str = Field(min_length=1, max_length=64)
    operation: str = Field(pattern="^(start|stop)$")
    failAt: str | None = Field(default=None, description="Step (s1..s5) that fails.")
    killAt: str | None = Field(
        default=None,
        description="'before:sN', 'after:sN', 'effect:sN' or 'rollback:sN' (before sN is "
        "undone): SIGKILL the first node there.",
    )
    onInterrupt: str = Field(default="resume", pattern="^(resume|rollback)$")
    stepDelayMs: int = Field(default=0, ge=0, le=60_000)


class RunDiagReserveReply(Reply):
    state: str = Field(description="Succeeded or the flow's final failed state.")
    node: str = Field(description="Node that finished the run.")
    error: str | None = Field(default=None, description="Why the run failed, if it did.")


class RunDiagReserve(Request[RunDiagReserveReply]):
    """Run the diagnostic reservation flow: reserve ``amount`` of the ``diag.capacity``
    counter of ``ownerUuid`` (a ``ReserveCounter`` step), then a step that may fail."""

    resourceUuid: str = Field(min_length=1, max_length=64)
    ownerUuid: str = Field(min_length=1, max_length=64, description="The counter's owner.")
    amount: int = Field(ge=1, description="How much to reserve.")
    killAt: str | None = Field(
        default=None, description="'effect:reserve': SIGKILL the node after the reserve."
    )
    failAt: str | None = Field(default=None, description="'after-reserve': fail there.")
    onInterrupt: str = Field(default="resume", pattern="^(resume|rollback)$")


class RunDiagAllocateReply(Reply):
    state: str = Field(description="Succeeded or the flow's final failed state.")
    node: str = Field(description="Node that finished the run.")
    error: str | None = Field(default=None, description="Why the run failed, if it did.")
    hostUuid: str | None = Field(default=None, description="The host allocated.")


class RunDiagAllocate(Request[RunDiagAllocateReply]):
    """Run the diagnostic allocation flow: allocate a host for ``cpuNum`` vCPUs and
    ``memorySize`` bytes (an ``AllocateHost`` step), then a step that may fail."""

    resourceUuid: str = Field(min_length=1, max_length=64)
    cpuNum: int = Field(ge=1, description="vCPUs to allocate.")
    memorySize: int = Field(ge=1, description="Bytes of memory to allocate.")
    killAt: str | None = Field(
        default=None, description="'effect:allocate': SIGKILL the node after the allocation."
    )
    failAt: str | None = Field(default=None, description="'after-allocate': fail there.")
    onInterrupt: str = Field(default="resume", pattern="^(resume|rollback)$")
