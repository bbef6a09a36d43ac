"""VNI allocation: a Vxlan network's VNI, unique in its pool under any concurrency.

Called by the Vxlan network create, in its transaction. The same design as IPAM
(``ipam.py``): the primary key ``(pool, vni)`` of ``l2_vni`` refuses a second holder,
a VNI is taken by ``INSERT … ON CONFLICT DO NOTHING``, the network's UUID is unique so a
redelivered create gets its VNI again, and an allocator gives up only when every VNI of
the pool is held by a committed network.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.errors import PermanentError, error
from mgmt.network.errors import NetworkCodes
from mgmt.network.ipam import dialect_insert
from mgmt.network.ipmath import Pool, Strategy, pick
from mgmt.network.models import L2NetworkRow, VniRow


def pools_of(pool: L2NetworkRow) -> list[Pool]:
    return [Pool(r["startVni"], r["endVni"]) for r in json.loads(pool.vni_ranges or "[]")]


async def _take(s: AsyncSession, pool_uuid: str, vni: int, l2_uuid: str) -> bool:
    result = await s.execute(
        dialect_insert(s)(VniRow)
        .values(pool_uuid=pool_uuid, vni=vni, l2_network_uuid=l2_uuid)
        .on_conflict_do_nothing()
        .returning(VniRow.vni)
    )
    return result.scalar() is not None


async def _held(s: AsyncSession, l2_uuid: str) -> int | None:
    found: int | None = await s.scalar(select(VniRow.vni).where(VniRow.l2_network_uuid == l2_uuid))
    return found


async def allocate_vni(s: AsyncSession, pool: L2NetworkRow, l2_uuid: str, vni: int | None) -> int:
    """The VNI of Vxlan network ``l2_uuid`` in ``pool``: ``vni`` if given (400 outside
    the pool's ranges, 409 if another network has it), else a free one (409 if none)."""
    held = await _held(s, l2_uuid)
    if held is not None:
        return held
    pools = pools_of(pool)
    if vni is not None:
        if not any(p.free(vni, ()) for p in pools):
            raise PermanentError(
                error(
                    NetworkCodes.INVALID,
                    f"vni: {vni} is outside the ranges of VxlanPool {pool.uuid}",
                    field="vni",
                )
            )
        if await _take(s, pool.uuid, vni, l2_uuid):
            return vni
        raise PermanentError(
            error(
                NetworkCodes.VNI_TAKEN,
                f"vni: {vni} of VxlanPool {pool.uuid} is in use",
                field="vni",
                poolUuid=pool.uuid,
            )
        )
    for _ in range(sum(p.size for p in pools) + 1):
        used = {
            v
            for (v,) in (
                await s.execute(select(VniRow.vni).where(VniRow.pool_uuid == pool.uuid))
            ).all()
        }
        value = pick(pools, used, Strategy.RANDOM)
        if value is None:
            break
        if await _take(s, pool.uuid, value, l2_uuid):
            return value
        held = await _held(s, l2_uuid)
        if held is not None:
            return held
    raise PermanentError(
        error(
            NetworkCodes.NO_FREE_VNI,
            f"no free VNI in VxlanPool {pool.uuid}: every VNI of its ranges is in use",
            poolUuid=pool.uuid,
        )
    )
