"""``GET /v1/vm-instances/candidates`` (``GetCandidateZonesClustersHostsForCreatingVm``):
the zones, clusters and hosts that would take a VM of this shape now, and why each other
host would not. A ``CollectionRead``, served by the frontends from the database with the
same filters (``read_plugins``) and strategies a node's ``HostAllocator`` uses.

Tenancy: anyone may ask, with the offerings, L3 networks, images and disk offerings they
see (their own, shared with them, or public): any other UUID is a 404 naming the field,
as if it did not exist. Hosts are infrastructure (their reads are admin-only), so a
tenant's answer names the zones and clusters but lists no hosts and no rejections, and a
tenant naming hosts (``hostUuid``, ``avoidHostUuids``) is refused (403).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.allocator.allocator import HostAllocator
from mgmt.allocator.contract import AllocationSpec
from mgmt.core.api import UUID_PATTERN, ApiCodes, CallerContext, not_found
from mgmt.core.api.reads import CollectionRead, Sees
from mgmt.core.errors import PermanentError, error
from mgmt.core.module import ReadParts

_MAX_LIST = 64
Uuid = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]


def _uuid(description: str) -> Any:
    return Field(default=None, pattern=UUID_PATTERN, description=description)


class CandidatesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instanceOfferingUuid: str | None = _uuid(
        "The VM's instance offering (CPU, memory, allocator strategy); or give cpuNum and "
        "memorySize."
    )
    cpuNum: int | None = Field(default=None, ge=1, le=1024, description="vCPUs (no offering).")
    memorySize: int | None = Field(
        default=None, ge=1, le=1 << 50, description="Memory in bytes (no offering)."
    )
    imageUuid: str | None = _uuid("The VM's image.")
    l3NetworkUuids: list[Uuid] = Field(
        default=[], description="The VM's L3 networks (repeat the parameter for each)."
    )
    rootDiskOfferingUuid: str | None = _uuid("The root disk's offering (ISO images).")
    zoneUuid: str | None = _uuid("Only this zone.")
    clusterUuid: str | None = _uuid("Only this cluster.")
    hostUuid: str | None = _uuid("Only this host (admins).")
    hypervisorType: str | None = Field(
        default=None, max_length=32, description="Only hosts of this hypervisor type."
    )
    avoidHostUuids: list[Uuid] = Field(
        default=[], description="Hosts to leave out (admins; repeat the parameter for each)."
    )
    hostTags: list[str] = Field(default=[], description="Host tags every host must carry.")


class CandidateZone(BaseModel):
    uuid: str = Field(description="The zone's UUID.")
    name: str = Field(description="Its name.")


class CandidateCluster(BaseModel):
    uuid: str = Field(description="The cluster's UUID.")
    name: str = Field(description="Its name.")
    zoneUuid: str = Field(description="Its zone.")


class CandidateHost(BaseModel):
    uuid: str = Field(description="The host's UUID.")
    name: str = Field(description="Its name.")
    zoneUuid: str = Field(description="Its zone.")
    clusterUuid: str = Field(description="Its cluster.")
    hypervisorType: str = Field(description="Its hypervisor.")
    availableCpu: int = Field(description="vCPUs a VM may still take (over-commit applied).")
    availableMemory: int = Field(
        description="Bytes a VM may still take (over-commit and reserved memory applied)."
    )
    vmCount: int = Field(description="VMs allocated to it.")


class CandidateRejection(BaseModel):
    hostUuid: str = Field(description="The host refused.")
    hostName: str = Field(description="Its name.")
    filter: str = Field(description="The filter that refused it (capacity, host-state …).")
    reason: str = Field(description="Why.")


class CandidatesReply(BaseModel):
    zones: list[CandidateZone] = Field(description="Zones with at least one candidate host.")
    clusters: list[CandidateCluster] = Field(
        description="Clusters with at least one candidate host."
    )
    hosts: list[CandidateHost] = Field(
        description="Hosts that would take the VM, in the order the strategy tries them "
        "(empty for non-admins)."
    )
    rejected: list[CandidateRejection] = Field(
        description="Every other host, with the first filter that refused it (empty for "
        "non-admins)."
    )


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _bad(field: str, why: str) -> PermanentError:
    return PermanentError(error(ApiCodes.INVALID_ARGUMENT, f"{field}: {why}", field=field))


class CandidatesRead:
    def __init__(self, parts: ReadParts) -> None:
        self._types = parts.types
        self._allocator = HostAllocator.of(parts.db, parts.types, parts.gconfig, parts.plugins)

    def _table(self, name: str) -> Any:
        found = self._types.types.get(name)
        return None if found is None else found.table

    async def _visible(self, sees: Sees, type_name: str, field: str, uuid: str | None) -> None:
        """404 naming ``field`` unless the caller sees it (as ``GET`` of it would)."""
        if uuid is None:
            return
        if self._table(type_name) is None or not await sees(type_name, uuid):
            raise PermanentError(not_found(type_name, uuid, field=field))

    async def _exists(self, s: AsyncSession, type_name: str, field: str, uuid: str | None) -> None:
        table = self._table(type_name)
        if uuid is not None and (table is None or await s.get(table, uuid) is None):
            raise PermanentError(not_found(type_name, uuid, field=field))

    async def spec(
        self, s: AsyncSession, caller: CallerContext, sees: Sees, p: CandidatesParams
    ) -> AllocationSpec:
        if p.instanceOfferingUuid is not None:
            if p.cpuNum is not None or p.memorySize is not None:
                raise _bad("cpuNum", "give an instanceOfferingUuid or cpuNum and memorySize")
            await self._visible(
                sees, "InstanceOffering", "instanceOfferingUuid", p.instanceOfferingUuid
            )
            offering: Any = await s.get(self._table("InstanceOffering"), p.instanceOfferingUuid)
            cpu, memory = int(offering.cpu_num), int(offering.memory_size)
        elif p.cpuNum is None or p.memorySize is None:
            raise _bad(
                "cpuNum" if p.cpuNum is None else "memorySize",
                "give an instanceOfferingUuid, or cpuNum and memorySize",
            )
        else:
            cpu, memory = p.cpuNum, p.memorySize
        l3s = _unique(p.l3NetworkUuids)
        for l3 in l3s:
            await self._visible(sees, "L3Network", "l3NetworkUuids", l3)
        await self._visible(sees, "Image", "imageUuid", p.imageUuid)
        await self._visible(sees, "DiskOffering", "rootDiskOfferingUuid", p.rootDiskOfferingUuid)
        root = None
        if p.rootDiskOfferingUuid is not None:
            disk: Any = await s.get(self._table("DiskOffering"), p.rootDiskOfferingUuid)
            root = int(disk.disk_size)
        await self._exists(s, "Zone", "zoneUuid", p.zoneUuid)
        await self._exists(s, "Cluster", "clusterUuid", p.clusterUuid)
        if not caller.isAdmin and (p.hostUuid is not None or p.avoidHostUuids):
            field = "hostUuid" if p.hostUuid else "avoidHostUuids"
            raise PermanentError(
                error(ApiCodes.PERMISSION_DENIED, f"{field}: hosts are admin-only", field=field)
            )
        await self._exists(s, "Host", "hostUuid", p.hostUuid)
        return AllocationSpec(
            account_uuid=caller.accountUuid,
            cpu_num=cpu,
            memory_size=memory,
            image_uuid=p.imageUuid,
            l3_network_uuids=l3s,
            root_disk_size=root,
            hypervisor_type=p.hypervisorType,
            zone_uuid=p.zoneUuid,
            cluster_uuid=p.clusterUuid,
            host_uuid=p.hostUuid,
            avoid_host_uuids=_unique(p.avoidHostUuids),
            host_tags=tuple(dict.fromkeys(p.hostTags)),
            instance_offering_uuid=p.instanceOfferingUuid,
        )

    async def __call__(
        self, s: AsyncSession, caller: CallerContext, sees: Sees, params: BaseModel
    ) -> BaseModel:
        assert isinstance(params, CandidatesParams)
        spec = await self.spec(s, caller, sees, params)
        found = await self._allocator.candidates(s, spec)
        strategy = self._allocator.strategy(await self._allocator.strategy_name(s, spec))
        kept = strategy.order(spec, found.kept)
        zone_ids = list(dict.fromkeys(h.zone_uuid for h in kept))
        cluster_ids = list(dict.fromkeys(h.cluster_uuid for h in kept))
        zones_t, clusters_t = self._table("Zone"), self._table("Cluster")
        zones = {
            z.uuid: z for z in (await s.scalars(select(zones_t).where(zones_t.uuid.in_(zone_ids))))
        }
        clusters = {
            c.uuid: c
            for c in (await s.scalars(select(clusters_t).where(clusters_t.uuid.in_(cluster_ids))))
        }
        admin = caller.isAdmin
        return CandidatesReply(
            zones=[CandidateZone(uuid=u, name=zones[u].name) for u in zone_ids if u in zones],
            clusters=[
                CandidateCluster(uuid=u, name=clusters[u].name, zoneUuid=clusters[u].zone_uuid)
                for u in cluster_ids
                if u in clusters
            ],
            hosts=[
                CandidateHost(
                    uuid=h.uuid,
                    name=h.name,
                    zoneUuid=h.zone_uuid,
                    clusterUuid=h.cluster_uuid,
                    hypervisorType=h.hypervisor_type,
                    availableCpu=h.cpu_room,
                    availableMemory=h.memory_room,
                    vmCount=h.vm_count,
                )
                for h in kept
            ]
            if admin
            else [],
            rejected=[
                CandidateRejection(
                    hostUuid=r.host_uuid, hostName=r.host_name, filter=r.filter, reason=r.reason
                )
                for r in found.rejected
            ]
            if admin
            else [],
        )


def collection_reads(parts: ReadParts) -> list[CollectionRead]:
    return [
        CollectionRead(
            "vm-instances",
            "candidates",
            "GetCandidateZonesClustersHostsForCreatingVm",
            "Zones, clusters and hosts that would take a VM now, and why others would not",
            CandidatesReply,
            CandidatesRead(parts),
            params=CandidatesParams,
        )
    ]
