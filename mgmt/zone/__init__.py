"""Zone service: zones and clusters. Public surface: its messages and inventories."""

from mgmt.zone.messages import (
    API_MESSAGES,
    ClusterInventory,
    ClusterReply,
    CreateCluster,
    CreateZone,
    DeleteCluster,
    DeletedReply,
    DeleteZone,
    UpdateCluster,
    UpdateZone,
    ZoneInventory,
    ZoneReply,
)

__all__ = [
    "API_MESSAGES",
    "ClusterInventory",
    "ClusterReply",
    "CreateCluster",
    "CreateZone",
    "DeleteCluster",
    "DeleteZone",
    "DeletedReply",
    "UpdateCluster",
    "UpdateZone",
    "ZoneInventory",
    "ZoneReply",
]
