"""The network service's global config and system tag patterns."""

from __future__ import annotations

from mgmt.core.gconfig import GlobalConfigDef
from mgmt.core.tags import SystemTag
from mgmt.core.tags.patterns import Ipv4Token, UuidToken
from mgmt.network.ipmath import Strategy

IP_ALLOCATE_STRATEGY = GlobalConfigDef(
    "l3Network",
    "ipAllocateStrategy",
    str,
    Strategy.RANDOM.value,
    "How a free IP is chosen: RandomIpAllocatorStrategy (spreads addresses, so a released "
    "one is not handed out again at once) or FirstAvailableIpAllocatorStrategy (lowest free).",
    choices=tuple(s.value for s in Strategy),
)

#: read by the create of an IP holder (a VIP now, a VM's NIC later): that holder's address
#: on that L3 network
STATIC_IP = SystemTag(
    "staticIp::{l3Uuid}::{ip}",
    resource_types=("Vip", "VmInstance"),
    tokens={"l3Uuid": UuidToken, "ip": Ipv4Token},
    description="Fixed IP of the resource on that L3 network.",
)
