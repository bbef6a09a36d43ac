"""Host allocation through REST (2 frontends, 2 nodes, PostgreSQL, RabbitMQ, a real
simulator agent): ``GET /v1/vm-instances/candidates`` honours capacity, over-commit ratios
changed at run time, reserved memory (host tag and global config), host state and
status, hypervisor type, designated zone/cluster/host, avoided hosts, host tags and L3
attachment, with tenancy; and ``HostAllocator`` on the same database: concurrent
allocations against limited capacity take exactly that capacity, and a failed flow gives
its allocation back.

Storage is not part of these expectations: ``_prepare_cluster`` is where a test adds an
attached primary storage (one line) once the storage filter is merged.
"""

from __future__ import annotations

import asyncio
import uuid as uuidlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import select

from mgmt.allocator import (
    CPU_RATIO,
    HOST_FILTERS,
    HOST_STRATEGIES,
    AllocatedHost,
    AllocateHost,
    AllocationSpec,
    AllocatorCodes,
    HostAllocator,
)
from mgmt.allocator.module import AllocatorPlugin
from mgmt.app import MODULES
from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.core.counters import CounterRow
from mgmt.core.db import Database
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
from mgmt.network.allocation import NetworkAllocationPlugin
from tests.helpers.eventually import eventually
from tests.integration.api.test_identity import ADMIN_PASSWORD, Api, start_apis

T = TypeVar("T")
GiB = 1 << 30
CANDIDATES = "/v1/vm-instances/candidates"


@dataclass
class Env:
    admin: Api
    other: Api  # the admin through the other frontend
    sim: Proc
    http: httpx.AsyncClient
    zone: str
    c1: str  # on the L2 of ``l3``
    c2: str  # on no L2
    l2: str
    l3: str
    hosts: dict[str, str]  # name → uuid

    async def candidates(self, api: Api | None = None, /, **params: Any) -> dict[str, Any]:
        body = await (api or self.admin).ok("GET", CANDIDATES, params=params)
        return body

    async def kept(self, **params: Any) -> list[str]:
        """The names of the candidate hosts (admin, first frontend)."""
        return [h["name"] for h in (await self.candidates(**params))["hosts"]]

    async def rejected(self, **params: Any) -> dict[str, tuple[str, str]]:
        found = (await self.candidates(**params))["rejected"]
        return {r["hostName"]: (r["filter"], r["reason"]) for r in found}

    async def set_config(self, identity: str, value: Any) -> None:
        await self.admin.ok("PUT", f"/v1/global-configs/{identity}", json={"value": value})

    async def fault(self, host: str, **fault: Any) -> None:
        resp = await self.http.post(f"{self.sim.url}/sim/hosts/{host}/faults", json=fault)
        resp.raise_for_status()


async def _prepare_cluster(admin: Api, zone: str, name: str) -> str:
    """A Simulator cluster ready for VMs: a LocalStorage of its own attached (the hosts'
    disks give it its capacity)."""
    made = await admin.ok(
        "POST", "/v1/clusters", json={"name": name, "zoneUuid": zone, "hypervisorType": "Simulator"}
    )
    uuid: str = made["inventory"]["uuid"]
    ps = await admin.ok(
        "POST",
        "/v1/primary-storage/local",
        json={"name": f"{name}-local", "zoneUuid": zone, "url": "/var/lib/zcloud/local"},
    )
    await admin.ok(
        "POST",
        f"/v1/primary-storage/{ps['inventory']['uuid']}/actions/attach-cluster",
        json={"clusterUuid": uuid},
    )
    return uuid


async def _add_host(admin: Api, cluster: str, name: str, ip: str, cpu: int, memory: int) -> str:
    body = {
        "clusterUuid": cluster,
        "name": name,
        "managementIp": ip,
        "cpuCapacity": cpu,
        "memoryCapacity": memory,
    }
    made = await admin.ok("POST", "/v1/hosts", json=body)
    assert made["inventory"]["status"] == "Connected", made
    uuid: str = made["inventory"]["uuid"]
    return uuid


