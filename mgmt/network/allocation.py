"""The network's host filter for the allocator: a host can take a VM only if its cluster
is attached to the L2 network of every L3 network the VM has a NIC on. Registered at
``HOST_FILTERS`` by ``NetworkAllocationPlugin`` (a read plugin: frontends run it too)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.allocator import HOST_FILTERS, AllocationSpec, HostCandidate
from mgmt.core.plugins import Extension
from mgmt.network.models import L2ClusterRefRow, L3NetworkRow


class L3AttachedFilter:
    name = "l3-network"

    async def reject(
        self, session: AsyncSession, spec: AllocationSpec, hosts: Sequence[HostCandidate]
    ) -> Mapping[str, str]:
        if not spec.l3_network_uuids:
            return {}
        found = await session.execute(
            select(L3NetworkRow.uuid, L3NetworkRow.l2_network_uuid).where(
                L3NetworkRow.uuid.in_(spec.l3_network_uuids)
            )
        )
        l2_of = {str(l3): str(l2) for l3, l2 in found.all()}
        clusters = {h.cluster_uuid for h in hosts}
        refs = await session.execute(
            select(L2ClusterRefRow.l2_network_uuid, L2ClusterRefRow.cluster_uuid).where(
                L2ClusterRefRow.l2_network_uuid.in_(set(l2_of.values())),
                L2ClusterRefRow.cluster_uuid.in_(clusters),
            )
        )
        attached = {(str(l2), str(c)) for l2, c in refs.all()}
        out: dict[str, str] = {}
        for h in hosts:
            for l3 in spec.l3_network_uuids:
                l2 = l2_of.get(l3)
                if l2 is None:
                    out[h.uuid] = f"no L3 network {l3}"
                    break
                if (l2, h.cluster_uuid) not in attached:
                    out[h.uuid] = (
                        f"cluster {h.cluster_uuid} is not attached to L2 network {l2} "
                        f"(of L3 network {l3})"
                    )
                    break
        return out


class NetworkAllocationPlugin:
    name = "network-allocation"

    def extensions(self) -> Sequence[Extension]:
        return [Extension(HOST_FILTERS, L3AttachedFilter())]
