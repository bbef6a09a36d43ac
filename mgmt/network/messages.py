"""Network API messages (L2, L3, IP ranges, VIPs); the REST API is derived from these.

Field and API names follow ZStack's. Infrastructure (L2, L3, IP ranges) is the admin's:
those creates are ``admin_only``; tenants use what the admin shares with them or makes
public, and create VIPs on it.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any, ClassVar, Self

from pydantic import ConfigDict, Field, model_validator

from mgmt.core.api import ApiRequest, ApiSpec, DeleteMode, delete_mode, uuid_ref
from mgmt.network.inventories import (
    MAX_VNI,
    DeletedReply,
    IpRangeReply,
    Ipv4,
    L2NetworkReply,
    L2Type,
    L3Category,
    L3NetworkReply,
    VipReply,
    VipState,
    VniRange,
)

_UUID = Field(default="", max_length=64, description="Optional UUID to use.")
_DELETE_EXAMPLE = ConfigDict(json_schema_extra={"examples": [{"deleteMode": "Permissive"}]})


# -- L2 networks ---------------------------------------------------------------------------


class _CreateL2(ApiRequest[L2NetworkReply]):
    """What every kind of L2 network is created with."""

    #: the kind of L2 network this create makes (not a body field: each kind has its API)
    l2_type: ClassVar[L2Type]

    resourceUuid: str = _UUID
    zoneUuid: str = uuid_ref("The zone it goes in.")
    name: str = Field(min_length=1, max_length=255, description="Name of the L2 network.")
    description: str = Field(default="", max_length=2048, description="Free text.")
    physicalInterface: str = Field(
        default="", max_length=255, description="The hosts' interface to bridge (eth0)."
    )


def _l2_example(**fields: Any) -> ConfigDict:
    base = {"name": "l2-1", "zoneUuid": "<zone uuid>", "physicalInterface": "eth0"}
    return ConfigDict(json_schema_extra={"examples": [{**base, **fields}]})


class CreateL2NoVlanNetwork(_CreateL2):
    """Create a NoVlan L2 network in a zone: a plain bridge on ``physicalInterface``."""

    api = ApiSpec(
        "create",
        "l2-networks",
        "L2Network",
        "Create a NoVlan L2 network",
        variant="no-vlan",
        admin_only=True,
    )
    model_config = _l2_example()
    l2_type = "NoVlan"


class CreateL2VlanNetwork(_CreateL2):
    """Create a Vlan L2 network in a zone: VLAN ``vlan`` on ``physicalInterface``."""

    api = ApiSpec(
        "create",
        "l2-networks",
        "L2Network",
        "Create a Vlan L2 network",
        variant="vlan",
        admin_only=True,
    )
    model_config = _l2_example(vlan=100)
    l2_type = "Vlan"

    vlan: int = Field(ge=1, le=4094, description="The VLAN id.")


class CreateL2VxlanNetworkPool(_CreateL2):
    """Create a VxlanPool in a zone: the VNIs (``vniRanges``) its Vxlan networks get.
    Attach it to clusters with the network their hosts' VTEP addresses are in."""

    api = ApiSpec(
        "create",
        "l2-networks",
        "L2Network",
        "Create a VxlanPool",
        variant="vxlan-pool",
        admin_only=True,
    )
    model_config = _l2_example(vniRanges=[{"startVni": 1000, "endVni": 1999}])
    l2_type = "VxlanPool"

    vniRanges: list[VniRange] = Field(
        min_length=1, max_length=64, description="The VNIs its networks get; no overlaps."
    )

    @model_validator(mode="after")
    def _ranges_in_order(self) -> Self:
        for r in self.vniRanges:
            if r.startVni > r.endVni:
                raise ValueError(f"vniRanges: startVni {r.startVni} is above endVni {r.endVni}")
        ordered = sorted(self.vniRanges, key=lambda r: r.startVni)
        for a, b in pairwise(ordered):
            if b.startVni <= a.endVni:
                raise ValueError("vniRanges: ranges overlap")
        return self


class CreateL2VxlanNetwork(_CreateL2):
    """Create a Vxlan network in a VxlanPool (``poolUuid``) of the zone: ``vni`` if given
    (409 if another network of the pool has it), else a free VNI of the pool."""

    api = ApiSpec(
        "create",
        "l2-networks",
        "L2Network",
        "Create a Vxlan L2 network",
        variant="vxlan",
        admin_only=True,
    )
    model_config = _l2_example(poolUuid="<vxlan network pool uuid>")
    l2_type = "Vxlan"

    poolUuid: str = uuid_ref("Its VxlanPool.")
    vni: int | None = Field(
        default=None, ge=1, le=MAX_VNI, description="This VNI (else one is allocated)."
    )


CreateL2Network = (
    CreateL2NoVlanNetwork | CreateL2VlanNetwork | CreateL2VxlanNetworkPool | CreateL2VxlanNetwork
)


