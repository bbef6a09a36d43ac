"""VM instances through REST (2 frontends, 2 nodes, PostgreSQL, RabbitMQ, a real simulator
agent): create to Running and every action, an illegal transition (409 naming the state),
tenancy on shared infrastructure; a simulator fault at each step of the create leaving
host capacity, primary storage capacity, IPs and quotas exactly as before and no VM; the
owner SIGKILLed mid-StartVm; 30 parallel creates on small hosts."""

from __future__ import annotations

import asyncio
import signal
import uuid as uuidlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.core.agenttasks.models import AgentTaskRow
from mgmt.core.bus import Bus
from mgmt.core.counters import CounterRow
from mgmt.core.db import Database
from mgmt.core.quota import QuotaRow
from mgmt.core.resource import ResourceUuidRow
from mgmt.diag import Echo
from mgmt.network.models import UsedIpRow
from mgmt.vm.models import VmInstanceRow, VmNicRow
from tests.helpers.eventually import eventually
from tests.integration.api.test_identity import ADMIN_PASSWORD, Api, start_apis
from tests.integration.api.test_network import done

GiB = 1 << 30
MiB = 1 << 20
IMAGE_SIZE = 2 * MiB
VMS = "/v1/vm-instances"


@dataclass
class Env:
    admin: Api
    other: Api
    sim: Proc
    nodes: list[Proc]
    http: httpx.AsyncClient
    zone: str
    cluster: str
    l3: str
    l3b: str  # a second L3 network on the same L2
    image: str
    offering: str
    hosts: dict[str, str]

    async def fault(self, host: str, **fault: Any) -> None:
        resp = await self.http.post(f"{self.sim.url}/sim/hosts/{host}/faults", json=fault)
        resp.raise_for_status()

    async def clear_faults(self, host: str) -> None:
        (await self.http.delete(f"{self.sim.url}/sim/hosts/{host}/faults")).raise_for_status()

    def body(self, **more: Any) -> dict[str, Any]:
        return {
            "name": "vm",
            "instanceOfferingUuid": self.offering,
            "imageUuid": self.image,
            "l3NetworkUuids": [self.l3],
            **more,
        }

    async def action(self, vm: str, action: str, api: Api | None = None, **body: Any) -> Any:
        return await (api or self.admin).call("POST", f"{VMS}/{vm}/actions/{action}", json=body)


async def set_config(admin: Api, identity: str, value: Any) -> None:
    await admin.ok("PUT", f"/v1/global-configs/{identity}", json={"value": value})


async def _host(admin: Api, cluster: str, name: str, ip: str, cpu: int, memory: int) -> str:
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


async def make_env(
    cluster: LocalCluster,
    http: httpx.AsyncClient,
    hosts: int,
    memory: int,
    cidr: str,
    agent_timeout: int = 3,
) -> Env:
    apis = await start_apis(
        cluster, ZCLOUD_AGENT_TIMEOUT=str(agent_timeout), ZCLOUD_AGENT_POLL_AFTER="1"
    )
    sim = next(p for p in cluster.procs if p.name == "sim")
    nodes = [p for p in cluster.procs if p.name.startswith("node")]
    admin = await Api.login(http, apis[0], "admin", ADMIN_PASSWORD)
    other = await Api.login(http, apis[1], "admin", ADMIN_PASSWORD)
    # these tests remove a VM with DELETE (test_vm_ops.py tests the other policies)
    await set_config(admin, "vm.deletionPolicy", "Direct")

    async def made(path: str, **body: Any) -> str:
        uuid: str = (await admin.ok("POST", path, json=body))["inventory"]["uuid"]
        return uuid

    zone = await made("/v1/zones", name="vz")
    c = await made("/v1/clusters", name="vc", zoneUuid=zone, hypervisorType="Simulator")
    ps = await made("/v1/primary-storage/local", name="vl", zoneUuid=zone, url="/var/lib/z")
    await admin.ok(
        "POST", f"/v1/primary-storage/{ps}/actions/attach-cluster", json={"clusterUuid": c}
    )
    l2 = await made("/v1/l2-networks/no-vlan", name="vl2", zoneUuid=zone, physicalInterface="e0")
    await admin.ok("POST", f"/v1/l2-networks/{l2}/actions/attach-cluster", json={"clusterUuid": c})
    l3 = await made("/v1/l3-networks", name="vl3", l2NetworkUuid=l2)
    await made("/v1/ip-ranges/by-cidr", name="vr", l3NetworkUuid=l3, networkCidr=cidr)
    l3b = await made("/v1/l3-networks", name="vl3b", l2NetworkUuid=l2)
    await made("/v1/ip-ranges/by-cidr", name="vrb", l3NetworkUuid=l3b, networkCidr="10.99.0.0/29")
    bs = await made(
        "/v1/backup-storage/image-store", name="vbs", url="/zcloud/images", hostname="127.0.0.1"
    )
    image = await made(
        "/v1/images",
        name="vimg",
        url=f"{sim.url}/sim/files/vm.img?size={IMAGE_SIZE}",
        format="qcow2",
        backupStorageUuids=[bs],
    )
    offering = await made("/v1/instance-offerings", name="vo", cpuNum=1, memorySize=GiB)
    made_hosts = {
        f"h{i}": await _host(admin, c, f"h{i}", f"127.0.9.{i}", 4, memory)
        for i in range(1, hosts + 1)
    }
    return Env(admin, other, sim, nodes, http, zone, c, l3, l3b, image, offering, made_hosts)


