"""Host service: hosts in clusters, the connect handshake, hypervisor backends. Public
surface: its messages, its inventory, the ``HOST_BACKENDS`` and ``HOST_CONNECT_EXTENSIONS``
extension points and ``connected_hosts`` (a cluster's hosts as their backend reaches them)."""

from mgmt.host.backends import HOST_BACKENDS, HostAccess, HostBackend
from mgmt.host.extensions import HOST_CONNECT_EXTENSIONS, HostConnectExtension, connected_hosts
from mgmt.host.messages import (
    API_MESSAGES,
    AddHost,
    ChangeHostState,
    DeleteHost,
    HostInventory,
    HostReply,
    ReconnectHost,
    UpdateHost,
)

__all__ = [
    "API_MESSAGES",
    "HOST_BACKENDS",
    "HOST_CONNECT_EXTENSIONS",
    "AddHost",
    "ChangeHostState",
    "DeleteHost",
    "HostAccess",
    "HostBackend",
    "HostConnectExtension",
    "HostInventory",
    "HostReply",
    "ReconnectHost",
    "UpdateHost",
    "connected_hosts",
]
