"""Host service: hosts in clusters, the connect handshake, hypervisor backends. Public
surface: its messages, its inventory, the ``HOST_BACKENDS`` and ``HOST_OBSERVERS``
and ``HOST_CONNECT_EXTENSIONS`` extension points and what other services may read of
hosts (``HostDisk``)."""

from mgmt.host.backends import HOST_BACKENDS, HostAccess, HostBackend
from mgmt.host.extensions import HOST_CONNECT_EXTENSIONS, HostConnectExtension
from mgmt.host.extensions import Backends as HostBackends
from mgmt.host.flows.handshake import HostConnectCtx
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
from mgmt.host.reads import (
    HOST_OBSERVERS,
    HostDisk,
    HostObserver,
    host_disks,
    hosts_in_clusters,
)

__all__ = [
    "API_MESSAGES",
    "HOST_BACKENDS",
    "HOST_CONNECT_EXTENSIONS",
    "HOST_OBSERVERS",
    "AddHost",
    "ChangeHostState",
    "DeleteHost",
    "HostAccess",
    "HostBackend",
    "HostBackends",
    "HostConnectCtx",
    "HostConnectExtension",
    "HostDisk",
    "HostInventory",
    "HostObserver",
    "HostReply",
    "ReconnectHost",
    "UpdateHost",
    "host_disks",
    "hosts_in_clusters",
]
