"""Hosts lacking a host tag (a user tag on the host) the request asks for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.allocator.contract import STAGE_WHERE, AllocationSpec, HostCandidate


class HostTagFilter:
    name = "host-tags"
    stage = STAGE_WHERE

    async def reject(
        self, session: AsyncSession, spec: AllocationSpec, hosts: Sequence[HostCandidate]
    ) -> Mapping[str, str]:
        if not spec.host_tags:
            return {}
        out: dict[str, str] = {}
        for h in hosts:
            missing = [t for t in spec.host_tags if t not in h.tags]
            if missing:
                out[h.uuid] = f"lacks host tag(s) {', '.join(missing)}"
        return out