@pytest.fixture
async def env(cluster: LocalCluster) -> AsyncIterator[Env]:
    async with httpx.AsyncClient(timeout=90) as http:
        yield await make_env(cluster, http, hosts=2, memory=8 * GiB, cidr="10.20.0.0/27")


async def snapshot(db: Database) -> dict[str, Any]:
    """What a VM holds, everywhere: counters, IPs, quotas, rows, UUID claims."""
    async with db.session() as s:
        counters = {
            (r.owner_uuid, r.name): r.available
            for r in (await s.execute(select(CounterRow))).scalars()
        }
        ips = int(await s.scalar(select(func.count()).select_from(UsedIpRow)) or 0)
        quotas = {
            (r.account_uuid, r.name): r.used
            for r in (await s.execute(select(QuotaRow).where(QuotaRow.name.like("vm.%")))).scalars()
        }
        vms = int(await s.scalar(select(func.count()).select_from(VmInstanceRow)) or 0)
        nics = int(await s.scalar(select(func.count()).select_from(VmNicRow)) or 0)
        claims = int(
            await s.scalar(
                select(func.count())
                .select_from(ResourceUuidRow)
                .where(ResourceUuidRow.resource_type == "VmInstance")
            )
            or 0
        )
    return {
        "counters": counters,
        "ips": ips,
        "quotas": {k: v for k, v in quotas.items() if v},
        "vms": vms,
        "nics": nics,
        "claims": claims,
    }


async def _host_inv(env: Env, name: str) -> dict[str, Any]:
    inv: dict[str, Any] = (await env.admin.ok("GET", f"/v1/hosts/{env.hosts[name]}"))["inventory"]
    return inv


async def test_vm_lifecycle_every_action_and_an_illegal_transition(env: Env, db: Database) -> None:
    before = await snapshot(db)
    created = await env.admin.call("POST", VMS, json=env.body(name="vm1"))
    assert created.status_code == 200, created.text
    vm = created.json()["inventory"]
    assert vm["state"] == "Running"
    assert (vm["cpuNum"], vm["memorySize"], vm["hypervisorType"]) == (1, GiB, "Simulator")
    assert vm["hostUuid"] in env.hosts.values() and vm["clusterUuid"] == env.cluster
    assert vm["zoneUuid"] == env.zone and vm["defaultL3NetworkUuid"] == env.l3
    [nic] = vm["vmNics"]
    assert nic["ip"].startswith("10.20.0.") and nic["l3NetworkUuid"] == env.l3
    assert nic["mac"].startswith("fa:") and nic["deviceId"] == 0
    host = next(n for n, u in env.hosts.items() if u == vm["hostUuid"])
    h = await _host_inv(env, host)
    assert h["availableMemoryCapacity"] == 7 * GiB
    during = await snapshot(db)
    assert during["ips"] == before["ips"] + 1
    ps_used = [k for k, v in during["counters"].items() if before["counters"][k] - v == IMAGE_SIZE]
    assert len(ps_used) == 2, during  # the storage's capacity and its share on the host
    # read by the other frontend, queried by state
    got = (await env.other.ok("GET", f"{VMS}/{vm['uuid']}"))["inventory"]
    assert got == vm
    found = await env.other.ok("GET", VMS, params={"q": "state=Running"})
    assert [v["uuid"] for v in found["inventories"]] == [vm["uuid"]]

    uuid = vm["uuid"]
    await _actions(env, vm, host)

    deleted = await env.admin.call("DELETE", f"{VMS}/{uuid}")
    assert deleted.status_code == 200, deleted.text
    assert (await env.admin.call("GET", f"{VMS}/{uuid}")).status_code == 404
    assert await snapshot(db) == before
    sim = (await env.http.get(f"{env.sim.url}/sim/hosts/{vm['hostUuid']}")).json()
    assert uuid not in str(sim)

    await _strategies(env, db, before)


