"""The Simulator hypervisor: hosts served by the simulator agent (``zcloud agent sim``).

A Simulator host's managementIp is only its name: no traffic ever goes to it. Every
command goes to the one simulator agent process (``ZCLOUD_SIMULATOR_URL``), which serves
each host under ``/sim/hosts/{hostUuid}`` and makes it on its first connect, with the
capacity the connect asks for. Its ImageStore backup storages are served the same way,
under ``/sim/backup-storage/{uuid}``: their ``hostname`` is only a name too (nothing is
sent to it), and the images they download come from loopback URLs only.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.protocol import ConnectHost
from mgmt.core.plugins import Extension
from mgmt.host import HOST_BACKENDS, HostAccess
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


class SimulatorImageStore:
    """``BackupStorageBackend`` of ImageStore backup storages, served by the simulator."""

    def __init__(self, agent_url: str) -> None:
        self._base = agent_url.rstrip("/")

    def agent_url(self, storage: BackupStorageAccess) -> str:
        return f"{self._base}/sim/backup-storage/{storage.backupStorageUuid}"


class SimulatorPlugin:
    name = "simulator"

    def __init__(self, agent_url: str) -> None:
        self._backend = SimulatorBackend(agent_url)
        self._image_store = SimulatorImageStore(agent_url)

    def extensions(self) -> Sequence[Extension]:
        return [
            Extension(HOST_BACKENDS, self._backend, type=HYPERVISOR),
            Extension(BACKUP_STORAGE_BACKENDS, self._image_store, type="ImageStore"),
        ]
