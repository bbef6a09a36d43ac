"""How zones and clusters are queried and shown (the REST reads are derived from this)."""

from __future__ import annotations

from typing import get_args

from mgmt.core.api.reads import ReadableResource, plain
from mgmt.core.query import QueryableResource, Relation
from mgmt.zone.handlers import cluster_inventory, zone_inventory
from mgmt.zone.messages import ClusterInventory, CreateCluster, State, ZoneInventory
from mgmt.zone.models import ClusterRow, ZoneRow

#: the values the API lets these fields take (a query for any other is refused)
STATES: tuple[str, ...] = get_args(State)
HYPERVISOR_TYPES: tuple[str, ...] = get_args(
    CreateCluster.model_fields["hypervisorType"].annotation
)


def readables() -> list[ReadableResource]:
    zone = QueryableResource(
        "Zone",
        ZoneRow,
        ZoneRow.uuid,
        {
            "uuid": ZoneRow.uuid,
            "name": ZoneRow.name,
            "description": ZoneRow.description,
            "state": ZoneRow.state,
            "ownerAccountUuid": ZoneRow.owner_account_uuid,
            "createDate": ZoneRow.created_at,
            "lastOpDate": ZoneRow.updated_at,
        },
        relations={"clusters": Relation("clusters", "Cluster", ZoneRow.uuid, ClusterRow.zone_uuid)},
        owner=ZoneRow.owner_account_uuid,
        choices={"state": STATES},
    )
    cluster = QueryableResource(
        "Cluster",
        ClusterRow,
        ClusterRow.uuid,
        {
            "uuid": ClusterRow.uuid,
            "name": ClusterRow.name,
            "description": ClusterRow.description,
            "state": ClusterRow.state,
            "hypervisorType": ClusterRow.hypervisor_type,
            "zoneUuid": ClusterRow.zone_uuid,
            "ownerAccountUuid": ClusterRow.owner_account_uuid,
            "createDate": ClusterRow.created_at,
            "lastOpDate": ClusterRow.updated_at,
        },
        relations={"zone": Relation("zone", "Zone", ClusterRow.zone_uuid, ZoneRow.uuid)},
        owner=ClusterRow.owner_account_uuid,
        choices={"state": STATES, "hypervisorType": HYPERVISOR_TYPES},
    )
    return [
        ReadableResource(zone, "zones", plain(zone_inventory), ZoneInventory),
        ReadableResource(cluster, "clusters", plain(cluster_inventory), ClusterInventory),
    ]