@pytest.fixture
async def env(cluster: LocalCluster) -> AsyncIterator[Env]:
    apis = await start_apis(cluster, ZCLOUD_AGENT_TIMEOUT="3", ZCLOUD_GCONFIG_POLL_INTERVAL="1")
    sim = next(p for p in cluster.procs if p.name == "sim")
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, apis[0], "admin", ADMIN_PASSWORD)
        other = await Api.login(http, apis[1], "admin", ADMIN_PASSWORD)
        zone = (await admin.ok("POST", "/v1/zones", json={"name": "az"}))["inventory"]["uuid"]
        c1 = await _prepare_cluster(admin, zone, "ac1")
        c2 = await _prepare_cluster(admin, zone, "ac2")
        l2 = (
            await admin.ok(
                "POST",
                "/v1/l2-networks/no-vlan",
                json={"name": "al2", "zoneUuid": zone, "physicalInterface": "eth0"},
            )
        )["inventory"]["uuid"]
        await admin.ok(
            "POST", f"/v1/l2-networks/{l2}/actions/attach-cluster", json={"clusterUuid": c1}
        )
        l3 = (await admin.ok("POST", "/v1/l3-networks", json={"name": "al3", "l2NetworkUuid": l2}))[
            "inventory"
        ]["uuid"]
        hosts = {
            "h1": await _add_host(admin, c1, "h1", "127.0.7.1", 4, 8 * GiB),
            "h2": await _add_host(admin, c1, "h2", "127.0.7.2", 4, 8 * GiB),
            "h3": await _add_host(admin, c2, "h3", "127.0.7.3", 2, 4 * GiB),
        }
        yield Env(admin, other, sim, http, zone, c1, c2, l2, l3, hosts)


async def test_candidates_honour_every_filter_and_configs_changed_at_run_time(env: Env) -> None:
    small = {"cpuNum": 1, "memorySize": GiB}
    everything = await env.candidates(**small)
    assert [h["name"] for h in everything["hosts"]] == ["h1", "h2", "h3"]
    assert everything["zones"] == [{"uuid": env.zone, "name": "az"}]
    assert [c["uuid"] for c in everything["clusters"]] == [env.c1, env.c2]
    assert everything["rejected"] == []
    # the other frontend answers the same
    assert (await env.candidates(env.other, **small))["hosts"] == everything["hosts"]
    h1 = everything["hosts"][0]
    # defaults: 10 vCPUs per CPU, memory exact, 1 G kept by every host
    assert (h1["availableCpu"], h1["availableMemory"]) == (40, 7 * GiB)

    # L3 attachment
    assert await env.rejected(l3NetworkUuids=env.l3, **small) == {
        "h3": (
            "l3-network",
            f"cluster {env.c2} is not attached to L2 network {env.l2} (of L3 network {env.l3})",
        )
    }
    await _capacity_and_configs(env)
    await _state_and_status(env, small)
    await _designations_and_tags(env, small)
    offering = await _offering(env)
    await _refusals(env, small, offering)
    await _tenancy(env, small, offering)


