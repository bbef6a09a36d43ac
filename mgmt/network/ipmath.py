"""IPv4 range arithmetic and the choice of a free address (or VNI): pure functions.

Called by the IP range create (``subnet_of_range``, ``subnet_of_cidr``: what a range
gives out), by IPAM (``pick``: which free value to try next) and by the VNI allocator,
which picks from integer ranges the same way. No I/O here, so it is unit-tested alone.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import AddressValueError, IPv4Address, IPv4Network, NetmaskValueError


class IpRangeError(ValueError):
    """A range that cannot be: ``field`` names the request field at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Subnet:
    """What an IP range gives out: addresses ``first``..``last`` of ``network`` (integers),
    never ``excluded`` (the gateway, and the network and broadcast addresses if the range
    covers them)."""

    first: int
    last: int
    network: IPv4Network
    gateway: int

    @property
    def excluded(self) -> frozenset[int]:
        net = int(self.network.network_address)
        bcast = int(self.network.broadcast_address)
        # a /31 or /32 has no network or broadcast address to keep back (RFC 3021)
        reserved = {self.gateway} if self.network.prefixlen >= 31 else {self.gateway, net, bcast}
        return frozenset(x for x in reserved if self.first <= x <= self.last)

    @property
    def usable(self) -> int:
        return self.last - self.first + 1 - len(self.excluded)

    def __contains__(self, ip: int) -> bool:
        return self.first <= ip <= self.last and ip not in self.excluded


def _address(field: str, text: str) -> IPv4Address:
    try:
        return IPv4Address(text)
    except AddressValueError:
        raise IpRangeError(field, f"not an IPv4 address: {text!r}") from None


def subnet_of_range(start: str, end: str, netmask: str, gateway: str) -> Subnet:
    """``startIp``..``endIp`` in the subnet ``netmask`` and ``gateway`` define."""
    first, last = _address("startIp", start), _address("endIp", end)
    gw = _address("gateway", gateway)
    try:
        network = IPv4Network(f"{gw}/{netmask}", strict=False)
    except (NetmaskValueError, ValueError):
        raise IpRangeError("netmask", f"not a netmask: {netmask!r}") from None
    if first > last:
        raise IpRangeError("endIp", f"{end} is below startIp {start}")
    for name, ip in (("startIp", first), ("endIp", last)):
        if ip not in network:
            raise IpRangeError(name, f"{ip} is outside the subnet {network} of the gateway")
    subnet = Subnet(int(first), int(last), network, int(gw))
    if subnet.usable <= 0:
        raise IpRangeError("startIp", "the range has no address to give out")
    return subnet


def subnet_of_cidr(cidr: str) -> Subnet:
    """A whole network (``192.168.1.0/24``): the gateway is its first host address and
    the range the rest of its host addresses, as ZStack's AddIpRangeByNetworkCidr."""
    try:
        network = IPv4Network(cidr, strict=True)
    except ValueError as exc:
        raise IpRangeError("networkCidr", f"not an IPv4 network: {cidr!r} ({exc})") from None
    if network.prefixlen > 30:
        raise IpRangeError("networkCidr", "a /31 or /32 leaves no address after the gateway")
    net = int(network.network_address)
    gateway = net + 1
    return Subnet(gateway + 1, int(network.broadcast_address) - 1, network, gateway)


def overlaps(a_first: int, a_last: int, b_first: int, b_last: int) -> bool:
    return a_first <= b_last and b_first <= a_last


def to_ip(value: int) -> str:
    return str(IPv4Address(value))


def to_int(text: str) -> int:
    return int(IPv4Address(text))


class Strategy(StrEnum):
    """How IPAM chooses among the free addresses (ZStack's allocator strategy names)."""

    RANDOM = "RandomIpAllocatorStrategy"
    FIRST_AVAILABLE = "FirstAvailableIpAllocatorStrategy"


@dataclass(frozen=True)
class Pool:
    """Integer values ``first``..``last`` minus ``excluded``: an IP range or a VNI range."""

    first: int
    last: int
    excluded: frozenset[int] = frozenset()

    @classmethod
    def of(cls, subnet: Subnet) -> Pool:
        return cls(subnet.first, subnet.last, subnet.excluded)

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def free(self, value: int, used: Collection[int]) -> bool:
        return self.first <= value <= self.last and value not in self.excluded and value not in used


def _scan(pools: Sequence[Pool], used: Collection[int], start: int) -> Iterator[int]:
    """Free values in pool order, beginning at the ``start``-th value of all pools and
    wrapping around."""
    total = sum(p.size for p in pools)
    offsets: list[tuple[int, Pool]] = []
    at = 0
    for p in pools:
        offsets.append((at, p))
        at += p.size
    for i in range(total):
        k = (start + i) % total
        for base, p in reversed(offsets):
            if k >= base:
                value = p.first + (k - base)
                if p.free(value, used):
                    yield value
                break


def pick(
    pools: Sequence[Pool],
    used: Collection[int],
    strategy: Strategy,
    rng: random.Random | None = None,
    *,
    probes: int = 8,
) -> int | None:
    """A free value to try, or None if every value is used or excluded.

    First-available: the lowest free value of the first pool that has one. Random: a few
    uniform probes, then the next free value after a random point (so a nearly full pool
    is still answered in one pass, and concurrent allocators rarely try the same value).
    """
    pools = sorted(pools, key=lambda p: p.first)
    if not pools:
        return None
    if strategy is Strategy.FIRST_AVAILABLE:
        return next(_scan(pools, used, 0), None)
    rng = rng or random.SystemRandom()
    total = sum(p.size for p in pools)
    for _ in range(probes):
        k = rng.randrange(total)
        for p in pools:
            if k < p.size:
                if p.free(p.first + k, used):
                    return p.first + k
                break
            k -= p.size
    return next(_scan(pools, used, rng.randrange(total)), None)


def free_values(pools: Sequence[Pool], used: Collection[int], limit: int) -> list[int]:
    """Up to ``limit`` free values, lowest first."""
    out: list[int] = []
    for value in _scan(sorted(pools, key=lambda p: p.first), used, 0):
        if len(out) >= limit:
            break
        out.append(value)
    return out
