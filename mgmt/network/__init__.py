"""Network service: L2 and L3 networks, IP ranges, IPAM and VIPs.

Public surface (other services import only this package root):

- its API messages and inventories;
- **IPAM**, the library every holder of an address uses (VIPs here, VM NICs later), in
  the holder's own transaction: ``allocate_ip(session, IpRequest(l3, holder, type, ip=…,
  strategy=…)) -> AllocatedIp`` (idempotent by holder; ``NETWORK.1001`` no free IP,
  ``NETWORK.1002`` taken, ``NETWORK.1003`` outside every range), ``release_ips(session,
  holders)`` (in the holder's delete), ``ip_capacity``, ``free_ips``, ``ip_holders``;
- ``STATIC_IP``, the ``staticIp::{l3Uuid}::{ip}`` system tag a holder's create reads, and
  ``IP_ALLOCATE_STRATEGY``, the global config that picks the strategy;
- ``L2NetworkBackend`` / ``L2_NETWORK_BACKENDS``: the extension point hypervisors
  implement to realise an L2 network (``L2Realization``: a bridge, on a VLAN or VXLAN
  device) on one host; the network service calls it for every host of an attached
  cluster and for each host that connects.
"""

from mgmt.network.backend import L2_NETWORK_BACKENDS, L2NetworkBackend, L2Realization
from mgmt.network.config import IP_ALLOCATE_STRATEGY, STATIC_IP
from mgmt.network.errors import NetworkCodes
from mgmt.network.inventories import (
    IpRangeInventory,
    L2NetworkInventory,
    L3NetworkInventory,
    VipInventory,
)
from mgmt.network.ipam import (
    AllocatedIp,
    IpCapacity,
    IpHolder,
    IpRequest,
    allocate_ip,
    free_ips,
    ip_capacity,
    ip_holders,
    release_ips,
)
from mgmt.network.ipmath import Strategy
from mgmt.network.messages import (
    API_MESSAGES,
    AddDnsToL3Network,
    AddIpRange,
    AddIpRangeByNetworkCidr,
    AttachL2NetworkToCluster,
    CreateL2Network,
    CreateL2NoVlanNetwork,
    CreateL2VlanNetwork,
    CreateL2VxlanNetwork,
    CreateL2VxlanNetworkPool,
    CreateL3Network,
    CreateVip,
    DeleteIpRange,
    DeleteL2Network,
    DeleteL3Network,
    DeleteVip,
    DetachL2NetworkFromCluster,
    RemoveDnsFromL3Network,
    UpdateIpRange,
    UpdateL2Network,
    UpdateL3Network,
    UpdateVip,
)

__all__ = [
    "API_MESSAGES",
    "IP_ALLOCATE_STRATEGY",
    "L2_NETWORK_BACKENDS",
    "STATIC_IP",
    "AddDnsToL3Network",
    "AddIpRange",
    "AddIpRangeByNetworkCidr",
    "AllocatedIp",
    "AttachL2NetworkToCluster",
    "CreateL2Network",
    "CreateL2NoVlanNetwork",
    "CreateL2VlanNetwork",
    "CreateL2VxlanNetwork",
    "CreateL2VxlanNetworkPool",
    "CreateL3Network",
    "CreateVip",
    "DeleteIpRange",
    "DeleteL2Network",
    "DeleteL3Network",
    "DeleteVip",
    "DetachL2NetworkFromCluster",
    "IpCapacity",
    "IpHolder",
    "IpRangeInventory",
    "IpRequest",
    "L2NetworkBackend",
    "L2NetworkInventory",
    "L2Realization",
    "L3NetworkInventory",
    "NetworkCodes",
    "RemoveDnsFromL3Network",
    "Strategy",
    "UpdateIpRange",
    "UpdateL2Network",
    "UpdateL3Network",
    "UpdateVip",
    "VipInventory",
    "allocate_ip",
    "free_ips",
    "ip_capacity",
    "ip_holders",
    "release_ips",
]
