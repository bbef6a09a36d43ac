"""Allocator service: host allocation (filters and strategies) and the candidates API.

Public surface:

- ``AllocationSpec``, ``HostCandidate`` and the ``HostFilter`` extension point
  ``HOST_FILTERS`` other services implement (``contract``); register a filter from the
  module's ``read_plugins`` so frontends (the candidates read) run it too;
- ``HostAllocatorStrategy`` and ``HOST_STRATEGIES`` (by name);
- ``HostAllocator`` (``allocate(spec, reservation_id)``, ``release``, ``candidates``) and
  the flow step ``AllocateHost``, for the VM create flow;
- the configs (``CPU_RATIO``, ``MEMORY_RATIO``, ``RESERVED_MEMORY_DEFAULT``,
  ``DEFAULT_STRATEGY``), the ``RESERVED_MEMORY`` host tag and ``AllocatorCodes``.
"""

from mgmt.allocator.allocator import (
    AllocatedHost,
    AllocateHost,
    HostAllocator,
    allocation_reservations,
)
from mgmt.allocator.candidates import ConfigView, Filtered, Rejection
from mgmt.allocator.config import (
    CPU_RATIO,
    DEFAULT_STRATEGY,
    MEMORY_RATIO,
    RESERVED_MEMORY,
    RESERVED_MEMORY_DEFAULT,
)
from mgmt.allocator.contract import HOST_FILTERS, AllocationSpec, HostCandidate, HostFilter
from mgmt.allocator.errors import AllocatorCodes
from mgmt.allocator.strategies import HOST_STRATEGIES, HostAllocatorStrategy

__all__ = [
    "CPU_RATIO",
    "DEFAULT_STRATEGY",
    "HOST_FILTERS",
    "HOST_STRATEGIES",
    "MEMORY_RATIO",
    "RESERVED_MEMORY",
    "RESERVED_MEMORY_DEFAULT",
    "AllocateHost",
    "AllocatedHost",
    "AllocationSpec",
    "AllocatorCodes",
    "ConfigView",
    "Filtered",
    "HostAllocator",
    "HostAllocatorStrategy",
    "HostCandidate",
    "HostFilter",
    "Rejection",
    "allocation_reservations",
]
