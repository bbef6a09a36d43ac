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
    """Send PingHost to an agent; the continuation records the outcome in diag tables."""

    resourceUuid: str = Field(min_length=1, max_length=64, description="The host UUID.")
    agentUrl: str = Field(min_length=1, max_length=2048)
    wait: bool = Field(default=True, description="Wait for the reply on this node.")
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


class DeleteDiagResourceReply(Reply):
    deleted: list[str] = Field(description="Types deleted, in order.")


class DeleteDiagResource(Request[DeleteDiagResourceReply]):
    resourceUuid: str = Field(min_length=1, max_length=64)
    type: str
    deleteMode: str = Field(default="Permissive", pattern="^(Permissive|Enforcing)$")
