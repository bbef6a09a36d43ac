"""The hypervisor extension point: how a host of one hypervisor type is reached.

A cluster's ``hypervisorType`` (KVM, VMware, Simulator) picks one ``HostBackend`` from the
strategy point ``HOST_BACKENDS``; the host flows call it and never name a hypervisor. The
Simulator's is in-tree (``mgmt/plugins/simulator``); KVM and VMware plug in the same way,
with no change to ``mgmt/host``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agent.protocol import ConnectHost
from mgmt.core.plugins import ExtensionPoint, Kind


@dataclass(frozen=True)
class HostAccess:
    """What a backend knows of a host (secrets only as the hashes the frontend made)."""

    hostUuid: str
    managementIp: str
    hypervisorType: str
    username: str = "root"
    sshPort: int = 22
    cpuCapacity: int | None = None
    memoryCapacity: int | None = None


class HostBackend(Protocol):
    """One hypervisor type's way to a host's agent.

    Called by the add and reconnect flows (``mgmt/host/flows``), in this order, in flow
    steps: ``prepare`` (step ``prepare-agent``), then the agent at ``agent_url`` gets
    ``connect_command`` (step ``connect``), then the common handshake commands. An
    exception from ``prepare`` fails its step (the flow rolls back: an add leaves nothing,
    a reconnect leaves the host Disconnected). Steps may run again after a take-over, so
    ``prepare`` must be idempotent.
    """

    def agent_url(self, host: HostAccess) -> str:
        """The agent's base URL for this host (commands are POSTed under it)."""
        ...

    def connect_command(self, host: HostAccess, node_id: str) -> ConnectHost:
        """The ``ConnectHost`` the agent gets (a backend adds what its agent needs)."""
        ...

    async def prepare(self, host: HostAccess) -> None:
        """Make the agent answer (KVM: install or upgrade it over SSH); idempotent."""
        ...


HOST_BACKENDS: ExtensionPoint[HostBackend] = ExtensionPoint(
    "host.backend",
    HostBackend,
    Kind.STRATEGY,
    "Picked by the cluster's hypervisorType for every host add and reconnect; an exception "
    "fails the flow step that called it (an add rolls back, a reconnect ends Disconnected).",
)
