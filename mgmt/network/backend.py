"""``L2NetworkBackend``: where an L2 network is made real on a host.

The network service records that an L2 network is attached to a cluster and decides what
each of the cluster's hosts must have (``L2Realization``: a bridge on
``physicalInterface``, on a VLAN device, or on a VXLAN device with a VTEP address from the
pool's CIDR); how a host gets it belongs to the hypervisor. The Simulator's and KVM's
agents implement this protocol and plug in by hypervisor type (``L2_NETWORK_BACKENDS``, a
strategy point keyed by ``Simulator`` / ``KVM`` / ``VMware``). A hypervisor without one
needs nothing on its hosts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from mgmt.core.plugins import ExtensionPoint, Kind
from mgmt.host import HostAccess


@dataclass(frozen=True)
class L2Realization:
    """What one host must have for one L2 network (a Vxlan network's VNI and the VTEP
    CIDR its pool is attached to the host's cluster with)."""

    l2NetworkUuid: str
    type: Literal["NoVlan", "Vlan", "Vxlan"]
    bridgeName: str
    physicalInterface: str = ""
    vlan: int | None = None
    vni: int | None = None
    vtepCidr: str | None = None


@runtime_checkable
class L2NetworkBackend(Protocol):
    """``realize`` is called for every Connected host of a cluster after an attach commits,
    and for a host of an attached cluster while it connects; it must be idempotent (a
    redelivered attach or a resumed connect calls it again) and raises to fail the call
    (the attachment stays: attaching again retries). ``unrealize`` runs after a detach
    commits; its errors are logged, not raised."""

    async def realize(self, l2: L2Realization, host: HostAccess) -> None: ...

    async def unrealize(self, l2: L2Realization, host: HostAccess) -> None: ...


L2_NETWORK_BACKENDS: ExtensionPoint[L2NetworkBackend] = ExtensionPoint(
    "network.l2-backend",
    L2NetworkBackend,
    Kind.STRATEGY,
    "Realises an L2 network on one host, by the host's hypervisor type; called after "
    "attach-cluster and detach-cluster commit, and while a host connects. realize raising "
    "fails the attach (or the host's connect).",
)
