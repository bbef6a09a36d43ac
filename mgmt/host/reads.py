"""What other services may read of hosts (through ``mgmt.host``), and the observer point
told when a host's facts change.

``HostDisk`` is a host as a storage service sees it: where it is, whether it can be used,
and the local disk its agent reported in the connect handshake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.plugins import ExtensionPoint, Kind
from mgmt.host.backends import HostAccess
from mgmt.host.models import HostRow
from mgmt.host.states import Status


@dataclass(frozen=True)
class HostDisk:
    uuid: str
    name: str
    zone_uuid: str
    cluster_uuid: str
    management_ip: str
    hypervisor_type: str
    #: Enabled/Disabled/…
    state: str
    #: Connected/Connecting/Disconnected
    status: str
    #: bytes of local disk the agent reported (``HostFacts``)
    local_storage_bytes: int
    #: the account that owns the host (the admin's): who hears of its stranger VMs
    owner_account_uuid: str = ""


def _of(row: HostRow) -> HostDisk:
    return HostDisk(
        uuid=row.uuid,
        name=row.name,
        zone_uuid=row.zone_uuid,
        cluster_uuid=row.cluster_uuid,
        management_ip=row.management_ip,
        hypervisor_type=row.hypervisor_type,
        state=row.host_state,
        status=row.state,
        local_storage_bytes=row.local_storage_bytes,
        owner_account_uuid=row.owner_account_uuid,
    )


async def hosts_in_clusters(s: AsyncSession, cluster_uuids: Sequence[str]) -> list[HostDisk]:
    """The hosts of these clusters, oldest first."""
    if not cluster_uuids:
        return []
    rows = await s.execute(
        select(HostRow)
        .where(HostRow.cluster_uuid.in_(list(cluster_uuids)))
        .order_by(HostRow.created_at, HostRow.uuid)
    )
    return [_of(r) for r in rows.scalars()]


async def host_disks(s: AsyncSession, host_uuids: Sequence[str]) -> dict[str, HostDisk]:
    """These hosts, by UUID (missing ones left out)."""
    if not host_uuids:
        return {}
    rows = await s.execute(select(HostRow).where(HostRow.uuid.in_(list(host_uuids))))
    return {r.uuid: _of(r) for r in rows.scalars()}


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


async def host_access(s: AsyncSession, uuids: Sequence[str]) -> dict[str, HostAccess]:
    """These hosts as their backend reaches them, whatever their status (a clean-up that
    must reach a Disconnected host tries, and the GC queue retries)."""
    if not uuids:
        return {}
    rows = await s.scalars(select(HostRow).where(HostRow.uuid.in_(list(uuids))))
    return {r.uuid: access_of(r) for r in rows}


@dataclass(frozen=True)
class HostAtRunTime:
    """A Connected or Disconnected host, for the services that follow hosts at run time
    (the VM state sync)."""

    access: HostAccess
    #: Connected/Disconnected
    status: str
    owner_account_uuid: str
    #: an operation (a reconnect) holds it
    busy: bool
    #: when its row last changed (a handshake writes it: the VMs were read then)
    updated_at: datetime


async def hosts_at_run_time(s: AsyncSession) -> list[HostAtRunTime]:
    """Every Connected or Disconnected host."""
    rows = await s.scalars(
        select(HostRow).where(HostRow.state.in_((Status.CONNECTED, Status.DISCONNECTED)))
    )
    return [
        HostAtRunTime(
            access_of(r), r.state, r.owner_account_uuid, r.op_holder is not None, r.updated_at
        )
        for r in rows
    ]


class HostObserver(Protocol):
    """Told when a host's connect handshake recorded its facts (local disk included)."""

    async def host_connected(self, session: AsyncSession, host: HostDisk) -> None:
        """In the transaction that writes the facts (step ``define-capacity`` of the add
        and reconnect flows); an exception fails that step. May run again for one
        handshake after a take-over: idempotent."""
        ...


HOST_OBSERVERS: ExtensionPoint[HostObserver] = ExtensionPoint(
    "host.observer",
    HostObserver,
    Kind.OBSERVER,
    "Every observer, in registration order, in the transaction that records a connected "
    "host's facts; an exception fails the handshake's define-capacity step. Deletes are "
    "told through cascade.observer.",
)
