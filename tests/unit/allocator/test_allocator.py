"""``HostAllocator`` on SQLite (the schema from the migrations): filters from the
registered plugins, strategies, reservations with over-commit and reserved memory, the
idempotent allocate and release, the "no host" error, the ``AllocateHost`` flow step
rolled back, and the network's L3 attachment filter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel
from sqlalchemy import update

from mgmt.allocator import (
    CPU_RATIO,
    DEFAULT_STRATEGY,
    HOST_FILTERS,
    HOST_STRATEGIES,
    MEMORY_RATIO,
    RESERVED_MEMORY_DEFAULT,
    AllocatedHost,
    AllocateHost,
    AllocationSpec,
    AllocatorCodes,
    HostAllocator,
)
from mgmt.allocator.module import AllocatorPlugin
from mgmt.app import MODULES
from mgmt.core.counters import define_counter, get_counter
from mgmt.core.db import Database, utcnow
from mgmt.core.db.migrate import upgrade
from mgmt.core.errors import Codes, PermanentError, error
from mgmt.core.flow import (
    FlowDef,
    FlowEngine,
    FlowFailed,
    FlowMetrics,
    FlowRegistry,
    Interrupt,
    MemoryFlowStore,
    Step,
)
from mgmt.core.gconfig import GlobalConfigDef
from mgmt.core.plugins import PluginRegistry
from mgmt.core.tags.models import TagRow
from mgmt.host.models import HostRow
from mgmt.network.allocation import NetworkAllocationPlugin
from mgmt.network.models import L2ClusterRefRow, L2NetworkRow, L3NetworkRow
from mgmt.zone.models import ClusterRow, ZoneRow

T = TypeVar("T")
GiB = 1 << 30


class Config:
    """A global config view with values set by the test (``GlobalConfigService`` shape)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def value(self, defn: GlobalConfigDef[T]) -> T:
        found: T = self.values.get(defn.identity, defn.default)
        return found


def _common() -> dict[str, Any]:
    now = utcnow()
    return {"description": "", "owner_account_uuid": "admin", "created_at": now, "updated_at": now}


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/alloc.db")
    await upgrade(database)
    async with database.session() as s, s.begin():
        s.add(ZoneRow(uuid="z1", name="z1", **_common()))
        await s.flush()
        for c in ("c1", "c2"):
            s.add(
                ClusterRow(uuid=c, name=c, zone_uuid="z1", hypervisor_type="Simulator", **_common())
            )
        await s.flush()
        s.add(L2NetworkRow(uuid="l2", name="l2", zone_uuid="z1", type="NoVlan", **_common()))
        await s.flush()
        s.add(L3NetworkRow(uuid="l3", name="l3", l2_network_uuid="l2", zone_uuid="z1", **_common()))
        s.add(L2ClusterRefRow(l2_network_uuid="l2", cluster_uuid="c1", created_at=utcnow()))
    yield database
    await database.close()


async def add_host(
    db: Database, uuid: str, *, cluster: str = "c1", cpu: int = 4, memory: int = 9 * GiB
) -> str:
    async with db.session() as s, s.begin():
        s.add(
            HostRow(
                uuid=uuid,
                name=f"n-{uuid}",
                zone_uuid="z1",
                cluster_uuid=cluster,
                management_ip=f"ip-{uuid}",
                hypervisor_type="Simulator",
                host_state="Enabled",
                state="Connected",
                cpu_num=cpu,
                **_common(),
            )
        )
        await define_counter(s, uuid, "host.cpu", cpu, partition=0, owner_type="Host")
        await define_counter(s, uuid, "host.memory", memory, partition=0, owner_type="Host")
    return uuid


def allocator(db: Database, config: Config | None = None) -> HostAllocator:
    plugins = PluginRegistry([HOST_FILTERS, HOST_STRATEGIES])
    plugins.register(NetworkAllocationPlugin())
    plugins.register(AllocatorPlugin())
    return HostAllocator.of(db, MODULES.types(), config or Config(), plugins)


def spec(**kw: Any) -> AllocationSpec:
    return AllocationSpec(**{"account_uuid": "a", "cpu_num": 2, "memory_size": GiB, **kw})


