"""Hosts without the CPU or memory the VM needs, over-commit ratios and the host's
reserved memory applied (``HostCandidate.cpu_room`` / ``memory_room``). The reservation
(``HostAllocator``) checks the same bound again in its conditional statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.allocator.contract import STAGE_CAPACITY, AllocationSpec, HostCandidate


def cpu_shortage(spec: AllocationSpec, h: HostCandidate) -> str | None:
    if h.cpu_room >= spec.cpu_num:
        return None
    return (
        f"needs {spec.cpu_num} vCPUs, {max(h.cpu_room, 0)} free "
        f"({h.total_cpu} CPUs x {h.cpu_ratio:g}, {h.total_cpu - h.available_cpu} used)"
    )


def memory_shortage(spec: AllocationSpec, h: HostCandidate) -> str | None:
    if h.memory_room >= spec.memory_size:
        return None
    return (
        f"needs {spec.memory_size} bytes of memory, {max(h.memory_room, 0)} free "
        f"({h.total_memory} x {h.memory_ratio:g}, {h.reserved_memory} reserved, "
        f"{h.total_memory - h.available_memory} used)"
    )


class CapacityFilter:
    name = "capacity"
    stage = STAGE_CAPACITY

    async def reject(
        self, session: AsyncSession, spec: AllocationSpec, hosts: Sequence[HostCandidate]
    ) -> Mapping[str, str]:
        out: dict[str, str] = {}
        for h in hosts:
            why = cpu_shortage(spec, h) or memory_shortage(spec, h)
            if why:
                out[h.uuid] = why
        return out
