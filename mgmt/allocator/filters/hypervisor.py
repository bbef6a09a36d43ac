"""Hosts of another hypervisor type than the one asked for (the image's or the request's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.allocator.contract import STAGE_WHERE, AllocationSpec, HostCandidate


class HypervisorTypeFilter:
    name = "hypervisor-type"
    stage = STAGE_WHERE

    async def reject(
        self, session: AsyncSession, spec: AllocationSpec, hosts: Sequence[HostCandidate]
    ) -> Mapping[str, str]:
        wanted = spec.hypervisor_type
        if wanted is None:
            return {}
        return {
            h.uuid: f"hypervisor is {h.hypervisor_type}, not {wanted}"
            for h in hosts
            if h.hypervisor_type != wanted
        }