class UpdateL2Network(ApiRequest[L2NetworkReply]):
    """Change an L2 network's name or description."""

    api = ApiSpec("update", "l2-networks", "L2Network", "Update an L2 network")
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "l2-renamed"}]})

    name: str | None = Field(default=None, min_length=1, max_length=255, description="New name.")
    description: str | None = Field(default=None, max_length=2048, description="New text.")


class DeleteL2Network(ApiRequest[DeletedReply]):
    """Delete an L2 network and its L3 networks, IP ranges and VIPs (cascade)."""

    api = ApiSpec("delete", "l2-networks", "L2Network", "Delete an L2 network")
    model_config = _DELETE_EXAMPLE

    deleteMode: DeleteMode = delete_mode()


class AttachL2NetworkToCluster(ApiRequest[L2NetworkReply]):
    """Attach the L2 network to a cluster of its zone: the cluster's hosts get its bridge.
    A VxlanPool takes ``vtepCidr``, the network the hosts' VTEP addresses are in (without
    it a host's management address is its VTEP); other kinds refuse it (409)."""

    api = ApiSpec(
        "action",
        "l2-networks",
        "L2Network",
        "Attach an L2 network to a cluster",
        action="attach-cluster",
        admin_only=True,
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{"clusterUuid": "<cluster uuid>"}]})

    clusterUuid: str = uuid_ref("A cluster of its zone.")
    vtepCidr: str | None = Field(
        default=None, max_length=64, description="VxlanPool: the hosts' VTEP network (CIDR)."
    )


class DetachL2NetworkFromCluster(ApiRequest[L2NetworkReply]):
    """Detach the L2 network from a cluster."""

    api = ApiSpec(
        "action",
        "l2-networks",
        "L2Network",
        "Detach an L2 network from a cluster",
        action="detach-cluster",
        admin_only=True,
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{"clusterUuid": "<cluster uuid>"}]})

    clusterUuid: str = uuid_ref("An attached cluster.")


# -- L3 networks ---------------------------------------------------------------------------


class CreateL3Network(ApiRequest[L3NetworkReply]):
    """Create an L3 network on an L2 network; add IP ranges to it next."""

    api = ApiSpec("create", "l3-networks", "L3Network", "Create an L3 network", admin_only=True)
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "l3-1", "l2NetworkUuid": "<l2 network uuid>", "category": "Private"}
            ]
        }
    )

    resourceUuid: str = _UUID
    l2NetworkUuid: str = uuid_ref("The L2 it runs on.")
    name: str = Field(min_length=1, max_length=255, description="Name of the L3 network.")
    description: str = Field(default="", max_length=2048, description="Free text.")
    category: L3Category = Field(default="Private", description="Public, Private or System.")
    system: bool = Field(default=False, description="Used by the cloud itself.")
    dnsDomain: str = Field(default="", max_length=255, description="DNS domain of its guests.")
    ipVersion: int = Field(default=4, ge=4, le=4, description="4 (IPv6 is not supported yet).")
    dns: list[Ipv4] = Field(default_factory=list, max_length=8, description="DNS servers.")


class UpdateL3Network(ApiRequest[L3NetworkReply]):
    """Change an L3 network's name, description, category, system flag or DNS domain."""

    api = ApiSpec("update", "l3-networks", "L3Network", "Update an L3 network")
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "l3-renamed"}]})

    name: str | None = Field(default=None, min_length=1, max_length=255, description="New name.")
    description: str | None = Field(default=None, max_length=2048, description="New text.")
    category: L3Category | None = Field(default=None, description="Public, Private or System.")
    system: bool | None = Field(default=None, description="Used by the cloud itself.")
    dnsDomain: str | None = Field(default=None, max_length=255, description="DNS domain.")


class DeleteL3Network(ApiRequest[DeletedReply]):
    """Delete an L3 network with its IP ranges and VIPs. Permissive: refused while any of
    its addresses is held (the holders are named); Enforcing: everything goes and every
    address is given back."""

    api = ApiSpec("delete", "l3-networks", "L3Network", "Delete an L3 network")
    model_config = _DELETE_EXAMPLE

    deleteMode: DeleteMode = delete_mode()


class AddDnsToL3Network(ApiRequest[L3NetworkReply]):
    """Add a DNS server to the L3 network (last in order; present already: no change)."""

    api = ApiSpec(
        "action", "l3-networks", "L3Network", "Add a DNS server", action="add-dns", admin_only=True
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{"dns": "8.8.8.8"}]})

    dns: Ipv4 = Field(description="The DNS server's address.")


class RemoveDnsFromL3Network(ApiRequest[L3NetworkReply]):
    """Remove a DNS server from the L3 network (absent: no change)."""

    api = ApiSpec(
        "action",
        "l3-networks",
        "L3Network",
        "Remove a DNS server",
        action="remove-dns",
        admin_only=True,
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{"dns": "8.8.8.8"}]})

    dns: Ipv4 = Field(description="The DNS server's address.")


# -- IP ranges -----------------------------------------------------------------------------


