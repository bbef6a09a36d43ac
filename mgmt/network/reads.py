"""The L3 network's address reads (mounted by the frontend as ``ResourceRead``s):
``GET /v1/l3-networks/{uuid}/ip-capacity`` and ``GET /v1/l3-networks/{uuid}/free-ips``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api.reads import ResourceRead
from mgmt.network import ipam
from mgmt.network.inventories import FreeIp, FreeIpsReply, IpCapacityReply


class FreeIpParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=1000, description="At most this many addresses.")


async def _capacity(s: AsyncSession, uuid: str, _: BaseModel | None) -> BaseModel:
    found = await ipam.ip_capacity(s, uuid)
    return IpCapacityReply(total=found.total, available=found.available, used=found.used)


async def _free(s: AsyncSession, uuid: str, params: BaseModel | None) -> BaseModel:
    limit = params.limit if isinstance(params, FreeIpParams) else 100
    found = await ipam.free_ips(s, uuid, limit)
    return FreeIpsReply(inventories=[FreeIp(ip=ip, ipRangeUuid=r) for ip, r in found])


RESOURCE_READS = (
    ResourceRead(
        "L3Network",
        "ip-capacity",
        "GetIpAddressCapacity",
        "Addresses of an L3 network: total, available, used",
        IpCapacityReply,
        _capacity,
    ),
    ResourceRead(
        "L3Network",
        "free-ips",
        "GetFreeIp",
        "Free addresses of an L3 network, lowest first",
        FreeIpsReply,
        _free,
        params=FreeIpParams,
    ),
)
