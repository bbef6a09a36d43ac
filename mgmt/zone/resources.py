"""Zones and clusters, declared: the kit derives their reads, queries, cascades and the
create/update/delete handlers (the zone service has no handler code of its own)."""

from __future__ import annotations

from mgmt.core.quota import Quota
from mgmt.core.resource import Parent, ResourceType
from mgmt.zone.messages import ClusterInventory, ZoneInventory
from mgmt.zone.models import ClusterRow, ZoneRow

ZONE = ResourceType("Zone", "zones", ZoneRow, ZoneInventory, quota=Quota("zone.num", 20))

CLUSTER = ResourceType(
    "Cluster",
    "clusters",
    ClusterRow,
    ClusterInventory,
    parents=(Parent("Zone", ClusterRow.zone_uuid, relation="zone", children="clusters"),),
    quota=Quota("cluster.num", 50),
)
