"""Agent tasks: commands sent to agents over HTTP whose replies come back by callback.

Pending tasks are database rows, so a reply reaches whoever owns the resource's partition
now, even if the node that sent the command has died. See ``step`` (``AgentStep``: how a
flow sends a command and continues after the reply, durably), ``client`` (sending and
re-attaching), ``receiver`` (the callback endpoint's logic, run by API frontends) and
``service`` (the owner side: completion, timeouts, recovery of lost callbacks).
"""

from mgmt.core.agenttasks.client import AgentCall, AgentClient, AgentHttpError
from mgmt.core.agenttasks.messages import AgentReported, AgentTaskCompleted
from mgmt.core.agenttasks.models import AgentTaskRow, TaskStatus
from mgmt.core.agenttasks.receiver import CallbackOutcome, receive_callback, receive_report
from mgmt.core.agenttasks.service import AgentTaskService, TaskOutcome
from mgmt.core.agenttasks.step import FLOW_STEP_KIND, AgentStep, run_task, task_uuid_of

__all__ = [
    "FLOW_STEP_KIND",
    "AgentCall",
    "AgentClient",
    "AgentHttpError",
    "AgentReported",
    "AgentStep",
    "AgentTaskCompleted",
    "AgentTaskRow",
    "AgentTaskService",
    "CallbackOutcome",
    "TaskOutcome",
    "TaskStatus",
    "receive_callback",
    "receive_report",
    "run_task",
    "task_uuid_of",
]
