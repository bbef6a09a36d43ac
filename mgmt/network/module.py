"""The network service module: L2 and L3 networks, IP ranges, IPAM and VIPs."""

from __future__ import annotations

from collections.abc import Sequence

from mgmt.core.module import BaseParts, PluginParts, ServiceModule
from mgmt.core.plugins import Extension, Plugin
from mgmt.host import HOST_CONNECT_EXTENSIONS
from mgmt.network.allocation import NetworkAllocationPlugin
from mgmt.network.config import IP_ALLOCATE_STRATEGY, STATIC_IP
from mgmt.network.errors import STATUSES
from mgmt.network.handlers import NetworkService
from mgmt.network.messages import API_MESSAGES
from mgmt.network.reads import RESOURCE_READS
from mgmt.network.realize import L2OnConnect, L2Realizer
from mgmt.network.resources import RESOURCES


class L2OnConnectPlugin:
    """A connecting host gets the bridges of every L2 network on its cluster."""

    name = "network.l2-on-connect"

    def __init__(self, parts: PluginParts) -> None:
        self._extension = L2OnConnect(L2Realizer(parts.db, parts.plugins))

    def extensions(self) -> Sequence[Extension]:
        return [Extension(HOST_CONNECT_EXTENSIONS, self._extension)]


def _plugins(parts: PluginParts) -> Sequence[Plugin]:
    return [L2OnConnectPlugin(parts)]


def _read_plugins(parts: BaseParts) -> Sequence[Plugin]:
    return [NetworkAllocationPlugin()]


MODULE = ServiceModule(
    "network",
    apis=API_MESSAGES,
    resources=RESOURCES,
    service=NetworkService,
    plugins=_plugins,
    resource_reads=RESOURCE_READS,
    read_plugins=_read_plugins,
    global_configs=(IP_ALLOCATE_STRATEGY,),
    tag_patterns=(STATIC_IP,),
    error_statuses=STATUSES,
)
