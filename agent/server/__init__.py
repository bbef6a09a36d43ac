"""The agent HTTP runtime shared by every agent (simulator now; KVM and VMware later).

``AgentEndpoint`` turns an HTTP request into a protocol command, runs it (async commands in
the background, answering 202 at once), remembers each task UUID so a task never runs twice,
and POSTs the reply to the caller's callback URL with retries.
"""

from agent.server.callbacks import CallbackSender
from agent.server.endpoint import AgentEndpoint, CommandRunner
from agent.server.tasks import TaskRecord, TaskRegistry
from agent.server.threads import BlockingPool

__all__ = [
    "AgentEndpoint",
    "BlockingPool",
    "CallbackSender",
    "CommandRunner",
    "TaskRecord",
    "TaskRegistry",
]
