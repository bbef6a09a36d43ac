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
