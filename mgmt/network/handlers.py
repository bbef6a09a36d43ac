"""Network service handlers: what L2 and L3 networks, IP ranges and VIPs do beyond the
kit's defaults (updates and deletes are the defaults; the cascade is declared in
``resources.py``).

Thin: check, build on the kit's one create path (``create_row``: UUID claimed, parents
checked, quota consumed, row inserted in one transaction), reply. Addresses and VNIs are
taken in the create's transaction, after its UUID is claimed, so a refused create holds
nothing and a redelivered one gets what it got the first time.
"""

from __future__ import annotations

import json
import logging
from ipaddress import IPv4Network
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api import (
    ApiCodes,
    caller_of,
    conflict_field,
    invalid_field,
    not_found,
    require_admin,
)
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.db import utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.core.messages import Message
from mgmt.core.module import NodeParts
from mgmt.core.resource import canonical_uuid
from mgmt.network import ipam, vni
from mgmt.network.config import IP_ALLOCATE_STRATEGY, STATIC_IP
from mgmt.network.errors import NetworkCodes
from mgmt.network.inventories import (
    IpRangeReply,
    L2NetworkInventory,
    L2NetworkReply,
    L3NetworkReply,
    VipReply,
)
from mgmt.network.ipmath import (
    IpRangeError,
    Strategy,
    overlaps,
    subnet_of_cidr,
    subnet_of_range,
    to_ip,
)
from mgmt.network.messages import (
    AddDnsToL3Network,
    AddIpRange,
    AddIpRangeByNetworkCidr,
    AttachL2NetworkToCluster,
    CreateL2Network,
    CreateL2NoVlanNetwork,
    CreateL2VlanNetwork,
    CreateL2VxlanNetwork,
    CreateL2VxlanNetworkPool,
    CreateL3Network,
    CreateVip,
    DetachL2NetworkFromCluster,
    RemoveDnsFromL3Network,
)
from mgmt.network.models import IpRangeRow, L2ClusterRefRow, L2NetworkRow, L3NetworkRow
from mgmt.network.realize import L2Realizer, cluster_l2s, pool_clusters, realization
from mgmt.network.resources import IP_RANGE, VIP, l2_inventory, l3_inventory_of

log = logging.getLogger(__name__)


