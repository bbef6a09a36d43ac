"""IPAM: giving out the addresses of an L3 network's IP ranges, one holder each.

The library VIPs use now and VM NICs later; other services reach it through the package
root (``from mgmt.network import IpRequest, allocate_ip, release_ips``). Every function
runs in the caller's transaction, so an address is taken or given back together with the
row that holds it, and a refused create leaves nothing behind.

What it guarantees:

- **One holder per address, under any concurrency.** ``used_ip``'s primary key is
  ``(l3, ip)``; an address is taken by ``INSERT … ON CONFLICT DO NOTHING``, never by a
  read-then-write. Two allocators that try one address: the second waits for the first's
  commit and then tries another (PostgreSQL re-checks the key when the first commits).
- **Idempotent by holder.** ``(l3, holder)`` is unique: a redelivered create, or a step
  re-run after a take-over, asks for the same holder and gets the address it has.
- **Exactly the usable count.** An allocator gives up only when every usable address is
  held by a committed row, so N concurrent requests on M addresses: min(N, M) succeed,
  the rest fail with ``NETWORK.1001`` (409) naming the L3.
- **Never the gateway, the network or the broadcast address** (``ipmath.Subnet``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.db import utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.network.errors import NetworkCodes
from mgmt.network.ipmath import Pool, Strategy, Subnet, free_values, pick, to_int, to_ip
from mgmt.network.models import IpRangeRow, UsedIpRow

#: random addresses tried before the used set is read (a pool that refuses them all is
#: dense, and the read is then worth it)
BLIND_PROBES = 4


@dataclass(frozen=True)
class IpRequest:
    """Ask for one address of ``l3NetworkUuid`` for ``holderUuid`` (a VIP, a NIC).

    ``ip``: that address (a static IP; 400 outside every range, 409 if another holds it).
    ``strategy``: how a free one is chosen when ``ip`` is not given."""

    l3NetworkUuid: str
    holderUuid: str
    holderType: str
    ip: str | None = None
    strategy: Strategy = Strategy.RANDOM


@dataclass(frozen=True)
class AllocatedIp:
    l3NetworkUuid: str
    ipRangeUuid: str
    ip: str
    gateway: str
    netmask: str
    #: False: the holder had it already (a redelivery)
    fresh: bool


@dataclass(frozen=True)
class IpCapacity:
    total: int
    available: int
    used: int


@dataclass(frozen=True)
class IpHolder:
    l3NetworkUuid: str
    ip: str
    holderType: str
    holderUuid: str


def subnet_of(row: IpRangeRow) -> Subnet:
    """The stored range as ``ipmath`` sees it."""
    network = IPv4Network(row.network_cidr)
    return Subnet(row.first_int, row.last_int, network, to_int(row.gateway))


async def _ranges(session: AsyncSession, l3_uuid: str) -> list[IpRangeRow]:
    rows = await session.execute(
        select(IpRangeRow)
        .where(IpRangeRow.l3_network_uuid == l3_uuid)
        .order_by(IpRangeRow.first_int)
    )
    return list(rows.scalars().all())


async def _used(session: AsyncSession, l3_uuid: str) -> set[int]:
    rows = await session.execute(
        select(UsedIpRow.ip_int).where(UsedIpRow.l3_network_uuid == l3_uuid)
    )
    return {int(v) for (v,) in rows.all()}


async def _held(session: AsyncSession, l3_uuid: str, holder: str) -> UsedIpRow | None:
    row: UsedIpRow | None = await session.scalar(
        select(UsedIpRow).where(
            UsedIpRow.l3_network_uuid == l3_uuid, UsedIpRow.holder_uuid == holder
        )
    )
    return row


def dialect_insert(session: AsyncSession) -> Any:
    bind = session.bind
    dialect = bind.dialect.name if bind is not None else "postgresql"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def _take(session: AsyncSession, req: IpRequest, rng: IpRangeRow, value: int) -> bool:
    """One conditional statement: True if ``value`` is now this holder's."""
    result = await session.execute(
        dialect_insert(session)(UsedIpRow)
        .values(
            l3_network_uuid=req.l3NetworkUuid,
            ip=to_ip(value),
            ip_int=value,
            ip_range_uuid=rng.uuid,
            holder_uuid=req.holderUuid,
            holder_type=req.holderType,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(UsedIpRow.ip)
    )
    return result.scalar() is not None


def _result(rng: IpRangeRow, ip: str, *, fresh: bool) -> AllocatedIp:
    return AllocatedIp(rng.l3_network_uuid, rng.uuid, ip, rng.gateway, rng.netmask, fresh)


async def _existing(session: AsyncSession, held: UsedIpRow) -> AllocatedIp:
    rng = await session.get(IpRangeRow, held.ip_range_uuid)
    assert rng is not None  # used_ip's foreign key: the range outlives its addresses
    return _result(rng, held.ip, fresh=False)


def _no_free_ip(l3_uuid: str) -> PermanentError:
    return PermanentError(
        error(
            NetworkCodes.NO_FREE_IP,
            f"no free IP on L3 network {l3_uuid}: every address of its IP ranges is in use",
            l3NetworkUuid=l3_uuid,
        )
    )


async def allocate_ip(session: AsyncSession, req: IpRequest) -> AllocatedIp:
    """An address of the L3 for the holder: the one it holds already, the static ``ip``,
    or a free one. Raises ``NETWORK.1001`` (no free IP, 409), ``NETWORK.1002`` (the static
    IP is another holder's, 409) or ``NETWORK.1003`` (outside every range, 400)."""
    held = await _held(session, req.l3NetworkUuid, req.holderUuid)
    if held is not None:
        return await _existing(session, held)
    ranges = [(r, Pool.of(subnet_of(r))) for r in await _ranges(session, req.l3NetworkUuid)]
    if req.ip is not None:
        return await _allocate_static(session, req, ranges)
    pools = [p for _, p in ranges]
    if req.strategy is Strategy.RANDOM:
        # blind probes first: a random address is tried without reading what is used (on
        # a sparse L3 the first one is almost always free), so an allocation costs the
        # same on the 10,000th VIP as on the first
        for _ in range(BLIND_PROBES):
            value = pick(pools, (), req.strategy, probes=1)
            if value is None:
                break
            rng = next(r for r, p in ranges if p.first <= value <= p.last)
            if await _take(session, req, rng, value):
                return _result(rng, to_ip(value), fresh=True)
    total = sum(p.size for p in pools)
    # dense, or first-available: read the used set; each failed take means another holder
    # committed that address, so it grows every round: the loop ends within the size
    for _ in range(total + 1):
        value = pick(pools, await _used(session, req.l3NetworkUuid), req.strategy)
        if value is None:
            break
        rng = next(r for r, p in ranges if p.first <= value <= p.last)
        if await _take(session, req, rng, value):
            return _result(rng, to_ip(value), fresh=True)
        held = await _held(session, req.l3NetworkUuid, req.holderUuid)
        if held is not None:  # the same holder, delivered twice at once
            return await _existing(session, held)
    raise _no_free_ip(req.l3NetworkUuid)


async def _allocate_static(
    session: AsyncSession, req: IpRequest, ranges: list[tuple[IpRangeRow, Pool]]
) -> AllocatedIp:
    assert req.ip is not None
    try:
        value = to_int(req.ip)
    except ValueError:
        raise PermanentError(
            error(NetworkCodes.IP_OUTSIDE, f"{req.ip!r} is not an IPv4 address", ip=req.ip)
        ) from None
    rng = next((r for r, p in ranges if p.free(value, ())), None)
    if rng is None:
        raise PermanentError(
            error(
                NetworkCodes.IP_OUTSIDE,
                f"{req.ip} is not an address L3 network {req.l3NetworkUuid} gives out "
                "(outside every IP range, or its gateway, network or broadcast address)",
                ip=req.ip,
                l3NetworkUuid=req.l3NetworkUuid,
            )
        )
    if await _take(session, req, rng, value):
        return _result(rng, to_ip(value), fresh=True)
    held = await _held(session, req.l3NetworkUuid, req.holderUuid)
    if held is not None and held.ip_int == value:
        return await _existing(session, held)
    raise PermanentError(
        error(
            NetworkCodes.IP_TAKEN,
            f"{req.ip} on L3 network {req.l3NetworkUuid} is already in use",
            ip=req.ip,
            l3NetworkUuid=req.l3NetworkUuid,
        )
    )


async def release_ips(session: AsyncSession, holder_uuids: Sequence[str]) -> int:
    """Give back every address the holders have (in the transaction that deletes them);
    the number given back. Releasing what is not held is a no-op, so it is idempotent."""
    if not holder_uuids:
        return 0
    result = await session.execute(
        delete(UsedIpRow).where(UsedIpRow.holder_uuid.in_(list(holder_uuids)))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def release_l3(session: AsyncSession, l3_uuids: Sequence[str]) -> None:
    """Give back every address of the L3 networks (their Enforcing delete)."""
    if l3_uuids:
        await session.execute(
            delete(UsedIpRow).where(UsedIpRow.l3_network_uuid.in_(list(l3_uuids)))
        )


async def ip_holders(session: AsyncSession, l3_uuids: Sequence[str]) -> list[IpHolder]:
    """Who holds addresses of the L3 networks, by address."""
    rows = await session.execute(
        select(UsedIpRow)
        .where(UsedIpRow.l3_network_uuid.in_(list(l3_uuids)))
        .order_by(UsedIpRow.l3_network_uuid, UsedIpRow.ip_int)
    )
    return [IpHolder(r.l3_network_uuid, r.ip, r.holder_type, r.holder_uuid) for r in rows.scalars()]


async def ip_capacity(session: AsyncSession, l3_uuid: str) -> IpCapacity:
    """Usable addresses of the L3's ranges, and how many are held."""
    total = sum(subnet_of(r).usable for r in await _ranges(session, l3_uuid))
    used = int(
        await session.scalar(
            select(func.count()).select_from(UsedIpRow).where(UsedIpRow.l3_network_uuid == l3_uuid)
        )
        or 0
    )
    return IpCapacity(total=total, available=total - used, used=used)


async def free_ips(session: AsyncSession, l3_uuid: str, limit: int) -> list[tuple[str, str]]:
    """Up to ``limit`` free addresses, lowest first, with the range each is in."""
    ranges = [(r, Pool.of(subnet_of(r))) for r in await _ranges(session, l3_uuid)]
    values = free_values([p for _, p in ranges], await _used(session, l3_uuid), limit)
    out: list[tuple[str, str]] = []
    for value in values:
        rng = next(r for r, p in ranges if p.first <= value <= p.last)
        out.append((to_ip(value), rng.uuid))
    return out
