"""Hosts, declared: reads, queries (``cluster.name``, ``zone.hosts``…), the cascade from
their cluster and zone (taking their capacity counters with them) and the default update
and delete; adding one is the host service's (it is a flow)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.counters import counters_of, remove_counters
from mgmt.core.resource import Parent, ResourceType
from mgmt.host.messages import HostInventory
from mgmt.host.models import HostRow

CPU = "host.cpu"
MEMORY = "host.memory"


async def inventory(s: AsyncSession, row: Any) -> HostInventory:
    """The row, with what is available read from its counters (the one truth of it)."""
    available = {c.name: c.available for c in await counters_of(s, row.uuid)}
    return HostInventory(
        uuid=row.uuid,
        name=row.name,
        description=row.description,
        zoneUuid=row.zone_uuid,
        clusterUuid=row.cluster_uuid,
        managementIp=row.management_ip,
        hypervisorType=row.hypervisor_type,
        state=row.host_state,
        status=row.state,
        cpuNum=row.cpu_num,
        cpuSpeedMhz=row.cpu_speed_mhz,
        architecture=row.architecture,
        totalCpuCapacity=row.total_cpu_capacity,
        availableCpuCapacity=available.get(CPU, 0),
        totalMemoryCapacity=row.total_memory_capacity,
        availableMemoryCapacity=available.get(MEMORY, 0),
        createDate=row.created_at,
        lastOpDate=row.updated_at,
    )


async def _remove_counters(s: AsyncSession, uuids: Sequence[str]) -> None:
    for uuid in uuids:  # in the delete's transaction: no counter outlives its host
        await remove_counters(s, uuid)


HOST = ResourceType(
    "Host",
    "hosts",
    HostRow,
    HostInventory,
    parents=(
        Parent("Cluster", HostRow.cluster_uuid, relation="cluster", children="hosts"),
        Parent("Zone", HostRow.zone_uuid, relation="zone", children="hosts"),
    ),
    # status is the state machine's column (see models.py); the capacity left is a counter
    columns={"status": HostRow.state, "state": HostRow.host_state},
    inventory_of=inventory,
    before_delete=_remove_counters,
    admin_only_reads=True,
)
