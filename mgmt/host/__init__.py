"""Host service: hosts in clusters, the connect handshake, hypervisor backends. Public
surface: its messages, its inventory, the ``HOST_BACKENDS`` and ``HOST_CONNECT_EXTENSIONS``
extension points, ``connected_hosts`` (a cluster's hosts as their backend reaches them) and
the names of its capacity counters (``CPU_COUNTER``, ``MEMORY_COUNTER``: what the allocator
reserves)."""

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
from mgmt.host.resources import CPU as CPU_COUNTER
from mgmt.host.resources import MEMORY as MEMORY_COUNTER

__all__ = [
    "API_MESSAGES",
    "CPU_COUNTER",
    "HOST_BACKENDS",
    "HOST_CONNECT_EXTENSIONS",
    "MEMORY_COUNTER",
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
