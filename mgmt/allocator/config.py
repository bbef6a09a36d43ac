"""The allocator's global configs and the ``reservedMemory::{size}`` host tag.

Over-commit is applied when a host is chosen, never stored in the counters: ``host.cpu``
and ``host.memory`` keep the host's physical totals and the exact sum of reservations
(so recalculation and drift checks stay exact); a reservation fits when
``used + asked + reserved <= total x ratio`` (``mgmt.core.counters.Limit``), checked by the
same conditional statement that takes it. A ratio changed through the API is read from
each process's config cache at the next allocation: no restart, nothing rewritten.
"""

from __future__ import annotations

from mgmt.allocator.strategies import STRATEGIES
from mgmt.core.gconfig import GlobalConfigDef
from mgmt.core.tags import SystemTag
from mgmt.core.tags.patterns import SizeToken, parse_size


def _size(text: str) -> None:
    parse_size(text)


CPU_RATIO = GlobalConfigDef(
    "host",
    "cpu.overProvisioning.ratio",
    float,
    10.0,
    "vCPUs a host may give out per physical CPU (over-commit); applies to the next allocation.",
    ge=0.1,
    le=1000,
)
MEMORY_RATIO = GlobalConfigDef(
    "host",
    "memory.overProvisioning.ratio",
    float,
    1.0,
    "Bytes of VM memory a host may give out per byte it has (over-commit); applies to the "
    "next allocation.",
    ge=0.1,
    le=100,
)
RESERVED_MEMORY_DEFAULT = GlobalConfigDef(
    "host",
    "reservedMemory",
    str,
    "1G",
    "Memory every host keeps for itself (never given to VMs), e.g. 1G or 512M; a host's "
    "reservedMemory::{size} system tag overrides it.",
    validator=_size,
)
DEFAULT_STRATEGY = GlobalConfigDef(
    "hostAllocator",
    "defaultStrategy",
    str,
    "DefaultHostAllocatorStrategy",
    "The host allocator strategy of a VM whose request and instance offering name none.",
    choices=tuple(s.name for s in STRATEGIES),
)

CONFIGS = (CPU_RATIO, MEMORY_RATIO, RESERVED_MEMORY_DEFAULT, DEFAULT_STRATEGY)

RESERVED_MEMORY = SystemTag(
    "reservedMemory::{size}",
    resource_types=("Host",),
    tokens={"size": SizeToken},
    description="Memory this host keeps for itself (never given to VMs), e.g. 2G; "
    "overrides the global config host.reservedMemory.",
    admin_only=True,
    unique=True,
)
