"""Agent tasks: commands sent to agents over HTTP whose replies come back by callback.

Pending tasks are database rows, so a reply reaches whoever owns the resource's partition
now, even if the node that sent the command has died. See ``client`` (sending),
``receiver`` (the callback endpoint's logic, run by API frontends) and ``service`` (the
owner side: completion, timeouts, recovery of lost callbacks).
"""

from mgmt.core.agenttasks.client import AgentClient, AgentHttpError
from mgmt.core.agenttasks.messages import AgentTaskCompleted
from mgmt.core.agenttasks.models import AgentTaskRow, TaskStatus
from mgmt.core.agenttasks.receiver import CallbackOutcome, receive_callback
from mgmt.core.agenttasks.service import AgentTaskService, TaskContinuation, TaskOutcome

__all__ = [
    "AgentClient",
    "AgentHttpError",
    "AgentTaskCompleted",
    "AgentTaskRow",
    "AgentTaskService",
    "CallbackOutcome",
    "TaskContinuation",
    "TaskOutcome",
    "TaskStatus",
    "receive_callback",
]