class NetworkService:
    def __init__(self, parts: NodeParts) -> None:
        self._db = parts.db
        self._gconfig = parts.gconfig
        self._l2 = parts.resource("L2Network")
        self._l3 = parts.resource("L3Network")
        self._ranges = parts.resource("IpRange")
        self._vips = parts.resource("Vip")
        self._clusters = parts.types.types["Cluster"]
        self._realizer = L2Realizer(parts.db, parts.plugins)

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            CreateL2NoVlanNetwork: self.create_l2,
            CreateL2VlanNetwork: self.create_l2,
            CreateL2VxlanNetworkPool: self.create_l2,
            CreateL2VxlanNetwork: self.create_l2,
            AttachL2NetworkToCluster: self.attach_cluster,
            DetachL2NetworkFromCluster: self.detach_cluster,
            CreateL3Network: self.create_l3,
            AddDnsToL3Network: self.add_dns,
            RemoveDnsFromL3Network: self.remove_dns,
            AddIpRange: self.add_ip_range,
            AddIpRangeByNetworkCidr: self.add_ip_range,
            CreateVip: self.create_vip,
        }

    # -- L2 networks ----------------------------------------------------------------------

    async def create_l2(self, msg: CreateL2Network, ctx: HandlerContext) -> L2NetworkReply:
        require_admin(caller_of(msg))
        ranges = msg.vniRanges if isinstance(msg, CreateL2VxlanNetworkPool) else []
        values: dict[str, Any] = {
            "type": msg.l2_type,
            "vlan": msg.vlan if isinstance(msg, CreateL2VlanNetwork) else None,
            "vni_ranges": json.dumps([r.model_dump() for r in ranges]),
            "vni": None,
        }
        pool: L2NetworkRow | None = None
        async with self._db.session() as s, s.begin():
            if isinstance(msg, CreateL2VxlanNetwork):
                pool = await self._pool_of(s, msg)
                values.update(pool_uuid=pool.uuid, physical_interface=pool.physical_interface)
            row = await self._l2.create_row(s, msg, ctx, values=values)
            if isinstance(msg, CreateL2VxlanNetwork) and pool is not None and row.vni is None:
                row.vni = await vni.allocate_vni(s, pool, row.uuid, msg.vni)
                await s.flush()
            shown = await self._l2_inventory(s, row)
            clusters = await pool_clusters(s, pool.uuid) if pool is not None else []
        for cluster_uuid, cidr in clusters:  # a Vxlan network is on its pool's clusters
            await self._realizer.realize_on_cluster(cluster_uuid, [realization(row, cidr)])
        return L2NetworkReply(inventory=shown)

    async def _pool_of(self, s: AsyncSession, msg: CreateL2VxlanNetwork) -> L2NetworkRow:
        pool_uuid = canonical_uuid(msg.poolUuid, field="poolUuid")
        pool = await s.get(L2NetworkRow, pool_uuid)
        if pool is None or pool.type != "VxlanPool":
            raise PermanentError(not_found("VxlanPool", pool_uuid, field="poolUuid"))
        if pool.zone_uuid != msg.zoneUuid:
            raise invalid_field("poolUuid", f"VxlanPool {pool_uuid} is in another zone")
        return pool

    async def _l2_inventory(self, s: AsyncSession, row: L2NetworkRow) -> L2NetworkInventory:
        shown = await l2_inventory(s, row)
        assert isinstance(shown, L2NetworkInventory)
        return shown

    async def attach_cluster(
        self, msg: AttachL2NetworkToCluster, ctx: HandlerContext
    ) -> L2NetworkReply:
        caller = caller_of(msg)
        require_admin(caller)
        cluster_uuid = canonical_uuid(msg.clusterUuid, field="clusterUuid")
        async with self._db.session() as s, s.begin():
            l2 = await self._l2.visible(s, msg.resourceUuid, caller)
            cluster = await s.get(self._clusters.table, cluster_uuid)
            if cluster is None:
                raise PermanentError(not_found("Cluster", cluster_uuid, field="clusterUuid"))
            if self._clusters.to_inventory(cluster).zoneUuid != l2.zone_uuid:
                raise invalid_field("clusterUuid", f"cluster {cluster_uuid} is in another zone")
            if l2.type == "Vxlan":
                raise conflict_field("resourceUuid", "a Vxlan network: attach its pool instead")
            if l2.type != "VxlanPool" and msg.vtepCidr is not None:
                raise conflict_field(
                    "vtepCidr", f"only for a VxlanPool; this is a {l2.type} network"
                )
            cidr = _cidr(msg.vtepCidr) if msg.vtepCidr is not None else None
            ref = await s.get(L2ClusterRefRow, (l2.uuid, cluster_uuid))
            if ref is None:
                s.add(
                    L2ClusterRefRow(
                        l2_network_uuid=l2.uuid,
                        cluster_uuid=cluster_uuid,
                        vtep_cidr=cidr,
                        created_at=utcnow(),
                    )
                )
            elif ref.vtep_cidr != cidr:
                raise PermanentError(
                    error(
                        ApiCodes.CONFLICT,
                        f"vtepCidr: cluster {cluster_uuid} is attached with {ref.vtep_cidr}",
                        field="vtepCidr",
                    )
                )
            await s.flush()
            shown = await self._l2_inventory(s, l2)
            wanted = await cluster_l2s(s, cluster_uuid, only=[l2.uuid])
        await self._realizer.realize_on_cluster(cluster_uuid, wanted)
        return L2NetworkReply(inventory=shown)

    async def detach_cluster(
        self, msg: DetachL2NetworkFromCluster, ctx: HandlerContext
    ) -> L2NetworkReply:
        caller = caller_of(msg)
        require_admin(caller)
        async with self._db.session() as s, s.begin():
            l2 = await self._l2.visible(s, msg.resourceUuid, caller)
            # what the hosts have of it, read before the attachment goes
            held = await cluster_l2s(s, msg.clusterUuid, only=[l2.uuid])
            gone = await s.execute(
                delete(L2ClusterRefRow).where(
                    L2ClusterRefRow.l2_network_uuid == l2.uuid,
                    L2ClusterRefRow.cluster_uuid == msg.clusterUuid,
                )
            )
            shown = await self._l2_inventory(s, l2)
        if getattr(gone, "rowcount", 0):
            await self._realizer.unrealize_on_cluster(msg.clusterUuid, held)
        return L2NetworkReply(inventory=shown)

    # -- L3 networks ----------------------------------------------------------------------

    async def create_l3(self, msg: CreateL3Network, ctx: HandlerContext) -> L3NetworkReply:
        require_admin(caller_of(msg))
        async with self._db.session() as s, s.begin():
            l2 = await s.get(L2NetworkRow, msg.l2NetworkUuid)
            values = {
                "dns": json.dumps(list(dict.fromkeys(msg.dns))),
                # the kit's parent check refuses a missing L2 with a 400 naming the field
                "zone_uuid": l2.zone_uuid if l2 is not None else "",
            }
            row = await self._l3.create_row(s, msg, ctx, values=values)
            return L3NetworkReply(inventory=l3_inventory_of(row))

    async def _change_dns(self, msg: Any, add: bool) -> L3NetworkReply:
        caller = caller_of(msg)
        require_admin(caller)
        async with self._db.session() as s, s.begin():
            row = await self._l3.visible(s, msg.resourceUuid, caller)
            servers: list[str] = json.loads(row.dns or "[]")
            if add and msg.dns not in servers:
                servers.append(msg.dns)
            elif not add and msg.dns in servers:
                servers.remove(msg.dns)
            row.dns = json.dumps(servers)
            row.updated_at = utcnow()
            return L3NetworkReply(inventory=l3_inventory_of(row))

    async def add_dns(self, msg: AddDnsToL3Network, ctx: HandlerContext) -> L3NetworkReply:
        return await self._change_dns(msg, add=True)

    async def remove_dns(self, msg: RemoveDnsFromL3Network, ctx: HandlerContext) -> L3NetworkReply:
        return await self._change_dns(msg, add=False)

    # -- IP ranges ------------------------------------------------------------------------

    async def add_ip_range(
        self, msg: AddIpRange | AddIpRangeByNetworkCidr, ctx: HandlerContext
    ) -> IpRangeReply:
        require_admin(caller_of(msg))
        try:
            if isinstance(msg, AddIpRangeByNetworkCidr):
                subnet = subnet_of_cidr(msg.networkCidr)
            else:
                subnet = subnet_of_range(msg.startIp, msg.endIp, msg.netmask, msg.gateway)
        except IpRangeError as exc:
            raise invalid_field(exc.field, exc.reason) from None
        values = {
            "start_ip": to_ip(subnet.first),
            "end_ip": to_ip(subnet.last),
            "netmask": str(subnet.network.netmask),
            "gateway": to_ip(subnet.gateway),
            "network_cidr": str(subnet.network),
            "prefix_len": subnet.network.prefixlen,
            "first_int": subnet.first,
            "last_int": subnet.last,
        }

        async def no_overlap(s: AsyncSession) -> None:
            # ranges of one L3 are added one at a time: its row is locked until commit,
            # so two overlapping ranges added at once cannot both pass this check
            await s.execute(
                select(L3NetworkRow.uuid)
                .where(L3NetworkRow.uuid == msg.l3NetworkUuid)
                .with_for_update()
            )
            others = await s.execute(
                select(IpRangeRow).where(IpRangeRow.l3_network_uuid == msg.l3NetworkUuid)
            )
            for other in others.scalars():
                if overlaps(subnet.first, subnet.last, other.first_int, other.last_int):
                    raise PermanentError(
                        error(
                            NetworkCodes.RANGE_OVERLAP,
                            f"{values['start_ip']}-{values['end_ip']} overlaps IP range "
                            f"{other.uuid} ({other.name}: {other.start_ip}-{other.end_ip})",
                            ipRangeUuid=other.uuid,
                        )
                    )

        async with self._db.session() as s, s.begin():
            row = await self._ranges.create_row(s, msg, ctx, values=values, check=no_overlap)
            return IpRangeReply(inventory=IP_RANGE.to_inventory(row))

    # -- VIPs -----------------------------------------------------------------------------

    async def create_vip(self, msg: CreateVip, ctx: HandlerContext) -> VipReply:
        wanted = _static_ip(msg.systemTags, msg.l3NetworkUuid, msg.requiredIp)
        strategy = Strategy(self._gconfig.value(IP_ALLOCATE_STRATEGY))
        async with self._db.session() as s, s.begin():
            row = await self._vips.create_row(s, msg, ctx)
            if row.ip is None:  # a new VIP (a redelivered create has its address)
                got = await ipam.allocate_ip(
                    s,
                    ipam.IpRequest(
                        msg.l3NetworkUuid, row.uuid, "Vip", ip=wanted, strategy=strategy
                    ),
                )
                row.ip, row.ip_range_uuid = got.ip, got.ipRangeUuid
                row.gateway, row.netmask = got.gateway, got.netmask
                await s.flush()
            return VipReply(inventory=VIP.to_inventory(row))


def _static_ip(tags: list[str], l3_uuid: str, required: str | None) -> str | None:
    """The address a create asks for: ``requiredIp`` or its ``staticIp`` tag for the L3."""
    found = required
    for text in tags:
        if not STATIC_IP.matches(text):
            continue
        tokens = STATIC_IP.parse(text)
        if tokens["l3Uuid"].replace("-", "").lower() != l3_uuid.replace("-", "").lower():
            continue
        if found is not None and found != tokens["ip"]:
            raise invalid_field("systemTags", f"staticIp {tokens['ip']} differs from {found}")
        found = tokens["ip"]
    return found


def _cidr(text: str) -> str:
    try:
        return str(IPv4Network(text, strict=False))
    except ValueError:
        raise invalid_field("vtepCidr", f"not an IPv4 network: {text!r}") from None
