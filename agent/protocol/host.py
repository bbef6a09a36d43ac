"""Host commands: echo, connect (sync); ping, capacity (async)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

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


class PingHostReply(AgentReply):
    hostUuid: str = ""
    uptimeSeconds: float = 0.0


class PingHost(AgentCommand):
    path: ClassVar[str] = "/host/ping"
    reply_type: ClassVar[type[AgentReply]] = PingHostReply
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
