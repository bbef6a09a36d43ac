"""Hosts outside the zone, cluster or host the request designates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.allocator.contract import STAGE_WHERE, AllocationSpec, HostCandidate


class DesignatedFilter:
    name = "designated"
    stage = STAGE_WHERE

    async def reject(
        self, session: AsyncSession, spec: AllocationSpec, hosts: Sequence[HostCandidate]
    ) -> Mapping[str, str]:
        out: dict[str, str] = {}
        for h in hosts:
            if spec.zone_uuid is not None and h.zone_uuid != spec.zone_uuid:
                out[h.uuid] = f"in zone {h.zone_uuid}, not the designated {spec.zone_uuid}"
            elif spec.cluster_uuid is not None and h.cluster_uuid != spec.cluster_uuid:
                out[h.uuid] = f"in cluster {h.cluster_uuid}, not the designated {spec.cluster_uuid}"
            elif spec.host_uuid is not None and h.uuid != spec.host_uuid:
                out[h.uuid] = f"not the designated host {spec.host_uuid}"
        return out