class _AddIpRange(ApiRequest[IpRangeReply]):
    resourceUuid: str = _UUID
    l3NetworkUuid: str = uuid_ref("The L3 network.")
    name: str = Field(min_length=1, max_length=255, description="Name of the range.")
    description: str = Field(default="", max_length=2048, description="Free text.")


class AddIpRange(_AddIpRange):
    """Add the addresses ``startIp``-``endIp`` of the subnet ``netmask`` with ``gateway``
    to an L3 network. The gateway and the subnet's network and broadcast addresses are
    never given out; a range overlapping another of the L3 is refused (409 naming it)."""

    api = ApiSpec("create", "ip-ranges", "IpRange", "Add an IP range", admin_only=True)
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "range-1",
                    "l3NetworkUuid": "<l3 network uuid>",
                    "startIp": "10.0.0.10",
                    "endIp": "10.0.0.200",
                    "netmask": "255.255.255.0",
                    "gateway": "10.0.0.1",
                }
            ]
        }
    )

    startIp: Ipv4 = Field(description="First address given out.")
    endIp: Ipv4 = Field(description="Last address given out.")
    netmask: Ipv4 = Field(description="Netmask of the subnet.")
    gateway: Ipv4 = Field(description="Gateway of the subnet.")


class AddIpRangeByNetworkCidr(_AddIpRange):
    """Add a whole network (``networkCidr``) to an L3 network: its first host address is
    the gateway; the gateway, network and broadcast addresses are never given out."""

    api = ApiSpec(
        "create",
        "ip-ranges",
        "IpRange",
        "Add an IP range by network CIDR",
        variant="by-cidr",
        admin_only=True,
    )
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "range-1",
                    "l3NetworkUuid": "<l3 network uuid>",
                    "networkCidr": "192.168.10.0/24",
                }
            ]
        }
    )

    networkCidr: str = Field(
        min_length=1, max_length=64, description="The network, e.g. 192.168.1.0/24."
    )


class UpdateIpRange(ApiRequest[IpRangeReply]):
    """Change an IP range's name or description."""

    api = ApiSpec("update", "ip-ranges", "IpRange", "Update an IP range")
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "range-renamed"}]})

    name: str | None = Field(default=None, min_length=1, max_length=255, description="New name.")
    description: str | None = Field(default=None, max_length=2048, description="New text.")


class DeleteIpRange(ApiRequest[DeletedReply]):
    """Delete an IP range and the VIPs holding its addresses (cascade)."""

    api = ApiSpec("delete", "ip-ranges", "IpRange", "Delete an IP range")
    model_config = _DELETE_EXAMPLE

    deleteMode: DeleteMode = delete_mode()


# -- VIPs ----------------------------------------------------------------------------------


class CreateVip(ApiRequest[VipReply]):
    """Take an address of an L3 network the caller sees (its own, shared with it or
    public) as a virtual IP: ``requiredIp`` or the system tag ``staticIp::{l3Uuid}::{ip}``
    asks for one address (400 if the L3 does not give it out, 409 if it is held), else a
    free one is chosen by the global config ``l3Network.ipAllocateStrategy``."""

    api = ApiSpec("create", "vips", "Vip", "Create a VIP")
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "vip-1", "l3NetworkUuid": "<l3 network uuid>"}]}
    )

    resourceUuid: str = _UUID
    l3NetworkUuid: str = uuid_ref("Its L3 network.")
    name: str = Field(min_length=1, max_length=255, description="Name of the VIP.")
    description: str = Field(default="", max_length=2048, description="Free text.")
    requiredIp: Ipv4 | None = Field(default=None, description="This address, or 409/400.")


class UpdateVip(ApiRequest[VipReply]):
    """Change a VIP's name, description or state."""

    api = ApiSpec("update", "vips", "Vip", "Update a VIP")
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "vip-renamed"}]})

    name: str | None = Field(default=None, min_length=1, max_length=255, description="New name.")
    description: str | None = Field(default=None, max_length=2048, description="New text.")
    state: VipState | None = Field(default=None, description="Enabled or Disabled.")


class DeleteVip(ApiRequest[DeletedReply]):
    """Delete a VIP; its address is given back."""

    api = ApiSpec("delete", "vips", "Vip", "Delete a VIP")
    model_config = _DELETE_EXAMPLE

    deleteMode: DeleteMode = delete_mode()


API_MESSAGES = (
    CreateL2NoVlanNetwork,
    CreateL2VlanNetwork,
    CreateL2VxlanNetworkPool,
    CreateL2VxlanNetwork,
    UpdateL2Network,
    DeleteL2Network,
    AttachL2NetworkToCluster,
    DetachL2NetworkFromCluster,
    CreateL3Network,
    UpdateL3Network,
    DeleteL3Network,
    AddDnsToL3Network,
    RemoveDnsFromL3Network,
    AddIpRange,
    AddIpRangeByNetworkCidr,
    UpdateIpRange,
    DeleteIpRange,
    CreateVip,
    UpdateVip,
    DeleteVip,
)