async def _actions(env: Env, vm: dict[str, Any], host: str) -> None:
    uuid = vm["uuid"]
    stopped = (await env.action(uuid, "stop")).json()["inventory"]
    assert (stopped["state"], stopped["hostUuid"], stopped["lastHostUuid"]) == (
        "Stopped",
        None,
        vm["hostUuid"],
    )
    assert (await _host_inv(env, host))["availableMemoryCapacity"] == 8 * GiB
    assert stopped["vmNics"] == vm["vmNics"]  # a stopped VM keeps its IP
    # illegal: a stopped VM cannot be paused; 409 with its state and what it may do
    refused = await env.action(uuid, "pause")
    assert refused.status_code == 409, refused.text
    extra = refused.json()["error"]["extra"]
    assert extra["state"] == "Stopped"
    assert sorted(extra["allowedOperations"]) == ["change-instance-offering", "destroy", "start"]

    started = (await env.action(uuid, "start")).json()["inventory"]
    assert (started["state"], started["hostUuid"]) == ("Running", vm["hostUuid"])
    paused = (await env.action(uuid, "pause")).json()["inventory"]
    assert paused["state"] == "Paused"
    refused = await env.action(uuid, "reboot")
    assert refused.status_code == 409 and refused.json()["error"]["extra"]["state"] == "Paused"
    assert (await env.action(uuid, "resume")).json()["inventory"]["state"] == "Running"
    assert (await env.action(uuid, "reboot")).json()["inventory"]["state"] == "Running"
    cold = (await env.action(uuid, "stop", type="cold")).json()["inventory"]
    assert cold["state"] == "Stopped"
    assert (await env.action(uuid, "start")).json()["inventory"]["state"] == "Running"
    sim = (await env.http.get(f"{env.sim.url}/sim/hosts/{vm['hostUuid']}")).json()
    assert uuid in str(sim)


async def _strategies(env: Env, db: Database, before: dict[str, Any]) -> None:
    # CreateStopped ends Stopped holding no host capacity; JustCreate ends Created holding
    # nothing, and its first start allocates everything; a static IP is honoured
    stopped = await env.admin.ok("POST", VMS, json=env.body(name="s", strategy="CreateStopped"))
    assert stopped["inventory"]["state"] == "Stopped" and stopped["inventory"]["lastHostUuid"]
    just = await env.admin.ok(
        "POST",
        VMS,
        json=env.body(
            name="j",
            strategy="JustCreate",
            hostUuid=env.hosts["h2"],
            systemTags=[f"staticIp::{env.l3}::10.20.0.20"],
        ),
    )
    assert (just["inventory"]["state"], just["inventory"]["vmNics"]) == ("Created", [])
    first = (await env.action(just["inventory"]["uuid"], "start")).json()["inventory"]
    assert first["state"] == "Running" and first["vmNics"][0]["ip"] == "10.20.0.20"
    assert first["hostUuid"] == env.hosts["h2"]  # the create's designated host
    for made in (stopped, just):
        await env.admin.ok("DELETE", f"{VMS}/{made['inventory']['uuid']}")
    assert await snapshot(db) == before


