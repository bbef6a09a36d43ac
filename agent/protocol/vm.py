"""VM commands. All async: the reply comes to the callback URL."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agent.protocol.base import AgentCommand, AgentReply


class VmPowerState(StrEnum):
    """What a hypervisor says of a VM (not the management state machine)."""

    RUNNING = "Running"
    PAUSED = "Paused"
    STOPPED = "Stopped"
    UNKNOWN = "Unknown"


class _VmReply(AgentReply):
    vmUuid: str = ""
    powerState: VmPowerState = VmPowerState.UNKNOWN


class StartVmReply(_VmReply):
    pass


class StartVm(AgentCommand):
    """Define (if needed) and start a VM; fails with errorCode CAPACITY when it does not fit."""

    path: ClassVar[str] = "/vm/start"
    reply_type: ClassVar[type[AgentReply]] = StartVmReply
    vmUuid: str
    name: str = ""
    cpuNum: int = Field(ge=1)
    memoryBytes: int = Field(ge=1)
    #: the guest's host name (the VM's ``hostname::`` tag); "" when it has none
    hostname: str = ""


class StopVmReply(_VmReply):
    #: a graceful stop the guest did not finish in ``graceSeconds``: it was powered off
    forced: bool = False


class StopVm(AgentCommand):
    """Stop a VM: ``force`` powers it off at once; otherwise the guest is asked to shut
    down and, if it is still running after ``graceSeconds``, powered off."""

    path: ClassVar[str] = "/vm/stop"
    reply_type: ClassVar[type[AgentReply]] = StopVmReply
    vmUuid: str
    force: bool = False
    graceSeconds: int = Field(default=60, ge=0, le=3600)


class RebootVmReply(_VmReply):
    pass


class RebootVm(AgentCommand):
    path: ClassVar[str] = "/vm/reboot"
    reply_type: ClassVar[type[AgentReply]] = RebootVmReply
    vmUuid: str


class PauseVmReply(_VmReply):
    pass


class PauseVm(AgentCommand):
    path: ClassVar[str] = "/vm/pause"
    reply_type: ClassVar[type[AgentReply]] = PauseVmReply
    vmUuid: str


class ResumeVmReply(_VmReply):
    pass


class ResumeVm(AgentCommand):
    path: ClassVar[str] = "/vm/resume"
    reply_type: ClassVar[type[AgentReply]] = ResumeVmReply
    vmUuid: str


class DestroyVmReply(_VmReply):
    pass


class DestroyVm(AgentCommand):
    """Stop (if running) and undefine a VM; destroying an unknown VM succeeds (idempotent)."""

    path: ClassVar[str] = "/vm/destroy"
    reply_type: ClassVar[type[AgentReply]] = DestroyVmReply
    vmUuid: str


class MigrateVmReply(_VmReply):
    #: the host the VM runs on after the command
    hostUuid: str = ""


class MigrateVm(AgentCommand):
    """Live-migrate a running VM from this host to ``destHostUuid`` (its agent at
    ``destUrl``). Idempotent: a VM already on the destination (and gone from here)
    succeeds; fails with errorCode CAPACITY when the destination cannot take it and
    NOT_FOUND when the VM is on neither host."""

    path: ClassVar[str] = "/vm/migrate"
    reply_type: ClassVar[type[AgentReply]] = MigrateVmReply
    vmUuid: str
    destHostUuid: str
    destUrl: str = ""


class GetVmStatesReply(AgentReply):
    states: dict[str, VmPowerState] = Field(default_factory=dict)


class GetVmStates(AgentCommand):
    """Report the power state of the given VMs, or of every VM on the host when empty."""

    path: ClassVar[str] = "/vm/states"
    reply_type: ClassVar[type[AgentReply]] = GetVmStatesReply
    vmUuids: list[str] = Field(default_factory=list)


class VmStateChangedReport(BaseModel):
    """A change the agent saw on its own (a guest shut down, crashed, or a VM appeared):
    POSTed to the ``reportUrl`` of the last ``ConnectHost``. A report only wakes the
    host owner's sync, which reads the host's VMs again (``GetVmStates``): a lost or stale
    report costs nothing but the wait for the next periodic sync."""

    model_config = ConfigDict(extra="forbid")

    hostUuid: str
    vmUuid: str = ""
    powerState: VmPowerState = VmPowerState.UNKNOWN
