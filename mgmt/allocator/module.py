"""The allocator service module: its filters and strategies (read plugins, so frontends
run them too), its configs, the ``reservedMemory`` tag and the candidates read. It has no
handlers: the VM service allocates through ``HostAllocator``."""

from __future__ import annotations

from collections.abc import Sequence

from mgmt.allocator.api import collection_reads
from mgmt.allocator.config import CONFIGS, RESERVED_MEMORY
from mgmt.allocator.contract import HOST_FILTERS
from mgmt.allocator.errors import STATUSES
from mgmt.allocator.filters.avoid import AvoidHostsFilter
from mgmt.allocator.filters.capacity import CapacityFilter
from mgmt.allocator.filters.designated import DesignatedFilter
from mgmt.allocator.filters.host_tags import HostTagFilter
from mgmt.allocator.filters.hypervisor import HypervisorTypeFilter
from mgmt.allocator.filters.state import HostStateFilter
from mgmt.allocator.strategies import HOST_STRATEGIES, STRATEGIES
from mgmt.core.module import BaseParts, ServiceModule
from mgmt.core.plugins import Extension, Plugin


class AllocatorPlugin:
    """The allocator's own filters, cheap ones first and capacity last, and its strategies.
    The allocator module is listed last in ``MODULES`` so its filters run after the other
    services' (a host refused for its network is reported with that reason)."""

    name = "allocator"

    def extensions(self) -> Sequence[Extension]:
        filters = (
            HostStateFilter(),
            HypervisorTypeFilter(),
            DesignatedFilter(),
            AvoidHostsFilter(),
            HostTagFilter(),
            CapacityFilter(),
        )
        return [
            *(Extension(HOST_FILTERS, f) for f in filters),
            *(Extension(HOST_STRATEGIES, s, type=s.name) for s in STRATEGIES),
        ]


def _plugins(parts: BaseParts) -> Sequence[Plugin]:
    return [AllocatorPlugin()]


MODULE = ServiceModule(
    "allocator",
    read_plugins=_plugins,
    collection_reads=collection_reads,
    global_configs=CONFIGS,
    tag_patterns=(RESERVED_MEMORY,),
    error_statuses=STATUSES,
)
