"""Network commands: make an L2 network real on a host, or take it away (sync: a bridge and
a VLAN or VXLAN device are a few ``ip link`` calls)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from agent.protocol.base import AgentCommand, AgentReply

L2Type = Literal["NoVlan", "Vlan", "Vxlan"]


class RealizeL2NetworkReply(AgentReply):
    #: the bridge VMs' NICs of this L2 plug into
    bridgeName: str = ""


class RealizeL2Network(AgentCommand):
    """Have a bridge for the L2 network on this host: on ``physicalInterface`` (NoVlan), on
    its VLAN device ``vlan`` (Vlan) or on a VXLAN device with ``vni`` whose local VTEP is
    the host's address in ``vtepCidr`` (Vxlan). Idempotent: an existing bridge is kept."""

    path: ClassVar[str] = "/network/l2/realize"
    reply_type: ClassVar[type[AgentReply]] = RealizeL2NetworkReply
    is_async: ClassVar[bool] = False
    l2NetworkUuid: str
    type: L2Type
    bridgeName: str = Field(max_length=15, description="Linux bridge names are ≤ 15 bytes.")
    physicalInterface: str = ""
    vlan: int | None = Field(default=None, ge=1, le=4094)
    vni: int | None = Field(default=None, ge=1, le=16777214)
    vtepCidr: str | None = None


class UnrealizeL2NetworkReply(AgentReply):
    pass


class UnrealizeL2Network(AgentCommand):
    """Remove the L2 network's bridge (and its VLAN/VXLAN device) from this host; a bridge
    that is not there is success."""

    path: ClassVar[str] = "/network/l2/unrealize"
    reply_type: ClassVar[type[AgentReply]] = UnrealizeL2NetworkReply
    is_async: ClassVar[bool] = False
    l2NetworkUuid: str
    bridgeName: str = Field(max_length=15)
