"""What the network service's resources look like through the API (inventories, replies)."""

from __future__ import annotations

from datetime import datetime
from ipaddress import IPv4Address
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mgmt.core.messages import Reply

L2Type = Literal["NoVlan", "Vlan", "VxlanPool", "Vxlan"]
L3Category = Literal["Public", "Private", "System"]
VipState = Literal["Enabled", "Disabled"]

#: the largest VNI (24 bits; 16777215 is reserved by several implementations)
MAX_VNI = 16_777_214


def _ipv4(text: str) -> str:
    """The canonical spelling of an IPv4 address (a ValueError names what is wrong)."""
    return str(IPv4Address(text))


Ipv4 = Annotated[str, AfterValidator(_ipv4), Field(json_schema_extra={"format": "ipv4"})]


class VniRange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    startVni: int = Field(ge=1, le=MAX_VNI, description="First VNI of the range.")
    endVni: int = Field(ge=1, le=MAX_VNI, description="Last VNI of the range (inclusive).")


class L2NetworkInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The L2 network's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    zoneUuid: str = Field(description="The zone it is in.")
    type: L2Type = Field(description="NoVlan, Vlan, VxlanPool or Vxlan.")
    physicalInterface: str = Field(description="The hosts' interface it is bridged to.")
    vlan: int | None = Field(description="Vlan: the VLAN id.")
    vni: int | None = Field(description="Vxlan: its VNI in the pool.")
    poolUuid: str | None = Field(description="Vxlan: its VxlanPool.")
    vniRanges: list[VniRange] = Field(description="VxlanPool: the VNIs its networks get.")
    attachedClusterUuids: list[str] = Field(description="Clusters it is attached to.")
    attachedCidrs: dict[str, str] = Field(
        description="VxlanPool: cluster UUID → the CIDR its hosts' VTEP addresses are in."
    )
    ownerAccountUuid: str = Field(description="Owner account.")
    createDate: datetime = Field(description="When it was created.")
    lastOpDate: datetime = Field(description="When it last changed.")


class L3NetworkInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The L3 network's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    l2NetworkUuid: str = Field(description="The L2 network it runs on.")
    zoneUuid: str = Field(description="The zone of its L2 network.")
    category: L3Category = Field(description="Public, Private or System.")
    system: bool = Field(description="Used by the cloud itself (virtual routers).")
    dnsDomain: str = Field(description="DNS domain of its guests.")
    ipVersion: int = Field(description="4.")
    dns: list[str] = Field(description="DNS servers, in order.")
    ownerAccountUuid: str = Field(description="Owner account.")
    createDate: datetime = Field(description="When it was created.")
    lastOpDate: datetime = Field(description="When it last changed.")


class IpRangeInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The IP range's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    l3NetworkUuid: str = Field(description="The L3 network it belongs to.")
    startIp: str = Field(description="First address of the range.")
    endIp: str = Field(description="Last address of the range.")
    netmask: str = Field(description="Netmask of its subnet.")
    gateway: str = Field(description="Gateway (never given out).")
    networkCidr: str = Field(description="Its subnet, e.g. 192.168.1.0/24.")
    prefixLen: int = Field(description="Prefix length of the subnet.")
    ipVersion: int = Field(description="4.")
    ownerAccountUuid: str = Field(description="Owner account.")
    createDate: datetime = Field(description="When it was created.")
    lastOpDate: datetime = Field(description="When it last changed.")


class VipInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The VIP's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    l3NetworkUuid: str = Field(description="The L3 network its address is from.")
    ipRangeUuid: str | None = Field(description="The IP range its address is in.")
    ip: str | None = Field(description="Its address.")
    gateway: str = Field(description="Gateway of its subnet.")
    netmask: str = Field(description="Netmask of its subnet.")
    state: VipState = Field(description="Enabled or Disabled.")
    ownerAccountUuid: str = Field(description="Owner account.")
    createDate: datetime = Field(description="When it was created.")
    lastOpDate: datetime = Field(description="When it last changed.")


class L2NetworkReply(Reply):
    inventory: L2NetworkInventory


class L3NetworkReply(Reply):
    inventory: L3NetworkInventory


class IpRangeReply(Reply):
    inventory: IpRangeInventory


class VipReply(Reply):
    inventory: VipInventory


class DeletedReply(Reply):
    deleted: list[str] = Field(description="Types deleted, dependents first.")


class IpCapacityReply(BaseModel):
    """``GET /v1/l3-networks/{uuid}/ip-capacity``."""

    total: int = Field(description="Addresses its ranges give out.")
    available: int = Field(description="Of those, not held.")
    used: int = Field(description="Held (by VIPs, NICs …).")


class FreeIp(BaseModel):
    ip: str = Field(description="A free address.")
    ipRangeUuid: str = Field(description="The range it is in.")


class FreeIpsReply(BaseModel):
    """``GET /v1/l3-networks/{uuid}/free-ips``."""

    inventories: list[FreeIp] = Field(description="Free addresses, lowest first.")