async def available(db: Database, host: str) -> tuple[int, int]:
    async with db.session() as s:
        cpu = await get_counter(s, host, "host.cpu")
        mem = await get_counter(s, host, "host.memory")
    assert cpu is not None and mem is not None
    return cpu.available, mem.available


async def test_allocate_reserves_once_per_id_and_releases_once(db: Database) -> None:
    await add_host(db, "h1")
    alloc = allocator(db)
    first = await alloc.allocate(spec(), "vm1")
    assert (first.host_uuid, first.fresh) == ("h1", True)
    again = await alloc.allocate(spec(), "vm1")  # a redelivery: same host, nothing more
    assert (again.host_uuid, again.fresh, again.cpu_num) == ("h1", False, 2)
    assert await available(db, "h1") == (2, 8 * GiB)
    assert await alloc.release("vm1") is True
    assert await alloc.release("vm1") is False
    assert await available(db, "h1") == (4, 9 * GiB)
    with pytest.raises(PermanentError) as released:
        await alloc.allocate(spec(), "vm1")
    assert released.value.error.code == AllocatorCodes.RELEASED[0]
    # a release before any allocate leaves tombstones: the late allocate takes nothing
    assert await alloc.release("vm2") is False
    with pytest.raises(PermanentError):
        await alloc.allocate(spec(), "vm2")
    assert await available(db, "h1") == (4, 9 * GiB)


async def test_no_host_names_every_filter_and_reserves_nothing(db: Database) -> None:
    await add_host(db, "full", cpu=1)
    await add_host(db, "off")
    await add_host(db, "other", cluster="c2")
    async with db.session() as s, s.begin():
        await s.execute(update(HostRow).where(HostRow.uuid == "off").values(host_state="Disabled"))
    exact = Config()
    exact.values[CPU_RATIO.identity] = 1.0
    with pytest.raises(PermanentError) as err:
        await allocator(db, exact).allocate(spec(l3_network_uuids=("l3",)), "vm")
    e = err.value.error
    assert e.code == AllocatorCodes.NO_HOST[0]
    assert e.extra["byFilter"] == {"l3-network": 1, "host-state": 1, "capacity": 1}
    reasons = {r["hostUuid"]: (r["filter"], r["reason"]) for r in e.extra["rejected"]}
    assert (
        reasons["other"][0] == "l3-network"
        and "not attached to L2 network l2" in reasons["other"][1]
    )
    assert reasons["full"][0] == "capacity" and "needs 2 vCPUs" in reasons["full"][1]
    assert "none of 3 hosts" in e.details
    for h in ("full", "off", "other"):
        assert (await available(db, h))[0] in (1, 4)


async def test_over_commit_and_reserved_memory_change_without_restart(db: Database) -> None:
    await add_host(db, "h1", cpu=2, memory=4 * GiB)
    config = Config()
    alloc = allocator(db, config)
    config.values[CPU_RATIO.identity] = 1.0
    await alloc.allocate(spec(cpu_num=2, memory_size=GiB), "a")
    with pytest.raises(PermanentError):
        await alloc.allocate(spec(cpu_num=1, memory_size=GiB), "b")
    config.values[CPU_RATIO.identity] = 2.0  # the next allocation sees it
    await alloc.allocate(spec(cpu_num=2, memory_size=GiB), "b")
    assert await available(db, "h1") == (-2, 2 * GiB)  # the counter stays exact
    config.values[CPU_RATIO.identity] = 10.0  # from here on memory is what runs out
    # 4 GiB, 2 used, 1 G reserved by default: 1 GiB left; the host's tag keeps 2 G
    with pytest.raises(PermanentError):
        await alloc.allocate(spec(cpu_num=1, memory_size=GiB + 1), "c")
    async with db.session() as s, s.begin():
        s.add(
            TagRow(
                uuid="t1",
                resource_uuid="h1",
                resource_type="Host",
                kind="system",
                tag="reservedMemory::2G",
            )
        )
    with pytest.raises(PermanentError) as err:
        await alloc.allocate(spec(cpu_num=1, memory_size=GiB), "c")
    assert "2147483648 reserved" in err.value.error.extra["rejected"][0]["reason"]
    config.values[MEMORY_RATIO.identity] = 1.5
    config.values[RESERVED_MEMORY_DEFAULT.identity] = "512M"  # the tag still wins
    await alloc.allocate(spec(cpu_num=1, memory_size=2 * GiB), "c")  # 6 - 2 - 2 = 2 GiB