async def _capacity_and_configs(env: Env) -> None:
    # capacity and reserved memory: 8 GiB hosts keep 1 G (global) or their tag's size
    assert await env.kept(cpuNum=1, memorySize=7 * GiB) == ["h1", "h2"]
    why = await env.rejected(cpuNum=1, memorySize=7 * GiB + 1)
    assert {n: f for n, (f, _) in why.items()} == {
        "h1": "capacity",
        "h2": "capacity",
        "h3": "capacity",
    }
    assert "1073741824 reserved" in why["h1"][1]
    await env.admin.ok(
        "POST",
        "/v1/system-tags",
        json={"resourceUuid": env.hosts["h1"], "resourceType": "Host", "tag": "reservedMemory::2G"},
    )
    assert await env.kept(cpuNum=1, memorySize=7 * GiB) == ["h2"]
    await env.set_config("host.reservedMemory", "512M")

    async def half_gib_kept() -> bool:
        return await env.kept(cpuNum=1, memorySize=7 * GiB + GiB // 2) == ["h2"]

    await eventually(half_gib_kept, timeout=20)
    assert await env.kept(cpuNum=1, memorySize=6 * GiB) == ["h1", "h2"]  # h1: 8 - 2 (tag)

    # the CPU over-commit ratio, changed at run time (seen by the frontends within seconds)
    assert await env.kept(cpuNum=40, memorySize=GiB) == ["h1", "h2"]
    await env.set_config("host.cpu.overProvisioning.ratio", 2)

    async def ratio_two() -> bool:
        return await env.kept(cpuNum=8, memorySize=GiB) == ["h1", "h2"] and not await env.kept(
            cpuNum=9, memorySize=GiB
        )

    await eventually(ratio_two, timeout=20)
    await env.set_config("host.memory.overProvisioning.ratio", 2.0)

    async def memory_two() -> bool:
        return await env.kept(cpuNum=1, memorySize=15 * GiB) == ["h2"]  # 16 - 0.5

    await eventually(memory_two, timeout=20)


async def _state_and_status(env: Env, small: dict[str, Any]) -> None:
    state = f"/v1/hosts/{env.hosts['h2']}/actions/change-state"
    await env.admin.ok("POST", state, json={"stateEvent": "disable"})
    assert (await env.rejected(**small))["h2"] == ("host-state", "host is Disabled, not Enabled")
    await env.admin.ok("POST", state, json={"stateEvent": "enable"})
    await env.fault(env.hosts["h3"], command="HostFacts", action="fail", error="down", times=1)
    bad = await env.admin.call("POST", f"/v1/hosts/{env.hosts['h3']}/actions/reconnect", json={})
    assert bad.status_code != 200
    assert (await env.rejected(**small))["h3"] == (
        "host-state",
        "host is Disconnected, not Connected",
    )
    await env.admin.ok("POST", f"/v1/hosts/{env.hosts['h3']}/actions/reconnect", json={})
    assert await env.kept(**small) == ["h1", "h2", "h3"]


async def _designations_and_tags(env: Env, small: dict[str, Any]) -> None:
    assert {f for f, _ in (await env.rejected(hypervisorType="KVM", **small)).values()} == {
        "hypervisor-type"
    }
    assert await env.kept(zoneUuid=env.zone, **small) == ["h1", "h2", "h3"]
    assert await env.kept(clusterUuid=env.c2, **small) == ["h3"]
    assert await env.kept(hostUuid=env.hosts["h2"], **small) == ["h2"]
    assert await env.kept(avoidHostUuids=[env.hosts["h1"], env.hosts["h3"]], **small) == ["h2"]

    # host tags: user tags on hosts
    await env.admin.ok(
        "POST",
        "/v1/user-tags",
        json={"resourceUuid": env.hosts["h3"], "resourceType": "Host", "tag": "ssd"},
    )
    assert await env.kept(hostTags="ssd", **small) == ["h3"]
    assert (await env.rejected(hostTags="ssd", **small))["h1"] == (
        "host-tags",
        "lacks host tag(s) ssd",
    )


async def _offering(env: Env) -> str:
    """An instance offering instead of numbers (its strategy orders the hosts)."""
    offering = (
        await env.admin.ok(
            "POST",
            "/v1/instance-offerings",
            json={
                "name": "least",
                "cpuNum": 2,
                "memorySize": 2 * GiB,
                "allocatorStrategy": "LeastVmPreferredHostAllocatorStrategy",
            },
        )
    )["inventory"]["uuid"]
    assert await env.kept(instanceOfferingUuid=offering) == ["h1", "h2", "h3"]
    return str(offering)


async def _refusals(env: Env, small: dict[str, Any], offering: str) -> None:
    """A UUID of nothing is a 404 naming the field; a bad request a 400 naming it."""
    nobody = str(uuidlib.uuid4())
    for params, field, status in (
        ({"instanceOfferingUuid": nobody}, "instanceOfferingUuid", 404),
        ({"l3NetworkUuids": nobody, **small}, "l3NetworkUuids", 404),
        ({"imageUuid": nobody, **small}, "imageUuid", 404),
        ({"zoneUuid": nobody, **small}, "zoneUuid", 404),
        ({"clusterUuid": nobody, **small}, "clusterUuid", 404),
        ({"hostUuid": nobody, **small}, "hostUuid", 404),
        ({"rootDiskOfferingUuid": nobody, **small}, "rootDiskOfferingUuid", 404),
        ({"zoneUuid": "not-a-uuid", **small}, "zoneUuid", 400),
        ({"cpuNum": 1}, "memorySize", 400),
        ({"instanceOfferingUuid": offering, "cpuNum": 1}, "cpuNum", 400),
        ({"cpuNum": 0, "memorySize": 1}, "cpuNum", 400),
    ):
        resp = await env.admin.call("GET", CANDIDATES, params=params)
        assert resp.status_code == status, (params, resp.text)
        assert field in resp.text, (params, resp.text)


async def _tenancy(env: Env, small: dict[str, Any], offering: str) -> None:
    """Tenants: only what they see; zones and clusters, never hosts."""
    await env.admin.ok("POST", "/v1/accounts", json={"name": "at", "password": "at-pw-123456"})
    tenant = await Api.login(env.http, env.admin.base, "at", "at-pw-123456")
    hidden = await tenant.call("GET", CANDIDATES, params={"instanceOfferingUuid": offering})
    assert hidden.status_code == 404 and "instanceOfferingUuid" in hidden.text, hidden.text
    await env.admin.ok(
        "POST",
        "/v1/resource-shares",
        json={"resourceUuid": offering, "resourceType": "InstanceOffering", "public": True},
    )
    seen = await env.candidates(tenant, instanceOfferingUuid=offering)
    assert seen["zones"] == [{"uuid": env.zone, "name": "az"}] and len(seen["clusters"]) == 2
    assert seen["hosts"] == [] and seen["rejected"] == []
    no_l3 = await tenant.call("GET", CANDIDATES, params={"l3NetworkUuids": env.l3, **small})
    assert no_l3.status_code == 404 and "l3NetworkUuids" in no_l3.text
    hosts = await tenant.call("GET", CANDIDATES, params={"hostUuid": env.hosts["h1"], **small})
    assert hosts.status_code == 403 and "hostUuid" in hosts.text, hosts.text


class Config:
    """The allocator's config view in this test process (the nodes read theirs from the
    database; the values here are the same as set through the API)."""

    def __init__(self, **values: Any) -> None:
        self.values = values

    def value(self, defn: GlobalConfigDef[T]) -> T:
        found: T = self.values.get(defn.identity, defn.default)
        return found


def _allocator(db: Database, **config: Any) -> HostAllocator:
    plugins = PluginRegistry([HOST_FILTERS, HOST_STRATEGIES])
    plugins.register(NetworkAllocationPlugin())
    plugins.register(AllocatorPlugin())
    return HostAllocator.of(db, MODULES.types(), Config(**config), plugins)


async def _counters(db: Database, hosts: list[str]) -> dict[tuple[str, str], int]:
    async with db.session() as s:
        rows = await s.execute(select(CounterRow).where(CounterRow.owner_uuid.in_(hosts)))
        return {(r.owner_uuid, r.name): r.available for r in rows.scalars()}


class PlaceCtx(BaseModel):
    cpuNum: int
    hostUuid: str | None = None


class Boom(Step[PlaceCtx]):
    name = "boom"

    async def run(self, ctx: PlaceCtx) -> Any:
        raise PermanentError(error(Codes.INTERNAL, "the VM failed to start"))


def _placed(ctx: PlaceCtx, host: AllocatedHost) -> None:
    ctx.hostUuid = host.host_uuid


async def test_concurrent_allocations_take_exactly_the_capacity_and_failures_release(
    env: Env, db: Database
) -> None:
    await env.set_config("host.cpu.overProvisioning.ratio", 1)
    c1_hosts = [env.hosts["h1"], env.hosts["h2"]]
    before = await _counters(db, c1_hosts)
    alloc = _allocator(db, **{CPU_RATIO.identity: 1.0})
    spec = AllocationSpec(
        account_uuid="admin", cpu_num=1, memory_size=GiB // 4, l3_network_uuids=(env.l3,)
    )
    results = await asyncio.gather(
        *(alloc.allocate(spec, f"race-{i}") for i in range(60)), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, AllocatedHost)]
    lost = [r for r in results if not isinstance(r, AllocatedHost)]
    assert len(won) == 8, lost[:3]  # 2 hosts x 4 CPUs on the L3's cluster
    assert all(isinstance(e, PermanentError) for e in lost)
    for e in lost:
        assert isinstance(e, PermanentError) and e.error.code == AllocatorCodes.NO_HOST[0]
        assert "l3-network refused 1" in e.error.details and "capacity refused" in e.error.details
    assert sorted(w.host_uuid for w in won) == sorted(c1_hosts * 4)
    after = await _counters(db, c1_hosts)
    for h in c1_hosts:
        assert after[(h, "host.cpu")] == 0
        assert after[(h, "host.memory")] == before[(h, "host.memory")] - 4 * (GiB // 4)

    # the REST candidates see the same: no room on c1 at ratio 1
    async def full() -> bool:
        why = await env.rejected(cpuNum=1, memorySize=GiB, l3NetworkUuids=env.l3)
        return {n: f for n, (f, _) in why.items()} == {
            "h1": "capacity",
            "h2": "capacity",
            "h3": "l3-network",
        }

    await eventually(full, timeout=20)

    # a flow whose later step fails gives its allocation back
    await alloc.release(won[0].reservation_id)
    flow = FlowDef(
        "PlaceThenFail",
        PlaceCtx,
        [
            AllocateHost(
                alloc,
                lambda c: AllocationSpec(account_uuid="admin", cpu_num=c.cpuNum, memory_size=GiB),
                _placed,
            ),
            Boom(),
        ],
        on_interrupt=Interrupt.ROLLBACK,
    )
    registry = FlowRegistry()
    registry.add(flow)
    engine = FlowEngine(
        MemoryFlowStore(), registry, node_id="test", partitions=8, metrics=FlowMetrics()
    )
    freed = won[0].host_uuid
    mid = await _counters(db, c1_hosts)
    with pytest.raises(FlowFailed):
        await engine.run(flow, PlaceCtx(cpuNum=1), resource_uuid="vm-x", flow_uuid="place-1")
    assert await _counters(db, c1_hosts) == mid
    assert mid[(freed, "host.cpu")] == 1

    for w in won[1:]:
        assert await alloc.release(w.reservation_id)
    assert await _counters(db, c1_hosts) == before


async def test_candidates_need_primary_storage_with_room(env: Env) -> None:
    # a cluster with no primary storage attached takes no VM; the reason names it
    bare = (
        await env.admin.ok(
            "POST",
            "/v1/clusters",
            json={"name": "bare", "zoneUuid": env.zone, "hypervisorType": "Simulator"},
        )
    )["inventory"]["uuid"]
    await _add_host(env.admin, bare, "h4", "127.0.7.4", 4, 8 * GiB)
    small = {"cpuNum": 1, "memorySize": GiB}
    # asking for no disk at all needs no primary storage
    assert "h4" in await env.kept(clusterUuid=bare, **small)
    disk = await env.admin.ok("POST", "/v1/disk-offerings", json={"name": "d", "diskSize": GiB})
    refused = await env.rejected(
        clusterUuid=bare, rootDiskOfferingUuid=disk["inventory"]["uuid"], **small
    )
    assert refused["h4"][0] == "primary-storage", refused
    # a root disk bigger than any host's local disk (2 TiB on a simulated host)
    huge = await env.admin.ok(
        "POST", "/v1/disk-offerings", json={"name": "huge", "diskSize": 4 << 40}
    )
    rejected = await env.rejected(
        clusterUuid=env.c1, rootDiskOfferingUuid=huge["inventory"]["uuid"], **small
    )
    assert {name: f for name, (f, _) in rejected.items()} == {
        "h1": "primary-storage",
        "h2": "primary-storage",
        "h3": "designated",
        "h4": "designated",
    }, rejected
