"""``L2NetworkBackend``: where an L2 network is made real on a cluster's hosts.

The network service records that an L2 network is attached to a cluster; what that means
on the hosts (a Linux bridge on ``physicalInterface``, a VLAN device, a VXLAN device with
a VTEP address from the pool's CIDR) belongs to the hypervisor: the simulator and KVM
agents implement this protocol and plug in by L2 type (``L2_NETWORK_BACKENDS``, a
strategy point keyed by ``NoVlan`` / ``Vlan`` / ``VxlanPool`` / ``Vxlan``). Until one is
registered, ``NoopL2NetworkBackend`` realises nothing.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from mgmt.core.plugins import ExtensionPoint, Kind
from mgmt.network.inventories import L2NetworkInventory


@runtime_checkable
class L2NetworkBackend(Protocol):
    """Called by the attach-cluster and detach-cluster handlers after the attachment row
    is committed (so a backend may read it). ``realize`` must be idempotent (a redelivered
    attach calls it again) and may raise to fail the API call; the attachment stays, and
    attaching again retries. ``unrealize`` runs after the row is gone; its errors are
    logged, not raised (the hosts are reconciled when they reconnect)."""

    async def realize(self, l2: L2NetworkInventory, cluster_uuid: str) -> None: ...

    async def unrealize(self, l2: L2NetworkInventory, cluster_uuid: str) -> None: ...


class NoopL2NetworkBackend:
    """The default: nothing to set up (no hosts yet, or a hypervisor that needs none)."""

    async def realize(self, l2: L2NetworkInventory, cluster_uuid: str) -> None:
        return None

    async def unrealize(self, l2: L2NetworkInventory, cluster_uuid: str) -> None:
        return None


L2_NETWORK_BACKENDS: ExtensionPoint[L2NetworkBackend] = ExtensionPoint(
    "network.l2-backend",
    L2NetworkBackend,
    Kind.STRATEGY,
    "Realises an L2 network on a cluster's hosts, by L2 type; called after attach-cluster "
    "and detach-cluster commit. realize raising fails the attach API call.",
)
