"""IP range arithmetic and the choice of free values (``mgmt/network/ipmath.py``)."""

from __future__ import annotations

import random

import pytest

from mgmt.network.ipmath import (
    IpRangeError,
    Pool,
    Strategy,
    free_values,
    overlaps,
    pick,
    subnet_of_cidr,
    subnet_of_range,
    to_int,
    to_ip,
)


def test_a_cidr_gives_its_host_addresses_after_the_gateway() -> None:
    subnet = subnet_of_cidr("192.168.1.0/24")
    assert (to_ip(subnet.first), to_ip(subnet.last), to_ip(subnet.gateway)) == (
        "192.168.1.2",
        "192.168.1.254",
        "192.168.1.1",
    )
    assert subnet.usable == 253
    assert to_int("192.168.1.1") not in subnet and to_int("192.168.1.2") in subnet
    assert subnet_of_cidr("10.0.0.0/30").usable == 1


def test_a_range_never_gives_out_gateway_network_or_broadcast() -> None:
    subnet = subnet_of_range("10.0.0.0", "10.0.0.255", "255.255.255.0", "10.0.0.1")
    assert subnet.excluded == {to_int(x) for x in ("10.0.0.0", "10.0.0.1", "10.0.0.255")}
    assert subnet.usable == 253
    inner = subnet_of_range("10.0.0.10", "10.0.0.20", "255.255.255.0", "10.0.0.1")
    assert inner.excluded == frozenset() and inner.usable == 11


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("10.0.0.20", "10.0.0.10", "255.255.255.0", "10.0.0.1"), "endIp"),
        (("10.0.1.10", "10.0.1.20", "255.255.255.0", "10.0.0.1"), "startIp"),
        (("10.0.0.10", "10.0.1.20", "255.255.255.0", "10.0.0.1"), "endIp"),
        (("10.0.0.10", "10.0.0.20", "255.0.255.0", "10.0.0.1"), "netmask"),
        (("x", "10.0.0.20", "255.255.255.0", "10.0.0.1"), "startIp"),
        (("10.0.0.1", "10.0.0.1", "255.255.255.0", "10.0.0.1"), "startIp"),
    ],
)
def test_bad_ranges_name_the_field(args: tuple[str, str, str, str], field: str) -> None:
    with pytest.raises(IpRangeError) as err:
        subnet_of_range(*args)
    assert err.value.field == field


@pytest.mark.parametrize("cidr", ["10.0.0.1/24", "10.0.0.0/31", "nonsense"])
def test_bad_cidrs(cidr: str) -> None:
    with pytest.raises(IpRangeError) as err:
        subnet_of_cidr(cidr)
    assert err.value.field == "networkCidr"


def test_overlap() -> None:
    assert overlaps(1, 5, 5, 9) and overlaps(1, 9, 3, 4) and not overlaps(1, 4, 5, 9)


def test_first_available_takes_the_lowest_free_value_across_pools() -> None:
    pools = [Pool(20, 22), Pool(10, 12, frozenset({10}))]
    assert pick(pools, set(), Strategy.FIRST_AVAILABLE) == 11
    assert pick(pools, {11, 12}, Strategy.FIRST_AVAILABLE) == 20
    assert pick(pools, {11, 12, 20, 21, 22}, Strategy.FIRST_AVAILABLE) is None
    assert free_values(pools, {12}, 3) == [11, 20, 21]


def test_random_finds_every_free_value_and_never_a_used_or_excluded_one() -> None:
    rng = random.Random(7)
    pools = [Pool(1, 50, frozenset({1})), Pool(100, 149)]
    used: set[int] = set()
    while (value := pick(pools, used, Strategy.RANDOM, rng)) is not None:
        assert value not in used and value != 1
        used.add(value)
    assert used == {*range(2, 51), *range(100, 150)}


def test_random_spreads_its_picks() -> None:
    rng = random.Random(3)
    picks = {pick([Pool(0, 999)], set(), Strategy.RANDOM, rng) for _ in range(50)}
    assert len(picks) > 40  # not the same few values: concurrent allocators rarely collide


def test_a_nearly_full_pool_is_answered() -> None:
    used = set(range(0, 1000)) - {637}
    assert pick([Pool(0, 999)], used, Strategy.RANDOM, random.Random(1)) == 637