async def test_strategy_from_request_offering_or_global_default(db: Database) -> None:
    for h in ("h1", "h2", "h3"):
        await add_host(db, h)
    config = Config()
    alloc = allocator(db, config)
    assert (await alloc.allocate(spec(), "v1")).host_uuid == "h1"  # first fit
    assert (await alloc.allocate(spec(), "v2")).host_uuid == "h1"
    least = spec(strategy="LeastVmPreferredHostAllocatorStrategy")
    assert (await alloc.allocate(least, "v3")).host_uuid == "h2"
    config.values[DEFAULT_STRATEGY.identity] = "LeastVmPreferredHostAllocatorStrategy"
    assert (await alloc.allocate(spec(), "v4")).host_uuid == "h3"
    with pytest.raises(PermanentError) as err:
        await alloc.allocate(spec(strategy="NoSuchStrategy"), "v5")
    assert err.value.error.code == AllocatorCodes.NO_STRATEGY[0]


async def test_concurrent_allocations_take_exactly_the_capacity(db: Database) -> None:
    for h in ("h1", "h2"):
        await add_host(db, h, cpu=4, memory=100 * GiB)
    config = Config()
    config.values[CPU_RATIO.identity] = 1.0
    alloc = allocator(db, config)
    results = await asyncio.gather(
        *(alloc.allocate(spec(cpu_num=1), f"vm{i}") for i in range(20)), return_exceptions=True
    )
    ok = [r for r in results if isinstance(r, AllocatedHost)]
    failed = [r for r in results if isinstance(r, PermanentError)]
    assert len(ok) == 8 and len(failed) == 12
    assert all(f.error.code == AllocatorCodes.NO_HOST[0] for f in failed)
    assert await available(db, "h1") == (0, 96 * GiB)
    assert await available(db, "h2") == (0, 96 * GiB)


class Ctx(BaseModel):
    cpuNum: int
    hostUuid: str | None = None
    fail: bool = False


class Fail(Step[Ctx]):
    name = "fail"

    async def run(self, ctx: Ctx) -> Any:
        if ctx.fail:
            raise PermanentError(error(Codes.INTERNAL, "asked to fail"))
        return None


def _set_host(ctx: Ctx, host: AllocatedHost) -> None:
    ctx.hostUuid = host.host_uuid


async def test_the_flow_step_allocates_once_per_run_and_releases_on_rollback(
    db: Database,
) -> None:
    await add_host(db, "h1")
    alloc = allocator(db)
    flow = FlowDef(
        "PlaceVm",
        Ctx,
        [AllocateHost(alloc, lambda c: spec(cpu_num=c.cpuNum), _set_host), Fail()],
        on_interrupt=Interrupt.ROLLBACK,
    )
    registry = FlowRegistry()
    registry.add(flow)
    engine = FlowEngine(
        MemoryFlowStore(), registry, node_id="n1", partitions=8, metrics=FlowMetrics()
    )
    out = await engine.run(flow, Ctx(cpuNum=1), resource_uuid="vm", flow_uuid="f1")
    assert out.hostUuid == "h1"
    await engine.run(flow, Ctx(cpuNum=1), resource_uuid="vm", flow_uuid="f1")  # redelivered
    assert (await available(db, "h1"))[0] == 3
    with pytest.raises(FlowFailed):
        await engine.run(flow, Ctx(cpuNum=2, fail=True), resource_uuid="vm2", flow_uuid="f2")
    assert (await available(db, "h1"))[0] == 3  # rolled back: given back
    with pytest.raises(FlowFailed) as full:
        await engine.run(flow, Ctx(cpuNum=64), resource_uuid="vm3", flow_uuid="f3")
    assert full.value.error.cause is not None
    assert full.value.error.cause.code == AllocatorCodes.NO_HOST[0]
    assert (await available(db, "h1"))[0] == 3
