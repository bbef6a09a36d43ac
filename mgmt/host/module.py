"""The host service module: hosts, their flows and the hypervisor extension point."""

from __future__ import annotations

from mgmt.core.module import ServiceModule
from mgmt.host.messages import API_MESSAGES
from mgmt.host.ping import PING_CONFIGS
from mgmt.host.resources import HOST
from mgmt.host.service import HostService

MODULE = ServiceModule(
    "host",
    apis=API_MESSAGES,
    resources=(HOST,),
    service=HostService,
    global_configs=PING_CONFIGS,
)
