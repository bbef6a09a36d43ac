"""Host commands: echo, connect (sync); facts, ping, capacity (async)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agent.protocol.base import AgentCommand, AgentReply


class EchoReply(AgentReply):
    pass


class Echo(AgentCommand):
    """Is the agent's HTTP server up? Answers at once."""

    path: ClassVar[str] = "/host/echo"
    reply_type: ClassVar[type[AgentReply]] = EchoReply
    is_async: ClassVar[bool] = False


class ConnectHostReply(AgentReply):
    hostUuid: str = ""
    hypervisorType: str = ""
    agentVersion: str = ""
    cpuNum: int = 0
    memoryBytes: int = 0


class ConnectHost(AgentCommand):
    """Management takes the host: the agent learns its UUID and reports its hardware."""

    path: ClassVar[str] = "/host/connect"
    reply_type: ClassVar[type[AgentReply]] = ConnectHostReply
    is_async: ClassVar[bool] = False
    hostUuid: str
    managementNodeId: str = ""
    # Added with hosts (additive, optional): the address the host was added under, and the
    # capacity a simulated host is created with (real agents ignore both capacities).
    managementIp: str = ""
    cpuCapacity: int | None = Field(default=None, ge=1, description="Simulator: CPUs to have.")
    memoryCapacity: int | None = Field(
        default=None, ge=1, description="Simulator: bytes of memory to have."
    )
    # Added with VM state sync (additive, optional): where the agent POSTs its change
    # reports (``VmStateChangedReport``); empty: the agent reports nothing
    reportUrl: str = ""


class LocalStorage(BaseModel):
    """The host's local disk the agent reports (the path VMs' local volumes go under)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = ""
    totalBytes: int = 0
    availableBytes: int = 0


class HostFactsReply(AgentReply):
    hostUuid: str = ""
    cpuNum: int = 0
    cpuSpeedMhz: int = 0
    cpuModel: str = ""
    memoryBytes: int = 0
    architecture: str = ""
    hypervisorVersion: str = ""
    localStorage: list[LocalStorage] = Field(default_factory=list)


class HostFacts(AgentCommand):
    """The connect handshake's inventory: CPUs (count, speed, model), memory, architecture
    and local storage, as the agent finds them on the host."""

    path: ClassVar[str] = "/host/facts"
    reply_type: ClassVar[type[AgentReply]] = HostFactsReply
    hostUuid: str


class PingHostReply(AgentReply):
    hostUuid: str = ""
    uptimeSeconds: float = 0.0


class PingHost(AgentCommand):
    path: ClassVar[str] = "/host/ping"
    reply_type: ClassVar[type[AgentReply]] = PingHostReply
    hostUuid: str


class HeartbeatHostReply(AgentReply):
    #: the host this agent serves: another UUID means another machine took the address
    hostUuid: str = ""
    uptimeSeconds: float = 0.0


class HeartbeatHost(AgentCommand):
    """The owner's periodic check that the host is there (sync: it must be cheap, every
    host gets one each ping interval)."""

    path: ClassVar[str] = "/host/heartbeat"
    reply_type: ClassVar[type[AgentReply]] = HeartbeatHostReply
    is_async: ClassVar[bool] = False
    hostUuid: str


class HostCapacityReply(AgentReply):
    cpuNum: int = 0
    cpuUsed: int = 0
    memoryBytes: int = 0
    memoryUsed: int = 0
    vmCount: int = Field(default=0, description="VMs defined on the host, whatever their state.")


class HostCapacity(AgentCommand):
    path: ClassVar[str] = "/host/capacity"
    reply_type: ClassVar[type[AgentReply]] = HostCapacityReply
    hostUuid: str