async def test_a_tenant_creates_on_shared_infrastructure_and_quotas_count(
    env: Env, db: Database
) -> None:
    for kind, uuid in (("Image", env.image), ("L3Network", env.l3)):
        share = {"resourceUuid": uuid, "resourceType": kind, "public": True}
        await env.admin.ok("POST", "/v1/resource-shares", json=share)
    account = await env.admin.ok(
        "POST", "/v1/accounts", json={"name": "vt", "password": "vt-pw-123456"}
    )
    tenant = await Api.login(env.http, env.admin.base, "vt", "vt-pw-123456")
    # the offering is not shared: a 400 naming it
    refused = await tenant.call("POST", VMS, json=env.body())
    assert refused.status_code == 400 and "instanceOfferingUuid" in refused.text, refused.text
    made = await tenant.ok(
        "POST", VMS, json=env.body(instanceOfferingUuid=None, cpuNum=2, memorySize=GiB)
    )
    vm = made["inventory"]
    assert vm["state"] == "Running"
    owner = account["inventory"]["uuid"]
    quotas = (await snapshot(db))["quotas"]
    assert quotas == {
        (owner, "vm.totalNum"): 1,
        (owner, "vm.num"): 1,
        (owner, "vm.cpuNum"): 2,
        (owner, "vm.memorySize"): GiB,
    }
    await env.admin.ok(
        "POST",
        f"/v1/accounts/{owner}/actions/update-quota",
        json={"name": "vm.cpuNum", "value": 3},
    )
    over = await tenant.call(
        "POST",
        VMS,
        json=env.body(cpuNum=2, memorySize=GiB, instanceOfferingUuid=None),
    )
    assert over.status_code == 429, over.text
    # another account does not see it, cannot act on it
    await env.admin.ok("POST", "/v1/accounts", json={"name": "vu", "password": "vu-pw-123456"})
    stranger = await Api.login(env.http, env.admin.base, "vu", "vu-pw-123456")
    assert (await stranger.call("GET", f"{VMS}/{vm['uuid']}")).status_code == 404
    assert (await env.action(vm["uuid"], "stop", stranger)).status_code == 404
    assert (await stranger.ok("GET", VMS))["inventories"] == []
    # a query through the NICs finds the VM for its owner and the admin, never for another
    by_ip = {"q": [f"vmNics.ip={vm['vmNics'][0]['ip']}", "state=Running"]}
    found = await tenant.ok("GET", VMS, params=by_ip)
    assert [v["uuid"] for v in found["inventories"]] == [vm["uuid"]]
    assert found["inventories"][0]["vmNics"] == vm["vmNics"]
    assert [v["uuid"] for v in (await env.admin.ok("GET", VMS, params=by_ip))["inventories"]] == [
        vm["uuid"]
    ]
    assert (await stranger.ok("GET", VMS, params=by_ip))["inventories"] == []
    zql = f"query vmInstance where vmNics.ip='{vm['vmNics'][0]['ip']}'"
    assert (await stranger.ok("GET", "/v1/zql", params={"zql": zql}))["inventories"] == []
    # the NICs' own collection is the admin's
    assert (await tenant.call("GET", "/v1/vm-nics")).status_code == 404
    nics = await env.admin.ok("GET", "/v1/vm-nics", params={"q": f"vmInstanceUuid={vm['uuid']}"})
    assert [n["ip"] for n in nics["inventories"]] == [vm["vmNics"][0]["ip"]]
    assert (await env.action(vm["uuid"], "stop", tenant)).json()["inventory"]["state"] == "Stopped"
    await tenant.ok("DELETE", f"{VMS}/{vm['uuid']}")
    assert (await snapshot(db))["quotas"] == {}


FAULTS: list[dict[str, Any]] = [
    {"command": "StartVm", "action": "fail", "error": "no KVM here"},
    {"command": "StartVm", "action": "hang", "times": 1},
    {"command": "StartVm", "action": "drop_callback", "times": 1},
]


async def test_a_fault_at_start_on_host_leaves_nothing_behind(env: Env, db: Database) -> None:
    before = await snapshot(db)
    for fault in FAULTS:
        for host in env.hosts.values():
            await env.clear_faults(host)
            await env.fault(host, **fault)
        resp = await env.admin.call("POST", VMS, json=env.body(name="f"))
        if fault["action"] == "drop_callback" and resp.status_code == 200:
            # the node asked the agent for the task it heard nothing of: it ran, so Running
            assert resp.json()["inventory"]["state"] == "Running"
            await env.admin.ok("DELETE", f"{VMS}/{resp.json()['inventory']['uuid']}")
        else:
            assert resp.status_code == 503, (fault, resp.text)
            if fault["action"] == "fail":
                assert "no KVM here" in resp.text
        assert await snapshot(db) == before, fault
    for host in env.hosts.values():
        await env.clear_faults(host)
    await _nics_and_host(env, db)


