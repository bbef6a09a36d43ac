"""Hosts that take no new VM: not Enabled (Disabled, in maintenance) or not Connected."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.allocator.contract import STAGE_WHERE, AllocationSpec, HostCandidate


class HostStateFilter:
    name = "host-state"
    stage = STAGE_WHERE

    async def reject(
        self, session: AsyncSession, spec: AllocationSpec, hosts: Sequence[HostCandidate]
    ) -> Mapping[str, str]:
        out: dict[str, str] = {}
        for h in hosts:
            if h.state != "Enabled":
                out[h.uuid] = f"host is {h.state}, not Enabled"
            elif h.status != "Connected":
                out[h.uuid] = f"host is {h.status}, not Connected"
        return out
