"""Allocator service: host allocation (filters and strategies) and the candidates API.

Public surface: ``AllocationSpec``, ``HostCandidate`` and the ``HostFilter`` extension
point ``HOST_FILTERS`` other services implement (``contract``).
"""

from mgmt.allocator.contract import HOST_FILTERS, AllocationSpec, HostCandidate, HostFilter

__all__ = ["HOST_FILTERS", "AllocationSpec", "HostCandidate", "HostFilter"]
