"""The network service module: L2 and L3 networks, IP ranges, IPAM and VIPs."""

from __future__ import annotations

from collections.abc import Sequence

from mgmt.core.module import BaseParts, ServiceModule
from mgmt.core.plugins import Plugin
from mgmt.network.allocation import NetworkAllocationPlugin
from mgmt.network.config import IP_ALLOCATE_STRATEGY, STATIC_IP
from mgmt.network.errors import STATUSES
from mgmt.network.handlers import NetworkService
from mgmt.network.messages import API_MESSAGES
from mgmt.network.reads import RESOURCE_READS
from mgmt.network.resources import RESOURCES


def _read_plugins(parts: BaseParts) -> Sequence[Plugin]:
    return [NetworkAllocationPlugin()]


MODULE = ServiceModule(
    "network",
    apis=API_MESSAGES,
    resources=RESOURCES,
    service=NetworkService,
    resource_reads=RESOURCE_READS,
    read_plugins=_read_plugins,
    global_configs=(IP_ALLOCATE_STRATEGY,),
    tag_patterns=(STATIC_IP,),
    error_statuses=STATUSES,
)
