"""L2 and L3 networks, IP ranges and VIPs, declared: the kit derives their reads, queries,
relations both ways, cascades (zone → L2 → L3 → IP range → VIP, dependents first) and the
default update and delete handlers. What is declared here beyond the kit's defaults:

- an L3 whose addresses are held cannot be deleted in Permissive mode (the check names
  the holders); every delete gives its addresses back in the delete's transaction;
- a VxlanPool with Vxlan networks cannot be deleted in Permissive mode;
- a Vxlan network's VNI and an L2's cluster attachments go with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.quota import Quota
from mgmt.core.resource import Parent, ResourceType
from mgmt.network import ipam
from mgmt.network.inventories import (
    IpRangeInventory,
    L2NetworkInventory,
    L3NetworkInventory,
    VipInventory,
)
from mgmt.network.models import (
    IpRangeRow,
    L2ClusterRefRow,
    L2NetworkRow,
    L3NetworkRow,
    UsedIpRow,
    VipRow,
    VniRow,
)


async def l2_inventory(s: AsyncSession, row: Any) -> BaseModel:
    refs = (
        await s.execute(
            select(L2ClusterRefRow)
            .where(L2ClusterRefRow.l2_network_uuid == row.uuid)
            .order_by(L2ClusterRefRow.created_at, L2ClusterRefRow.cluster_uuid)
        )
    ).scalars()
    attached = list(refs)
    return L2NetworkInventory(
        uuid=row.uuid,
        name=row.name,
        description=row.description,
        zoneUuid=row.zone_uuid,
        type=row.type,
        physicalInterface=row.physical_interface,
        vlan=row.vlan,
        vni=row.vni,
        poolUuid=row.pool_uuid,
        vniRanges=json.loads(row.vni_ranges or "[]"),
        attachedClusterUuids=[r.cluster_uuid for r in attached],
        attachedCidrs={r.cluster_uuid: r.vtep_cidr for r in attached if r.vtep_cidr},
        ownerAccountUuid=row.owner_account_uuid,
        createDate=row.created_at,
        lastOpDate=row.updated_at,
    )


def l3_inventory_of(row: L3NetworkRow) -> L3NetworkInventory:
    return L3NetworkInventory(
        uuid=row.uuid,
        name=row.name,
        description=row.description,
        l2NetworkUuid=row.l2_network_uuid,
        zoneUuid=row.zone_uuid,
        category=row.category,
        system=row.system,
        dnsDomain=row.dns_domain,
        ipVersion=row.ip_version,
        dns=json.loads(row.dns or "[]"),
        ownerAccountUuid=row.owner_account_uuid,
        createDate=row.created_at,
        lastOpDate=row.updated_at,
    )


async def l3_inventory(s: AsyncSession, row: Any) -> BaseModel:
    return l3_inventory_of(row)


async def _pools_in_use(s: AsyncSession, uuids: Sequence[str]) -> str | None:
    """A pool with Vxlan networks left (other than those deleted with it) stays."""
    found = (
        await s.execute(
            select(L2NetworkRow.pool_uuid, L2NetworkRow.uuid)
            .where(L2NetworkRow.pool_uuid.in_(list(uuids)), L2NetworkRow.uuid.not_in(list(uuids)))
            .limit(5)
        )
    ).all()
    if not found:
        return None
    names = ", ".join(u for _, u in found)
    return f"VxlanPool {found[0][0]} still has Vxlan networks: {names}"


async def _l2_gone(s: AsyncSession, uuids: Sequence[str]) -> None:
    await s.execute(delete(VniRow).where(VniRow.l2_network_uuid.in_(list(uuids))))
    # a pool deleted without its networks (Enforcing): their VNIs go with the pool
    await s.execute(delete(VniRow).where(VniRow.pool_uuid.in_(list(uuids))))
    await s.execute(delete(L2ClusterRefRow).where(L2ClusterRefRow.l2_network_uuid.in_(uuids)))


async def _l3_in_use(s: AsyncSession, uuids: Sequence[str]) -> str | None:
    """Permissive: an L3 whose addresses are held is not deleted; the holders are named."""
    holders = await ipam.ip_holders(s, uuids)
    if not holders:
        return None
    shown = ", ".join(f"{h.holderType} {h.holderUuid} ({h.ip})" for h in holders[:20])
    more = f" and {len(holders) - 20} more" if len(holders) > 20 else ""
    return f"L3 network {holders[0].l3NetworkUuid} has IPs in use by {shown}{more}"


async def _l3_gone(s: AsyncSession, uuids: Sequence[str]) -> None:
    await ipam.release_l3(s, uuids)  # holders not declared as its children (NICs later)


async def _range_in_use(s: AsyncSession, uuids: Sequence[str]) -> str | None:
    """Permissive: a range whose addresses are held stays (its VIPs would go with it)."""
    found = (
        await s.execute(
            select(UsedIpRow.ip_range_uuid, UsedIpRow.holder_type, UsedIpRow.holder_uuid)
            .where(UsedIpRow.ip_range_uuid.in_(list(uuids)))
            .limit(20)
        )
    ).all()
    if not found:
        return None
    shown = ", ".join(f"{t} {h}" for _, t, h in found)
    return f"IP range {found[0][0]} has IPs in use by {shown}"


async def _vip_gone(s: AsyncSession, uuids: Sequence[str]) -> None:
    await ipam.release_ips(s, uuids)


L2_NETWORK = ResourceType(
    "L2Network",
    "l2-networks",
    L2NetworkRow,
    L2NetworkInventory,
    parents=(Parent("Zone", L2NetworkRow.zone_uuid, relation="zone", children="l2Networks"),),
    unqueryable=frozenset({"vniRanges"}),
    inventory_of=l2_inventory,
    check=_pools_in_use,
    before_delete=_l2_gone,
)

L3_NETWORK = ResourceType(
    "L3Network",
    "l3-networks",
    L3NetworkRow,
    L3NetworkInventory,
    parents=(
        Parent(
            "L2Network", L3NetworkRow.l2_network_uuid, relation="l2Network", children="l3Networks"
        ),
    ),
    quota=Quota("l3.num", 20),
    unqueryable=frozenset({"dns"}),
    inventory_of=l3_inventory,
    check=_l3_in_use,
    before_delete=_l3_gone,
)

IP_RANGE = ResourceType(
    "IpRange",
    "ip-ranges",
    IpRangeRow,
    IpRangeInventory,
    parents=(
        Parent("L3Network", IpRangeRow.l3_network_uuid, relation="l3Network", children="ipRanges"),
    ),
    check=_range_in_use,
)

VIP = ResourceType(
    "Vip",
    "vips",
    VipRow,
    VipInventory,
    parents=(
        Parent(
            "L3Network",
            VipRow.l3_network_uuid,
            relation="l3Network",
            children="vips",
            shared_use=True,  # tenants take VIPs on the L3s the admin shares with them
        ),
        # a range deleted takes the VIPs holding its addresses with it
        Parent("IpRange", VipRow.ip_range_uuid, relation="ipRange", children="vips"),
    ),
    quota=Quota("vip.num", 20),
    before_delete=_vip_gone,
)

RESOURCES = (L2_NETWORK, L3_NETWORK, IP_RANGE, VIP)
