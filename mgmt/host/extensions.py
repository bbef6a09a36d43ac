"""``HOST_CONNECT_EXTENSIONS``: steps other services add to the connect handshake.
``HOST_STATUS_EXTENSIONS``: what other services do when the pinger disconnects a host.

The storage service mounts the shared primary storage of a host's cluster this way: a
host joining a cluster with NFS attached mounts it before it is Connected. The VM service
reconciles the host's VMs in the handshake and makes them Unknown on a disconnect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from mgmt.core.flow import Step
from mgmt.core.plugins import ExtensionPoint, Kind
from mgmt.host.backends import HostBackend
from mgmt.host.flows.handshake import HostConnectCtx

#: hypervisor type → its backend (how a step reaches the host's agent)
Backends = Callable[[str], HostBackend]


class HostConnectExtension(Protocol):
    """Adds steps to the connect handshake (the add and reconnect flows)."""

    def connect_steps(self, backends: Backends) -> Sequence[Step[HostConnectCtx]]:
        """Called once, when the host service builds its flows. The steps run after
        ``define-capacity`` (the host's facts are on its row), in registration order; a
        failure fails the handshake (an add rolls back — the steps' rollbacks run —, a
        reconnect leaves the host Disconnected). Step names must be unique in the flow,
        and every step may run again after a take-over."""
        ...


HOST_CONNECT_EXTENSIONS: ExtensionPoint[HostConnectExtension] = ExtensionPoint(
    "host.connect-extension",
    HostConnectExtension,
    Kind.OBSERVER,
    "Every extension's steps, in registration order, after define-capacity in the add and "
    "reconnect flows; a step's failure fails the handshake.",
)


class HostStatusExtension(Protocol):
    """Hears that the host pinger disconnected a host (after the status is committed)."""

    def host_disconnected(self, host_uuid: str, reason: str) -> Awaitable[None]:
        """Called once per disconnect on the host's owner; one that raises is logged and
        the others still run. Work that must not be lost is level-triggered elsewhere too
        (a node may die between the disconnect and this call)."""
        ...


HOST_STATUS_EXTENSIONS: ExtensionPoint[HostStatusExtension] = ExtensionPoint(
    "host.status-extension",
    HostStatusExtension,
    Kind.OBSERVER,
    "Every extension, in registration order, after the pinger disconnects a host.",
)
