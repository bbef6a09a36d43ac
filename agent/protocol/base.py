"""Base models of the agent protocol: commands, replies, task status, header names."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

TASK_UUID_HEADER = "X-Task-UUID"
CALLBACK_URL_HEADER = "X-Callback-URL"
# Lets a callback receiver route a reply without a database look-up when it trusts the agent;
# management nodes still check it against the pending-task row.
RESOURCE_UUID_HEADER = "X-Resource-UUID"
TASK_STATE_HEADER = "X-Task-State"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class AgentReply(_Model):
    """What every command answers. ``success=False`` carries the agent's reason in ``error``."""

    success: bool = True
    error: str | None = Field(default=None, description="Why the command failed, if it did.")
    errorCode: str | None = Field(
        default=None, description="A stable machine-readable reason, e.g. 'CAPACITY'."
    )
    # Added in 0.2 (additive: an older agent never sends it, and False is what the management
    # plane assumed before): lets the agent say a failure is transient (host busy, a lock
    # held) so a flow step retries it, instead of every failure being final.
    retryable: bool = Field(
        default=False,
        description="On failure: true when trying the command again (a new task) may succeed.",
    )


class AgentCommand(_Model):
    """A command to an agent. Subclasses set ``path``, ``reply_type`` and ``is_async``."""

    path: ClassVar[str] = ""
    reply_type: ClassVar[type[AgentReply]] = AgentReply
    is_async: ClassVar[bool] = True

    @classmethod
    def command_name(cls) -> str:
        return cls.__name__


class TaskState(StrEnum):
    RUNNING = "Running"
    DONE = "Done"


class TaskStatus(_Model):
    """Answer of ``GET /tasks/{taskUuid}``."""

    taskUuid: str
    command: str
    state: TaskState
    reply: dict[str, Any] | None = None
