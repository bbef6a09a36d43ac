"""Host service: hosts in clusters, the connect handshake, hypervisor backends. Public
surface: its messages, its inventory and the ``HOST_BACKENDS`` extension point."""

from mgmt.host.backends import HOST_BACKENDS, HostAccess, HostBackend
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
    "AddHost",
    "ChangeHostState",
    "DeleteHost",
    "HostAccess",
    "HostBackend",
    "HostInventory",
    "HostReply",
    "ReconnectHost",
    "UpdateHost",
]
