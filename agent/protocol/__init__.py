"""The agent HTTP protocol, shared by management nodes and every agent.

Async commands: the management node POSTs a command to ``<agent base URL><command.path>``
with the headers ``X-Task-UUID`` and ``X-Callback-URL``. The agent answers ``202`` at once,
runs the command, and POSTs the reply (JSON of the command's reply model) to the callback URL
with the same ``X-Task-UUID``. A task UUID the agent has seen is never run twice; asking again
answers ``202`` (still running) or re-sends the stored reply to the callback URL.
``GET <base>/tasks/{taskUuid}`` tells a task's state and, when done, its reply.

Sync commands (cheap calls only: ``/host/echo``, ``/host/connect``) answer ``200`` with the
reply body directly.
"""

from agent.protocol.base import (
    CALLBACK_URL_HEADER,
    RESOURCE_UUID_HEADER,
    TASK_STATE_HEADER,
    TASK_UUID_HEADER,
    AgentCommand,
    AgentReply,
    TaskState,
    TaskStatus,
)
from agent.protocol.host import (
    ConnectHost,
    ConnectHostReply,
    Echo,
    EchoReply,
    HeartbeatHost,
    HeartbeatHostReply,
    HostCapacity,
    HostCapacityReply,
    HostFacts,
    HostFactsReply,
    LocalStorage,
    PingHost,
    PingHostReply,
)
from agent.protocol.network import (
    RealizeL2Network,
    RealizeL2NetworkReply,
    UnrealizeL2Network,
    UnrealizeL2NetworkReply,
)
from agent.protocol.storage import (
    ConnectBackupStorage,
    DeleteImageBits,
    DownloadImage,
    DownloadImageReply,
    DownloadProgress,
    DownloadProgressReply,
    MountPrimaryStorage,
    StorageCapacityReply,
    UnmountPrimaryStorage,
)
from agent.protocol.vm import (
    DestroyVm,
    DestroyVmReply,
    GetVmStates,
    GetVmStatesReply,
    PauseVm,
    PauseVmReply,
    RebootVm,
    RebootVmReply,
    ResumeVm,
    ResumeVmReply,
    StartVm,
    StartVmReply,
    StopVm,
    StopVmReply,
    VmPowerState,
    VmStateChangedReport,
)

ALL_COMMANDS: tuple[type[AgentCommand], ...] = (
    Echo,
    ConnectHost,
    HostFacts,
    PingHost,
    HeartbeatHost,
    HostCapacity,
    StartVm,
    StopVm,
    RebootVm,
    PauseVm,
    ResumeVm,
    DestroyVm,
    GetVmStates,
    RealizeL2Network,
    UnrealizeL2Network,
    MountPrimaryStorage,
    UnmountPrimaryStorage,
    ConnectBackupStorage,
    DownloadImage,
    DownloadProgress,
    DeleteImageBits,
)
_BY_NAME = {c.command_name(): c for c in ALL_COMMANDS}


def command_by_name(name: str) -> type[AgentCommand] | None:
    """The protocol command class called ``name`` (its class name), if there is one."""
    return _BY_NAME.get(name)


__all__ = [
    "ALL_COMMANDS",
    "CALLBACK_URL_HEADER",
    "RESOURCE_UUID_HEADER",
    "TASK_STATE_HEADER",
    "TASK_UUID_HEADER",
    "AgentCommand",
    "AgentReply",
    "ConnectBackupStorage",
    "ConnectHost",
    "ConnectHostReply",
    "DeleteImageBits",
    "DestroyVm",
    "DestroyVmReply",
    "DownloadImage",
    "DownloadImageReply",
    "DownloadProgress",
    "DownloadProgressReply",
    "Echo",
    "EchoReply",
    "GetVmStates",
    "GetVmStatesReply",
    "HeartbeatHost",
    "HeartbeatHostReply",
    "HostCapacity",
    "HostCapacityReply",
    "HostFacts",
    "HostFactsReply",
    "LocalStorage",
    "MountPrimaryStorage",
    "PauseVm",
    "PauseVmReply",
    "PingHost",
    "PingHostReply",
    "RealizeL2Network",
    "RealizeL2NetworkReply",
    "RebootVm",
    "RebootVmReply",
    "ResumeVm",
    "ResumeVmReply",
    "StartVm",
    "StartVmReply",
    "StopVm",
    "StopVmReply",
    "StorageCapacityReply",
    "TaskState",
    "TaskStatus",
    "UnmountPrimaryStorage",
    "UnrealizeL2Network",
    "UnrealizeL2NetworkReply",
    "VmPowerState",
    "VmStateChangedReport",
    "command_by_name",
]
