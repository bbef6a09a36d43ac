"""Host service: hosts in clusters, the connect handshake, hypervisor backends. Public
surface: its messages, its inventory, the ``HOST_BACKENDS`` and ``HOST_OBSERVERS``
and ``HOST_CONNECT_EXTENSIONS`` extension points, what other services may read of hosts
(``HostDisk``; ``connected_hosts``: a cluster's hosts as their backend reaches them) and
the names of its capacity counters (``CPU_COUNTER``, ``MEMORY_COUNTER``: what the allocator
reserves)."""

from mgmt.host.backends import HOST_BACKENDS, HostAccess, HostBackend
from mgmt.host.extensions import HOST_CONNECT_EXTENSIONS, HostConnectExtension
from mgmt.host.extensions import Backends as HostBackends
from mgmt.host.flows.handshake import HostConnectCtx
from mgmt.host.messages import (
    API_MESSAGES,
    AddHost,
    ChangeHostState,
    DeleteHost,
    EvacuateHost,
    EvacuateHostReply,
    HostInventory,
    HostReply,
    ReconnectHost,
    UpdateHost,
)
from mgmt.host.reads import (
    HOST_OBSERVERS,
    HostDisk,
    HostObserver,
    connected_hosts,
    host_disks,
    hosts_in_clusters,
)
from mgmt.host.resources import CPU as CPU_COUNTER
from mgmt.host.resources import MEMORY as MEMORY_COUNTER

__all__ = [
    "API_MESSAGES",
    "CPU_COUNTER",
    "HOST_BACKENDS",
    "HOST_CONNECT_EXTENSIONS",
    "HOST_OBSERVERS",
    "MEMORY_COUNTER",
    "AddHost",
    "ChangeHostState",
    "DeleteHost",
    "EvacuateHost",
    "EvacuateHostReply",
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
    "connected_hosts",
    "host_disks",
    "hosts_in_clusters",
]
