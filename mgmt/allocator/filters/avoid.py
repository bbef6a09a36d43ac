"""Hosts the request asks to avoid (a migration's source, a retry's failed host)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.allocator.contract import STAGE_WHERE, AllocationSpec, HostCandidate


class AvoidHostsFilter:
    name = "avoid-hosts"
    stage = STAGE_WHERE

    async def reject(
        self, session: AsyncSession, spec: AllocationSpec, hosts: Sequence[HostCandidate]
    ) -> Mapping[str, str]:
        avoid = frozenset(spec.avoid_host_uuids)
        return {h.uuid: "the request avoids this host" for h in hosts if h.uuid in avoid}
