"""Host allocator strategies: the order in which the hosts every filter kept are tried.

A strategy is picked by name (``HOST_STRATEGIES``, a strategy point): the request's
``AllocationSpec.strategy``, else its instance offering's ``allocatorStrategy``, else the
global config ``hostAllocator.defaultStrategy``. The allocator tries the hosts in the
order given, reserving on the first that still has room, so a strategy never has to
account for concurrency.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from mgmt.allocator.contract import AllocationSpec, HostCandidate
from mgmt.core.plugins import ExtensionPoint, Kind


class HostAllocatorStrategy(Protocol):
    #: the name requests and offerings use (``DefaultHostAllocatorStrategy``)
    name: str

    def order(self, spec: AllocationSpec, hosts: Sequence[HostCandidate]) -> list[HostCandidate]:
        """``hosts`` (as loaded: oldest first) in the order to try them; no I/O."""
        ...


HOST_STRATEGIES: ExtensionPoint[HostAllocatorStrategy] = ExtensionPoint(
    "allocator.host-strategy",
    HostAllocatorStrategy,
    Kind.STRATEGY,
    "Picked by name (request, else instance offering, else hostAllocator.defaultStrategy) "
    "for every host allocation, after the filters; an exception fails the allocation.",
)


class DefaultHostAllocatorStrategy:
    """First fit in a stable order: the oldest host first."""

    name = "DefaultHostAllocatorStrategy"

    def order(self, spec: AllocationSpec, hosts: Sequence[HostCandidate]) -> list[HostCandidate]:
        return list(hosts)


class LastHostPreferredAllocatorStrategy(DefaultHostAllocatorStrategy):
    """The VM's last host first; until VMs record one, the default order."""

    name = "LastHostPreferredAllocatorStrategy"


class LeastVmPreferredHostAllocatorStrategy:
    """The host with the fewest VMs first (ties: oldest first)."""

    name = "LeastVmPreferredHostAllocatorStrategy"

    def order(self, spec: AllocationSpec, hosts: Sequence[HostCandidate]) -> list[HostCandidate]:
        return sorted(hosts, key=lambda h: h.vm_count)  # stable: ties keep load order


class MinimumCPUUsageHostAllocatorStrategy:
    """The host with the most vCPUs free first."""

    name = "MinimumCPUUsageHostAllocatorStrategy"

    def order(self, spec: AllocationSpec, hosts: Sequence[HostCandidate]) -> list[HostCandidate]:
        return sorted(hosts, key=lambda h: -h.cpu_room)


class MinimumMemoryUsageHostAllocatorStrategy:
    """The host with the most memory free first."""

    name = "MinimumMemoryUsageHostAllocatorStrategy"

    def order(self, spec: AllocationSpec, hosts: Sequence[HostCandidate]) -> list[HostCandidate]:
        return sorted(hosts, key=lambda h: -h.memory_room)


class RandomHostAllocatorStrategy:
    """Any host, uniformly (spreads VMs without reading their counts)."""

    name = "RandomHostAllocatorStrategy"

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.SystemRandom()

    def order(self, spec: AllocationSpec, hosts: Sequence[HostCandidate]) -> list[HostCandidate]:
        out = list(hosts)
        self._rng.shuffle(out)
        return out


STRATEGIES: tuple[HostAllocatorStrategy, ...] = (
    DefaultHostAllocatorStrategy(),
    LastHostPreferredAllocatorStrategy(),
    LeastVmPreferredHostAllocatorStrategy(),
    MinimumCPUUsageHostAllocatorStrategy(),
    MinimumMemoryUsageHostAllocatorStrategy(),
    RandomHostAllocatorStrategy(),
)
