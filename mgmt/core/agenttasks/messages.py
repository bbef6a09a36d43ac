"""Bus messages of agent tasks."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from mgmt.core.messages import Event, Message


class AgentTaskCompleted(Message):
    """An agent's reply arrived (at any frontend); routed to the resource's owner."""

    route_by: ClassVar[str] = "resourceUuid"
    resourceUuid: str
    taskUuid: str
    reply: dict[str, Any]
    receivedBy: str = Field(default="", description="Which frontend took the callback.")

    def sync_signature(self) -> str:
        # Replies must not queue behind the long operation that awaits them.
        return f"agent-task:{self.taskUuid}"


class AgentTaskFinished(Event):
    """A task reached a final status (Done, Failed or TimedOut)."""

    resourceUuid: str
    taskUuid: str
    status: str
    completedBy: str


class AgentReported(Message):
    """An agent reported a change on its own (``agent.protocol.VmStateChangedReport``,
    at any frontend); routed to the owner of the host it names, whose sync reads the host
    again. Handled by the service that syncs what the report is about."""

    route_by: ClassVar[str] = "hostUuid"
    hostUuid: str
    kind: str = Field(description="The report model's name, e.g. VmStateChangedReport.")
    report: dict[str, Any]
    receivedBy: str = Field(default="", description="Which frontend took the report.")

    def sync_signature(self) -> str:
        # in order per host, but never behind the host's own operations (a reconnect)
        return f"agent-report:{self.hostUuid}"
