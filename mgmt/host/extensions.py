"""What other services do when a host connects, and how they reach a cluster's hosts.

``HOST_CONNECT_EXTENSIONS`` (observer): the connect handshake's ``connect-extensions`` step
calls every implementation after the host's capacity is defined and before it is
Connected, on every add and reconnect (the network service realises its cluster's L2
networks on it there). An exception fails the step: an add rolls back to nothing, a
reconnect leaves the host Disconnected. A step may run again after a take-over, so an
implementation must be idempotent.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.plugins import ExtensionPoint, Kind
from mgmt.host.backends import HostAccess
from mgmt.host.models import HostRow
from mgmt.host.states import Status


class HostConnectExtension(Protocol):
    async def host_connecting(self, host: HostAccess, cluster_uuid: str) -> None:
        """The host answers its agent's commands now; make it ready for its cluster."""
        ...


HOST_CONNECT_EXTENSIONS: ExtensionPoint[HostConnectExtension] = ExtensionPoint(
    "host.connect-extension",
    HostConnectExtension,
    Kind.OBSERVER,
    "Called in registration order in every host add and reconnect, after the capacity is "
    "defined and before the host is Connected; an exception fails the connect.",
)


def access_of(row: HostRow) -> HostAccess:
    return HostAccess(
        hostUuid=row.uuid,
        managementIp=row.management_ip,
        hypervisorType=row.hypervisor_type,
        username=row.username,
        sshPort=row.ssh_port,
    )


async def connected_hosts(s: AsyncSession, cluster_uuid: str) -> list[HostAccess]:
    """The Connected hosts of a cluster, as their hypervisor backend reaches them."""
    rows = await s.scalars(
        select(HostRow)
        .where(HostRow.cluster_uuid == cluster_uuid, HostRow.state == Status.CONNECTED)
        .order_by(HostRow.uuid)
    )
    return [access_of(r) for r in rows]