async def _nics_and_host(env: Env, db: Database) -> None:
    before = await snapshot(db)
    taken = await env.admin.ok("POST", VMS, json=env.body(name="a"))
    after_one = await snapshot(db)
    # the static IP is the first VM's: allocate-nics fails after allocate-host took room
    ip = taken["inventory"]["vmNics"][0]["ip"]
    clash = await env.admin.call(
        "POST", VMS, json=env.body(name="b", systemTags=[f"staticIp::{env.l3}::{ip}"])
    )
    assert clash.status_code == 409, clash.text
    assert "already in use" in clash.text
    assert await snapshot(db) == after_one
    # the clash on the second NIC: the first NIC's address (taken first) is given back
    second = await env.admin.call(
        "POST",
        VMS,
        json=env.body(
            name="b2", l3NetworkUuids=[env.l3b, env.l3], systemTags=[f"staticIp::{env.l3}::{ip}"]
        ),
    )
    assert second.status_code == 409, second.text
    assert await snapshot(db) == after_one
    # no host has room: refused at allocate-host naming the capacity filter
    huge = await env.admin.call(
        "POST",
        VMS,
        json=env.body(name="c", instanceOfferingUuid=None, cpuNum=1, memorySize=64 * GiB),
    )
    assert huge.status_code == 409 and "capacity" in huge.text, huge.text
    assert await snapshot(db) == after_one
    await env.admin.ok("DELETE", f"{VMS}/{taken['inventory']['uuid']}")
    assert await snapshot(db) == before


async def test_owner_sigkilled_mid_start_vm_ends_running_or_rolled_back(
    env: Env, db: Database, client_bus: Bus
) -> None:
    before = await snapshot(db)
    vm = str(uuidlib.uuid4())
    owner_name = (await client_bus.call(Echo(resourceUuid=vm))).node
    owner = next(n for n in env.nodes if n.name == owner_name)
    for host in env.hosts.values():
        await env.fault(host, command="StartVm", action="delay", seconds=4, times=1)
    creating = asyncio.create_task(
        env.other.call("POST", VMS, json=env.body(name="k", resourceUuid=vm))
    )

    async def starting() -> bool:  # the StartVm task is recorded (and being sent)
        async with db.session() as s:
            found = await s.scalar(
                select(func.count())
                .select_from(AgentTaskRow)
                .where(AgentTaskRow.resource_uuid == vm, AgentTaskRow.command == "StartVm")
            )
        return bool(found)

    await eventually(starting, timeout=30, interval=0.1, message="StartVm sent")
    await asyncio.sleep(0.5)  # the POST has left: the agent is running it
    owner.kill(signal.SIGKILL)
    resp = await creating
    assert resp.status_code in (200, 202, 503), resp.text

    async def settled() -> str | None:
        got = await env.admin.call("GET", f"{VMS}/{vm}")
        if got.status_code == 404:
            return "gone"
        state: str = got.json()["inventory"]["state"]
        return state if state == "Running" else None

    outcome = await eventually(settled, timeout=90, interval=0.5, message="VM settled")
    runs = (await env.http.get(f"{env.sim.url}/sim/runs")).json()
    # StartVm ran once: the node that took the run over re-attached to its task
    assert runs["byPath"].get("/vm/start") == 1, runs
    assert set(runs["byTask"].values()) == {1}, runs
    if outcome == "gone":  # rolled back: the compensation destroyed it on the host
        assert runs["byPath"].get("/vm/destroy", 0) >= 1, runs
    if outcome == "Running":
        await env.admin.ok("DELETE", f"{VMS}/{vm}")
    assert await snapshot(db) == before


async def test_30_parallel_creates_on_small_hosts(cluster: LocalCluster, db: Database) -> None:
    async with httpx.AsyncClient(timeout=120) as http:
        # 3 hosts of 4 GiB keep 1 GiB each: room for 3 VMs of 1 GiB each, 9 in all
        env = await make_env(cluster, http, hosts=3, memory=4 * GiB, cidr="10.30.0.0/26")
        before = await snapshot(db)
        apis = (env.admin, env.other)
        resps = await asyncio.gather(
            *(
                done(apis[i % 2], "POST", VMS, wait=False, json=env.body(name=f"p{i}"))
                for i in range(30)
            )
        )
        ok = [r.json()["inventory"] for r in resps if r.status_code == 200]
        refused = [r for r in resps if r.status_code != 200]
        assert len(ok) == 9, [r.text for r in refused][:3]
        assert all(v["state"] == "Running" for v in ok)
        for r in refused:
            assert r.status_code == 409 and "capacity" in r.text, r.text
        ips = [v["vmNics"][0]["ip"] for v in ok]
        macs = [v["vmNics"][0]["mac"] for v in ok]
        assert len(set(ips)) == 9 and len(set(macs)) == 9
        for name in env.hosts:
            h = await _host_inv(env, name)
            # full: what is left is the memory the host keeps for itself
            assert h["availableMemoryCapacity"] == GiB, h
        await asyncio.gather(*(env.admin.ok("DELETE", f"{VMS}/{v['uuid']}") for v in ok))
        assert await snapshot(db) == before
