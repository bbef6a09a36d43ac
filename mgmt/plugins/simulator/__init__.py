"""The Simulator hypervisor: hosts served by the simulator agent (``zcloud agent sim``).

A Simulator host's managementIp is only its name: no traffic ever goes to it. Every
command goes to the one simulator agent process (``ZCLOUD_SIMULATOR_URL``), which serves
each host under ``/sim/hosts/{hostUuid}`` and makes it on its first connect, with the
capacity the connect asks for. Its L2 backend sends the same ``RealizeL2Network`` commands
a KVM agent gets; the simulated host records the bridges (``GET /sim/hosts/{uuid}``). Its
ImageStore backup storages are served the same way, under ``/sim/backup-storage/{uuid}``:
their ``hostname`` is only a name too (nothing is sent to it), and the images they download
come from loopback URLs only.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.protocol import (
    AgentReply,
    ConnectHost,
    RealizeL2Network,
    RealizeL2NetworkReply,
    UnrealizeL2Network,
    UnrealizeL2NetworkReply,
)
from mgmt.core.agenttasks import AgentClient
from mgmt.core.errors import Codes, PermanentError, error
from mgmt.core.plugins import Extension
from mgmt.host import HOST_BACKENDS, HostAccess
from mgmt.network import L2_NETWORK_BACKENDS, L2Realization
from mgmt.storage import BACKUP_STORAGE_BACKENDS, BackupStorageAccess

HYPERVISOR = "Simulator"


class SimulatorBackend:
    """``HostBackend`` of Simulator hosts."""

    def __init__(self, agent_url: str) -> None:
        self._base = agent_url.rstrip("/")

    def agent_url(self, host: HostAccess) -> str:
        return f"{self._base}/sim/hosts/{host.hostUuid}"

    def connect_command(self, host: HostAccess, node_id: str) -> ConnectHost:
        return ConnectHost(
            hostUuid=host.hostUuid,
            managementNodeId=node_id,
            managementIp=host.managementIp,
            cpuCapacity=host.cpuCapacity,
            memoryCapacity=host.memoryCapacity,
        )

    async def prepare(self, host: HostAccess) -> None:
        return None  # the simulator serves every host already: nothing to install


def _refused(reply: AgentReply, what: str, host: HostAccess) -> PermanentError:
    return PermanentError(
        error(
            Codes.AGENT_ERROR,
            f"{what} on host {host.hostUuid} failed: {reply.error}",
            hostUuid=host.hostUuid,
            agentErrorCode=reply.errorCode,
        )
    )


class SimulatorL2Backend:
    """``L2NetworkBackend`` of Simulator hosts: one sync agent call per host and L2."""

    def __init__(self, hosts: SimulatorBackend, agents: AgentClient, timeout: float) -> None:
        self._hosts = hosts
        self._agents = agents
        self._timeout = timeout

    async def realize(self, l2: L2Realization, host: HostAccess) -> None:
        command = RealizeL2Network(
            l2NetworkUuid=l2.l2NetworkUuid,
            type=l2.type,
            bridgeName=l2.bridgeName,
            physicalInterface=l2.physicalInterface,
            vlan=l2.vlan,
            vni=l2.vni,
            vtepCidr=l2.vtepCidr,
        )
        reply = await self._agents.call_sync(
            self._hosts.agent_url(host), command, RealizeL2NetworkReply, timeout=self._timeout
        )
        if not reply.success:
            raise _refused(reply, f"RealizeL2Network {l2.bridgeName}", host)

    async def unrealize(self, l2: L2Realization, host: HostAccess) -> None:
        command = UnrealizeL2Network(l2NetworkUuid=l2.l2NetworkUuid, bridgeName=l2.bridgeName)
        reply = await self._agents.call_sync(
            self._hosts.agent_url(host), command, UnrealizeL2NetworkReply, timeout=self._timeout
        )
        if not reply.success:
            raise _refused(reply, f"UnrealizeL2Network {l2.bridgeName}", host)


class SimulatorImageStore:
    """``BackupStorageBackend`` of ImageStore backup storages, served by the simulator."""

    def __init__(self, agent_url: str) -> None:
        self._base = agent_url.rstrip("/")

    def agent_url(self, storage: BackupStorageAccess) -> str:
        return f"{self._base}/sim/backup-storage/{storage.backupStorageUuid}"


class SimulatorPlugin:
    name = "simulator"

    def __init__(self, agent_url: str, agents: AgentClient, *, timeout: float) -> None:
        self._backend = SimulatorBackend(agent_url)
        self._l2 = SimulatorL2Backend(self._backend, agents, timeout)
        self._image_store = SimulatorImageStore(agent_url)

    def extensions(self) -> Sequence[Extension]:
        return [
            Extension(HOST_BACKENDS, self._backend, type=HYPERVISOR),
            Extension(L2_NETWORK_BACKENDS, self._l2, type=HYPERVISOR),
            Extension(BACKUP_STORAGE_BACKENDS, self._image_store, type="ImageStore"),
        ]
