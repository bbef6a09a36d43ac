"""Host service: hosts in clusters, the connect handshake, hypervisor backends. Public
surface: its messages, its inventory, the ``HOST_BACKENDS``, ``HOST_OBSERVERS``,
``HOST_CONNECT_EXTENSIONS`` and ``HOST_STATUS_EXTENSIONS`` extension points, what other
services may read of hosts
(``HostDisk``; ``connected_hosts``: a cluster's hosts as their backend reaches them;
``hosts_at_run_time``: the Connected and Disconnected ones) and
the names of its capacity counters (``CPU_COUNTER``, ``MEMORY_COUNTER``: what the allocator
reserves)."""

from mgmt.host.backends import HOST_BACKENDS, HostAccess, HostBackend
from mgmt.host.extensions import (
    HOST_CONNECT_EXTENSIONS,
    HOST_STATUS_EXTENSIONS,
    HostConnectExtension,
    HostStatusExtension,
)
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
    HostAtRunTime,
    HostDisk,
    HostObserver,
    connected_hosts,
    host_access,
    host_disks,
    hosts_at_run_time,
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
    "HOST_STATUS_EXTENSIONS",
    "MEMORY_COUNTER",
    "AddHost",
    "ChangeHostState",
    "DeleteHost",
    "EvacuateHost",
    "EvacuateHostReply",
    "HostAccess",
    "HostAtRunTime",
    "HostBackend",
    "HostBackends",
    "HostConnectCtx",
    "HostConnectExtension",
    "HostDisk",
    "HostInventory",
    "HostObserver",
    "HostReply",
    "HostStatusExtension",
    "ReconnectHost",
    "UpdateHost",
    "connected_hosts",
    "host_access",
    "host_disks",
    "hosts_at_run_time",
    "hosts_in_clusters",
]
