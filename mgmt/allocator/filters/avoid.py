"""Hosts the request asks to avoid (a migration's source, a retry's failed host)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.allocator.contract import AllocationSpec, HostCandidate


class AvoidHostsFilter:
    name = "avoid-hosts"

    async def reject(
        self, session: AsyncSession, spec: AllocationSpec, hosts: Sequence[HostCandidate]
    ) -> Mapping[str, str]:
        avoid = frozenset(spec.avoid_host_uuids)
        return {h.uuid: "the request avoids this host" for h in hosts if h.uuid in avoid}
