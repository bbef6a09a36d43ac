"""Each allocator filter and strategy on hand-made candidates (no database)."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from mgmt.allocator import (
    CPU_RATIO,
    DEFAULT_STRATEGY,
    RESERVED_MEMORY_DEFAULT,
    AllocationSpec,
    HostCandidate,
)
from mgmt.allocator.filters.avoid import AvoidHostsFilter
from mgmt.allocator.filters.capacity import CapacityFilter
from mgmt.allocator.filters.designated import DesignatedFilter
from mgmt.allocator.filters.host_tags import HostTagFilter
from mgmt.allocator.filters.hypervisor import HypervisorTypeFilter
from mgmt.allocator.filters.state import HostStateFilter
from mgmt.allocator.strategies import (
    DefaultHostAllocatorStrategy,
    LeastVmPreferredHostAllocatorStrategy,
    MinimumCPUUsageHostAllocatorStrategy,
    MinimumMemoryUsageHostAllocatorStrategy,
    RandomHostAllocatorStrategy,
)
from mgmt.core.counters import Limit
from mgmt.core.errors import PermanentError

GiB = 1 << 30
NO_SESSION: Any = None  # the allocator's own filters read nothing but the candidates


def host(uuid: str, **kw: Any) -> HostCandidate:
    base = HostCandidate(
        uuid=uuid,
        name=f"n-{uuid}",
        zone_uuid="z1",
        cluster_uuid="c1",
        hypervisor_type="Simulator",
        state="Enabled",
        status="Connected",
        architecture="x86_64",
        cpu_num=4,
        total_cpu=4,
        available_cpu=4,
        total_memory=8 * GiB,
        available_memory=8 * GiB,
    )
    return replace(base, **kw)


def spec(**kw: Any) -> AllocationSpec:
    return AllocationSpec(**{"account_uuid": "a", "cpu_num": 1, "memory_size": GiB, **kw})


async def test_state_filter_wants_enabled_and_connected() -> None:
    hosts = [
        host("ok"),
        host("off", state="Disabled"),
        host("gone", status="Disconnected"),
        host("maint", state="Maintenance", status="Disconnected"),
    ]
    got = await HostStateFilter().reject(NO_SESSION, spec(), hosts)
    assert got == {
        "off": "host is Disabled, not Enabled",
        "gone": "host is Disconnected, not Connected",
        "maint": "host is Maintenance, not Enabled",
    }


async def test_hypervisor_filter_only_when_asked() -> None:
    hosts = [host("s"), host("k", hypervisor_type="KVM")]
    assert await HypervisorTypeFilter().reject(NO_SESSION, spec(), hosts) == {}
    got = await HypervisorTypeFilter().reject(NO_SESSION, spec(hypervisor_type="KVM"), hosts)
    assert got == {"s": "hypervisor is Simulator, not KVM"}


async def test_designated_zone_cluster_host() -> None:
    hosts = [host("a"), host("b", zone_uuid="z2", cluster_uuid="c2"), host("c", cluster_uuid="c3")]
    f = DesignatedFilter()
    assert await f.reject(NO_SESSION, spec(), hosts) == {}
    assert set(await f.reject(NO_SESSION, spec(zone_uuid="z1"), hosts)) == {"b"}
    assert set(await f.reject(NO_SESSION, spec(cluster_uuid="c3"), hosts)) == {"a", "b"}
    got = await f.reject(NO_SESSION, spec(host_uuid="a"), hosts)
    assert set(got) == {"b", "c"} and "designated host a" in got["b"]


async def test_avoid_and_host_tags() -> None:
    hosts = [host("a", tags=frozenset({"ssd", "gpu"})), host("b", tags=frozenset({"ssd"}))]
    assert await AvoidHostsFilter().reject(NO_SESSION, spec(avoid_host_uuids=("a",)), hosts) == {
        "a": "the request avoids this host"
    }
    got = await HostTagFilter().reject(NO_SESSION, spec(host_tags=("ssd", "gpu")), hosts)
    assert got == {"b": "lacks host tag(s) gpu"}
    assert await HostTagFilter().reject(NO_SESSION, spec(), hosts) == {}


async def test_capacity_applies_ratios_and_reserved_memory() -> None:
    f = CapacityFilter()
    # 4 CPUs, 1 used: exact room 3; over-commit 10: room 39
    h = host("a", available_cpu=3)
    assert set(await f.reject(NO_SESSION, spec(cpu_num=4), [h])) == {"a"}
    assert await f.reject(NO_SESSION, spec(cpu_num=39), [replace(h, cpu_ratio=10)]) == {}
    assert set(await f.reject(NO_SESSION, spec(cpu_num=40), [replace(h, cpu_ratio=10)])) == {"a"}
    # 8 GiB, 1 GiB reserved for the host: 7 GiB for VMs
    m = host("m", reserved_memory=GiB)
    assert await f.reject(NO_SESSION, spec(memory_size=7 * GiB), [m]) == {}
    why = await f.reject(NO_SESSION, spec(memory_size=7 * GiB + 1), [m])
    assert "1073741824 reserved" in why["m"]
    # memory over-commit 1.5: 12 GiB - 1 GiB reserved
    assert (
        await f.reject(NO_SESSION, spec(memory_size=11 * GiB), [replace(m, memory_ratio=1.5)]) == {}
    )


def test_the_candidate_room_and_the_counter_limit_agree() -> None:
    h = host("a", available_cpu=-2, cpu_ratio=10.0)  # over-committed: 6 used of 4
    assert h.cpu_room == 34 == Limit(10.0).room(4, -2)
    m = host("m", available_memory=6 * GiB, memory_ratio=1.5, reserved_memory=GiB)
    assert m.memory_room == Limit(1.5, GiB).room(8 * GiB, 6 * GiB) == 9 * GiB
    with pytest.raises(ValueError):
        Limit(0)


def test_strategies_order() -> None:
    hosts = [
        host("a", vm_count=3, available_cpu=1),
        host("b", vm_count=1, available_memory=GiB),
        host("c", vm_count=1),
    ]
    s = spec()
    assert [h.uuid for h in DefaultHostAllocatorStrategy().order(s, hosts)] == ["a", "b", "c"]
    assert [h.uuid for h in LeastVmPreferredHostAllocatorStrategy().order(s, hosts)] == [
        "b",
        "c",
        "a",
    ]
    assert [h.uuid for h in MinimumCPUUsageHostAllocatorStrategy().order(s, hosts)][-1] == "a"
    assert [h.uuid for h in MinimumMemoryUsageHostAllocatorStrategy().order(s, hosts)][-1] == "b"
    rnd = RandomHostAllocatorStrategy(random.Random(7))
    orders = {tuple(h.uuid for h in rnd.order(s, hosts)) for _ in range(30)}
    assert len(orders) > 1 and all(sorted(o) == ["a", "b", "c"] for o in orders)


def test_the_configs_refuse_what_the_allocator_cannot_use() -> None:
    assert DEFAULT_STRATEGY.parse("RandomHostAllocatorStrategy") == "RandomHostAllocatorStrategy"
    for defn, bad in (
        (DEFAULT_STRATEGY, "NoSuch"),
        (RESERVED_MEMORY_DEFAULT, "1Q"),
        (CPU_RATIO, 0),
    ):
        with pytest.raises(PermanentError):
            defn.parse(bad)
    assert CPU_RATIO.parse("2.5") == 2.5 and CPU_RATIO.parse(4) == 4.0
