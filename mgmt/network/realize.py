"""Which L2 networks a cluster's hosts must have, and getting them there.

A cluster has the NoVlan and Vlan networks attached to it and every Vxlan network of the
VxlanPools attached to it (with the pool's VTEP CIDR for that cluster). ``L2Realizer``
realises them through the hosts' hypervisor backend (``L2_NETWORK_BACKENDS``): on the
Connected hosts of a cluster after an attach, and on one host while it connects (the
``realize-l2-networks`` step this service adds to the host's connect handshake through
``HOST_CONNECT_EXTENSIONS``), so a host added later gets every bridge too.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api import ApiCodes
from mgmt.core.db import Database
from mgmt.core.errors import Codes, PermanentError, ZCloudError, error
from mgmt.core.flow import RetryPolicy, Step
from mgmt.core.logging import get_logger
from mgmt.core.plugins import PluginRegistry
from mgmt.host import HostAccess, HostBackends, HostConnectCtx, connected_hosts
from mgmt.network.backend import L2_NETWORK_BACKENDS, L2NetworkBackend, L2Realization
from mgmt.network.models import L2ClusterRefRow, L2NetworkRow

log = get_logger(__name__)

#: hosts realised at once for one attach (each is one agent call)
PARALLEL_HOSTS = 16
#: the kernel's bridge name limit (IFNAMSIZ - 1)
BRIDGE_NAME_MAX = 15


def bridge_name(l2: L2NetworkRow) -> str:
    """The host bridge of an L2 network: ``br_eth0``, ``br_eth0_100``, ``br_vx_5001``
    (``br_`` and a digest of the L2's UUID when the name would pass 15 bytes)."""
    if l2.type == "Vxlan":
        name = f"br_vx_{l2.vni}"
    elif l2.type == "Vlan":
        name = f"br_{l2.physical_interface}_{l2.vlan}"
    else:
        name = f"br_{l2.physical_interface}"
    if len(name.encode()) <= BRIDGE_NAME_MAX:
        return name
    return "br_" + hashlib.sha1(l2.uuid.encode()).hexdigest()[: BRIDGE_NAME_MAX - 3]


def realization(l2: L2NetworkRow, vtep_cidr: str | None = None) -> L2Realization:
    kind: Literal["NoVlan", "Vlan", "Vxlan"] = (
        "Vxlan" if l2.type == "Vxlan" else "Vlan" if l2.type == "Vlan" else "NoVlan"
    )
    return L2Realization(
        l2NetworkUuid=l2.uuid,
        type=kind,
        bridgeName=bridge_name(l2),
        physicalInterface=l2.physical_interface,
        vlan=l2.vlan if l2.type == "Vlan" else None,
        vni=l2.vni if l2.type == "Vxlan" else None,
        vtepCidr=vtep_cidr,
    )


async def cluster_l2s(
    s: AsyncSession, cluster_uuid: str, only: Sequence[str] = ()
) -> list[L2Realization]:
    """What every host of the cluster must have (``only``: of these L2s or pools)."""
    refs = {
        r.l2_network_uuid: r.vtep_cidr
        for r in await s.scalars(
            select(L2ClusterRefRow).where(L2ClusterRefRow.cluster_uuid == cluster_uuid)
        )
        if not only or r.l2_network_uuid in only
    }
    if not refs:
        return []
    rows = await s.scalars(
        select(L2NetworkRow)
        .where(
            or_(L2NetworkRow.uuid.in_(refs), L2NetworkRow.pool_uuid.in_(refs)),
            L2NetworkRow.type != "VxlanPool",
        )
        .order_by(L2NetworkRow.uuid)
    )
    return [
        realization(r, refs.get(r.pool_uuid) if r.pool_uuid is not None else None) for r in rows
    ]


async def pool_clusters(s: AsyncSession, pool_uuid: str) -> list[tuple[str, str | None]]:
    """The clusters a VxlanPool is attached to, with their VTEP CIDRs."""
    refs = await s.scalars(
        select(L2ClusterRefRow).where(L2ClusterRefRow.l2_network_uuid == pool_uuid)
    )
    return [(r.cluster_uuid, r.vtep_cidr) for r in refs]


class L2Realizer:
    """Realises L2 networks on hosts through their hypervisor's backend."""

    def __init__(self, db: Database, plugins: PluginRegistry) -> None:
        self._db = db
        self._plugins = plugins

    def _backend(self, hypervisor: str) -> L2NetworkBackend | None:
        if hypervisor not in self._plugins.strategy_types(L2_NETWORK_BACKENDS):
            return None  # a hypervisor whose hosts need nothing set up
        return self._plugins.strategy(L2_NETWORK_BACKENDS, hypervisor)

    async def on_host(self, host: HostAccess, cluster_uuid: str, *, unrealize: bool) -> None:
        """Every L2 network of the cluster on one host (raises on the first refusal)."""
        backend = self._backend(host.hypervisorType)
        if backend is None:
            return
        async with self._db.session() as s:
            wanted = await cluster_l2s(s, cluster_uuid)
        for l2 in wanted:
            await (backend.unrealize(l2, host) if unrealize else backend.realize(l2, host))

    async def realize_on_cluster(self, cluster_uuid: str, l2s: Sequence[L2Realization]) -> None:
        """On every Connected host of the cluster; a 409 naming the hosts that failed."""
        async with self._db.session() as s:
            hosts = await connected_hosts(s, cluster_uuid)
        failed = await self._each(hosts, l2s, unrealize=False)
        if failed:
            first = next(iter(failed.values()))
            raise PermanentError(
                error(
                    ApiCodes.CONFLICT,
                    f"the L2 network could not be set up on {len(failed)} of the "
                    f"{len(hosts)} hosts of cluster {cluster_uuid} (host {first}); the "
                    "attachment stays: attach again to retry",
                    failedHosts=failed,
                )
            )

    async def unrealize_on_cluster(self, cluster_uuid: str, l2s: Sequence[L2Realization]) -> None:
        async with self._db.session() as s:
            hosts = await connected_hosts(s, cluster_uuid)
        for host, reason in (await self._each(hosts, l2s, unrealize=True)).items():
            log.warning("L2 clean-up on host %s failed: %s", host, reason)

    async def _each(
        self, hosts: Sequence[HostAccess], l2s: Sequence[L2Realization], *, unrealize: bool
    ) -> dict[str, str]:
        """Host UUID → reason, for the hosts where it failed."""
        gate = asyncio.Semaphore(PARALLEL_HOSTS)
        failed: dict[str, str] = {}

        async def one(host: HostAccess) -> None:
            backend = self._backend(host.hypervisorType)
            if backend is None:
                return
            async with gate:
                for l2 in l2s:
                    try:
                        if unrealize:
                            await backend.unrealize(l2, host)
                        else:
                            await backend.realize(l2, host)
                    except ZCloudError as exc:
                        failed[host.hostUuid] = f"{host.hostUuid}: {exc.error.details}"
                        return

        await asyncio.gather(*(one(h) for h in hosts))
        return failed


class RealizeL2OnHost(Step[HostConnectCtx]):
    """The connect handshake's step: the host gets its cluster's bridges before it is
    Connected (idempotent: a resumed step realises again, the agent keeps what it has);
    an add rolled back takes them away again."""

    name = "realize-l2-networks"
    retry = RetryPolicy(max_attempts=2, initial_delay=0.5)

    def __init__(self, realizer: L2Realizer) -> None:
        self.realizer = realizer

    async def run(self, ctx: HostConnectCtx) -> Any:
        try:
            await self.realizer.on_host(ctx.access(), ctx.clusterUuid, unrealize=False)
        except ZCloudError as exc:
            raise PermanentError(
                error(
                    Codes.AGENT_ERROR,
                    f"host {ctx.hostUuid} could not get the L2 networks of cluster "
                    f"{ctx.clusterUuid}: {exc.error.details}",
                    hostUuid=ctx.hostUuid,
                ).caused(exc.error)
            ) from exc
        return None

    async def rollback(self, ctx: HostConnectCtx, result: Any) -> None:
        try:
            await self.realizer.on_host(ctx.access(), ctx.clusterUuid, unrealize=True)
        except Exception as exc:  # a host that failed its add: nothing uses its bridges
            log.warning("L2 clean-up on host %s failed: %r", ctx.hostUuid, exc)


class L2OnConnect:
    """``HostConnectExtension``: adds ``realize-l2-networks`` to the connect handshake."""

    def __init__(self, realizer: L2Realizer) -> None:
        self._realizer = realizer

    def connect_steps(self, backends: HostBackends) -> Sequence[Step[HostConnectCtx]]:
        return [RealizeL2OnHost(self._realizer)]
