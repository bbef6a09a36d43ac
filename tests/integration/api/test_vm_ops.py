"""VM operations beyond the lifecycle, through REST (2 frontends, 2 nodes, PostgreSQL,
RabbitMQ, a real simulator agent), on two hosts sharing an NFS primary storage: migrate
(the allocator's choice and a designated host, capacity moved exactly, illegal
transitions, a simulator fault at each step rolled back to exactly where it was, the
owner SIGKILLed mid-migrate)."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mgmt.bench.cluster import LocalCluster
from mgmt.core.agenttasks.models import AgentTaskRow
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.diag import Echo
from tests.helpers.eventually import eventually
from tests.integration.api.test_identity import ADMIN_PASSWORD, Api, start_apis
from tests.integration.api.test_vms import (
    IMAGE_SIZE,
    VMS,
    Env,
    GiB,
    _host,
    set_config,
    snapshot,
)


async def make_ops_env(cluster: LocalCluster, http: httpx.AsyncClient) -> Env:
    """Two 4-CPU 8 GiB hosts in one cluster with an NFS primary storage (a root volume
    every host of the cluster reaches: what a live migration needs)."""
    apis = await start_apis(cluster, ZCLOUD_AGENT_TIMEOUT="3", ZCLOUD_AGENT_POLL_AFTER="1")
    sim = next(p for p in cluster.procs if p.name == "sim")
    nodes = [p for p in cluster.procs if p.name.startswith("node")]
    admin = await Api.login(http, apis[0], "admin", ADMIN_PASSWORD)
    other = await Api.login(http, apis[1], "admin", ADMIN_PASSWORD)
    # DELETE removes a VM at once, but in the deletion policy tests, which set their own
    await set_config(admin, "vm.deletionPolicy", "Direct")

    async def made(path: str, **body: Any) -> str:
        uuid: str = (await admin.ok("POST", path, json=body))["inventory"]["uuid"]
        return uuid

    zone = await made("/v1/zones", name="oz")
    c = await made("/v1/clusters", name="oc", zoneUuid=zone, hypervisorType="Simulator")
    hosts = {f"h{i}": await _host(admin, c, f"h{i}", f"127.0.8.{i}", 4, 8 * GiB) for i in (1, 2)}
    ps = await made("/v1/primary-storage/nfs", name="on", zoneUuid=zone, url="127.0.0.1:/o")
    await admin.ok(
        "POST", f"/v1/primary-storage/{ps}/actions/attach-cluster", json={"clusterUuid": c}
    )
    l2 = await made("/v1/l2-networks/no-vlan", name="ol2", zoneUuid=zone, physicalInterface="e0")
    await admin.ok("POST", f"/v1/l2-networks/{l2}/actions/attach-cluster", json={"clusterUuid": c})
    l3 = await made("/v1/l3-networks", name="ol3", l2NetworkUuid=l2)
    await made("/v1/ip-ranges/by-cidr", name="or", l3NetworkUuid=l3, networkCidr="10.30.0.0/27")
    bs = await made(
        "/v1/backup-storage/image-store", name="obs", url="/zcloud/images", hostname="127.0.0.1"
    )
    image = await made(
        "/v1/images",
        name="oimg",
        url=f"{sim.url}/sim/files/ops.img?size={IMAGE_SIZE}",
        format="qcow2",
        backupStorageUuids=[bs],
    )
    offering = await made("/v1/instance-offerings", name="oo", cpuNum=1, memorySize=GiB)
    return Env(admin, other, sim, nodes, http, zone, c, l3, l3, image, offering, hosts)


@pytest.fixture
async def env(cluster: LocalCluster) -> AsyncIterator[Env]:
    async with httpx.AsyncClient(timeout=90) as http:
        yield await make_ops_env(cluster, http)


async def _memory(env: Env) -> dict[str, int]:
    out = {}
    for name, uuid in env.hosts.items():
        inv = (await env.admin.ok("GET", f"/v1/hosts/{uuid}"))["inventory"]
        out[name] = inv["availableMemoryCapacity"]
    return out


async def _sim_vms(env: Env) -> dict[str, list[str]]:
    out = {}
    for name, uuid in env.hosts.items():
        detail = (await env.http.get(f"{env.sim.url}/sim/hosts/{uuid}")).json()
        out[name] = [v["uuid"] for v in detail["vms"]]
    return out


def _name(env: Env, host_uuid: str) -> str:
    return next(n for n, u in env.hosts.items() if u == host_uuid)


async def _running(env: Env, **more: Any) -> dict[str, Any]:
    vm: dict[str, Any] = (await env.admin.ok("POST", VMS, json=env.body(**more)))["inventory"]
    assert vm["state"] == "Running", vm
    return vm


async def test_migrate_moves_the_vm_and_its_capacity_and_refuses_what_it_must(
    env: Env, db: Database
) -> None:
    before = await snapshot(db)
    vm = await _running(env, name="m1", hostUuid=env.hosts["h1"])
    uuid = vm["uuid"]
    assert await _memory(env) == {"h1": 7 * GiB, "h2": 8 * GiB}
    # the allocator picks: never the current host, so h2
    moved = await env.action(uuid, "migrate")
    assert moved.status_code == 200, moved.text
    inv = moved.json()["inventory"]
    assert (inv["state"], inv["hostUuid"], inv["lastHostUuid"]) == (
        "Running",
        env.hosts["h2"],
        env.hosts["h1"],
    )
    assert inv["vmNics"] == vm["vmNics"]
    assert await _memory(env) == {"h1": 8 * GiB, "h2": 7 * GiB}
    assert await _sim_vms(env) == {"h1": [], "h2": [uuid]}
    # read by the other frontend
    assert (await env.other.ok("GET", f"{VMS}/{uuid}"))["inventory"]["hostUuid"] == env.hosts["h2"]
    # its own host: a 400 naming hostUuid
    same = await env.action(uuid, "migrate", hostUuid=env.hosts["h2"])
    assert same.status_code == 400 and "hostUuid" in same.text, same.text
    # a designated host: back to h1
    back = (await env.action(uuid, "migrate", hostUuid=env.hosts["h1"])).json()["inventory"]
    assert (back["hostUuid"], back["lastHostUuid"]) == (env.hosts["h1"], env.hosts["h2"])
    assert await _memory(env) == {"h1": 7 * GiB, "h2": 8 * GiB}
    # a tenant may not migrate (hosts are the admin's): 403, even its own VM
    await env.admin.ok("POST", "/v1/accounts", json={"name": "mt", "password": "mt-pw-123456"})
    tenant = await Api.login(env.http, env.admin.base, "mt", "mt-pw-123456")
    assert (await env.action(uuid, "migrate", api=tenant)).status_code in (403, 404)
    # illegal: a stopped VM does not migrate; 409 with its state and what it may do
    assert (await env.action(uuid, "stop")).status_code == 200
    refused = await env.action(uuid, "migrate")
    assert refused.status_code == 409, refused.text
    extra = refused.json()["error"]["extra"]
    assert extra["state"] == "Stopped" and "migrate" not in extra["allowedOperations"]
    await env.admin.ok("DELETE", f"{VMS}/{uuid}")
    assert await snapshot(db) == before


MIGRATE_FAULTS: list[dict[str, Any]] = [
    {"command": "MigrateVm", "action": "fail", "error": "no shared storage here"},
    {"command": "MigrateVm", "action": "hang", "times": 1},
]


async def test_a_fault_at_each_migrate_step_leaves_it_running_on_its_source(
    env: Env, db: Database
) -> None:
    vm = await _running(env, name="f1", hostUuid=env.hosts["h1"])
    uuid = vm["uuid"]
    start = await snapshot(db)
    memory = await _memory(env)

    async def unchanged(why: Any) -> None:
        got = (await env.admin.ok("GET", f"{VMS}/{uuid}"))["inventory"]
        assert (got["state"], got["hostUuid"]) == ("Running", env.hosts["h1"]), why
        assert await snapshot(db) == start, why
        assert await _memory(env) == memory, why
        assert await _sim_vms(env) == {"h1": [uuid], "h2": []}, why

    # migrate-on-host: the agent fails it, or never answers (the agent timeout)
    for fault in MIGRATE_FAULTS:
        await env.fault(env.hosts["h1"], **fault)
        resp = await env.action(uuid, "migrate")
        assert resp.status_code == 503, (fault, resp.text)
        if fault["action"] == "fail":
            assert "no shared storage here" in resp.text
        await env.clear_faults(env.hosts["h1"])
        await unchanged(fault)
    # allocate-destination: the only other host has no room (of its 7 GiB for VMs, a
    # 6.5 GiB VM takes the most)
    big = await _running(
        env,
        name="big",
        instanceOfferingUuid=None,
        cpuNum=1,
        memorySize=6 * GiB + GiB // 2,
        hostUuid=env.hosts["h2"],
    )
    start, memory = await snapshot(db), await _memory(env)
    full = await env.action(uuid, "migrate")
    assert full.status_code == 409 and "capacity" in full.text, full.text
    got = (await env.admin.ok("GET", f"{VMS}/{uuid}"))["inventory"]
    assert (got["state"], got["hostUuid"]) == ("Running", env.hosts["h1"])
    assert await snapshot(db) == start and await _memory(env) == memory
    await env.admin.ok("DELETE", f"{VMS}/{big['uuid']}")
    # after all of it, a migrate works
    ok = (await env.action(uuid, "migrate")).json()["inventory"]
    assert ok["hostUuid"] == env.hosts["h2"]
    assert await _sim_vms(env) == {"h1": [], "h2": [uuid]}


async def test_owner_sigkilled_mid_migrate_ends_running_on_one_host_counters_exact(
    env: Env, db: Database, client_bus: Bus
) -> None:
    vm = await _running(env, name="k1", hostUuid=env.hosts["h1"])
    uuid = vm["uuid"]
    owner_name = (await client_bus.call(Echo(resourceUuid=uuid))).node
    owner = next(n for n in env.nodes if n.name == owner_name)
    await env.fault(env.hosts["h1"], command="MigrateVm", action="delay", seconds=4, times=1)
    migrating = asyncio.create_task(env.action(uuid, "migrate", api=env.other))

    async def sent() -> bool:
        async with db.session() as s:
            found = await s.scalar(
                select(func.count())
                .select_from(AgentTaskRow)
                .where(AgentTaskRow.resource_uuid == uuid, AgentTaskRow.command == "MigrateVm")
            )
        return bool(found)

    await eventually(sent, timeout=30, interval=0.1, message="MigrateVm sent")
    await asyncio.sleep(0.5)  # the POST has left: the agent is running it
    owner.kill(signal.SIGKILL)
    resp = await migrating
    assert resp.status_code in (200, 202, 503), resp.text

    async def settled() -> dict[str, Any] | None:
        got: dict[str, Any] = (await env.admin.ok("GET", f"{VMS}/{uuid}"))["inventory"]
        return got if got["state"] == "Running" else None

    inv = await eventually(settled, timeout=90, interval=0.5, message="VM settled")
    where = _name(env, inv["hostUuid"])
    elsewhere = "h2" if where == "h1" else "h1"
    vms = await _sim_vms(env)
    assert (vms[where], vms[elsewhere]) == ([uuid], []), vms
    memory = await _memory(env)
    assert (memory[where], memory[elsewhere]) == (7 * GiB, 8 * GiB), memory
    runs = (await env.http.get(f"{env.sim.url}/sim/runs")).json()
    # each task ran once: the node that took the run over re-attached to the move (and a
    # move that outlived its deadline was moved back, under a task of its own)
    assert set(runs["byTask"].values()) == {1}, runs
    assert runs["byPath"].get("/vm/migrate") in (1, 2), runs
    await env.admin.ok("DELETE", f"{VMS}/{uuid}")
    assert await _memory(env) == {"h1": 8 * GiB, "h2": 8 * GiB}


async def test_change_instance_offering_stopped_only_and_within_quota(
    env: Env, db: Database
) -> None:
    async def offering(name: str, cpu: int, memory: int) -> str:
        body = {"name": name, "cpuNum": cpu, "memorySize": memory}
        made = await env.admin.ok("POST", "/v1/instance-offerings", json=body)
        uuid: str = made["inventory"]["uuid"]
        return uuid

    two, four = await offering("o2", 2, 2 * GiB), await offering("o4", 4, 3 * GiB)
    shared = (
        ("Image", env.image),
        ("L3Network", env.l3),
        ("InstanceOffering", env.offering),
        ("InstanceOffering", two),
    )
    for kind, uuid in shared:
        share = {"resourceUuid": uuid, "resourceType": kind, "public": True}
        await env.admin.ok("POST", "/v1/resource-shares", json=share)
    account = await env.admin.ok(
        "POST", "/v1/accounts", json={"name": "ct", "password": "ct-pw-123456"}
    )
    owner = account["inventory"]["uuid"]
    tenant = await Api.login(env.http, env.admin.base, "ct", "ct-pw-123456")
    vm = (await tenant.ok("POST", VMS, json=env.body(name="c1")))["inventory"]
    uuid = vm["uuid"]
    # Running: refused with the reason, nothing changed
    hot = await env.action(uuid, "change-instance-offering", api=tenant, instanceOfferingUuid=two)
    assert hot.status_code == 409, hot.text
    error = hot.json()["error"]
    assert error["extra"]["state"] == "Running" and "hot-plug" in error["details"], error
    await env.action(uuid, "stop", api=tenant)
    before = await snapshot(db)
    assert before["quotas"][(owner, "vm.cpuNum")] == 1
    # an offering the tenant may not use: 400 naming it
    hidden = await env.action(
        uuid, "change-instance-offering", api=tenant, instanceOfferingUuid=four
    )
    assert hidden.status_code == 400 and "instanceOfferingUuid" in hidden.text, hidden.text
    # over quota: 429, nothing changed
    await env.admin.ok(
        "POST",
        f"/v1/accounts/{owner}/actions/update-quota",
        json={"name": "vm.cpuNum", "value": 1},
    )
    over = await env.action(uuid, "change-instance-offering", api=tenant, instanceOfferingUuid=two)
    assert over.status_code == 429 and "vm.cpuNum" in over.text, over.text
    assert await snapshot(db) == before
    got = (await tenant.ok("GET", f"{VMS}/{uuid}"))["inventory"]
    assert (got["state"], got["cpuNum"], got["instanceOfferingUuid"]) == (
        "Stopped",
        1,
        env.offering,
    )
    await env.admin.ok(
        "POST",
        f"/v1/accounts/{owner}/actions/update-quota",
        json={"name": "vm.cpuNum", "value": 80},
    )
    changed = await env.action(
        uuid, "change-instance-offering", api=tenant, instanceOfferingUuid=two
    )
    assert changed.status_code == 200, changed.text
    inv = changed.json()["inventory"]
    assert (inv["state"], inv["cpuNum"], inv["memorySize"], inv["instanceOfferingUuid"]) == (
        "Stopped",
        2,
        2 * GiB,
        two,
    )
    quotas = (await snapshot(db))["quotas"]
    assert (quotas[(owner, "vm.cpuNum")], quotas[(owner, "vm.memorySize")]) == (2, 2 * GiB)
    # it starts with its new size
    started = (await env.action(uuid, "start", api=tenant)).json()["inventory"]
    assert started["state"] == "Running"
    host = (await env.admin.ok("GET", f"/v1/hosts/{started['hostUuid']}"))["inventory"]
    assert host["availableMemoryCapacity"] == 6 * GiB
    # a Created VM (JustCreate) has no such operation: 409 naming what it may do
    just = await env.admin.ok("POST", VMS, json=env.body(name="j", strategy="JustCreate"))
    refused = await env.action(
        just["inventory"]["uuid"], "change-instance-offering", instanceOfferingUuid=two
    )
    assert refused.status_code == 409, refused.text
    assert sorted(refused.json()["error"]["extra"]["allowedOperations"]) == ["destroy", "start"]
    await tenant.ok("DELETE", f"{VMS}/{uuid}")
    await env.admin.ok("DELETE", f"{VMS}/{just['inventory']['uuid']}")
    assert not any(v for (a, _), v in (await snapshot(db))["quotas"].items() if a == owner)


def _storage_used(snap: dict[str, Any], base: dict[str, Any]) -> int:
    """Bytes of primary storage capacity held now that were free at ``base``."""
    return sum(
        base["counters"][k] - v
        for k, v in snap["counters"].items()
        if k[1] == "primaryStorage.capacity"
    )


async def _state(env: Env, uuid: str) -> str | None:
    got = await env.admin.call("GET", f"{VMS}/{uuid}")
    if got.status_code == 404:
        return None
    state: str = got.json()["inventory"]["state"]
    return state


async def test_delay_policy_destroys_recovers_and_expunges_exactly(env: Env, db: Database) -> None:
    await set_config(env.admin, "vm.deletionPolicy", "Delay")
    await set_config(env.admin, "vm.expungePeriod", 3600)
    base = await snapshot(db)
    vm = await _running(env, name="d1", hostUuid=env.hosts["h1"])
    uuid = vm["uuid"]
    deleted = await env.admin.call("DELETE", f"{VMS}/{uuid}")
    assert deleted.status_code == 200, deleted.text
    got = (await env.admin.ok("GET", f"{VMS}/{uuid}"))["inventory"]
    assert (got["state"], got["hostUuid"], got["vmNics"]) == ("Destroyed", None, [])
    assert got["lastHostUuid"] == env.hosts["h1"]
    destroyed = await snapshot(db)
    # host capacity and the IP back; the root volume's capacity and vm.totalNum kept
    assert await _memory(env) == {"h1": 8 * GiB, "h2": 8 * GiB}
    assert destroyed["ips"] == base["ips"] and destroyed["nics"] == 0
    assert _storage_used(destroyed, base) == IMAGE_SIZE
    admin_quotas = {k[1]: v for k, v in destroyed["quotas"].items()}
    assert admin_quotas == {"vm.totalNum": 1}, destroyed["quotas"]
    assert await _sim_vms(env) == {"h1": [], "h2": []}
    # a Destroyed VM: only recover, expunge (and destroy, a no-op)
    refused = await env.action(uuid, "start")
    assert refused.status_code == 409, refused.text
    extra = refused.json()["error"]["extra"]
    assert extra["state"] == "Destroyed"
    assert sorted(extra["allowedOperations"]) == ["destroy", "expunge", "recover"]
    assert (await env.admin.call("DELETE", f"{VMS}/{uuid}")).status_code == 200
    assert await snapshot(db) == destroyed
    # recover: Stopped with a NIC again, its quotas counted again; it starts
    recovered = (await env.action(uuid, "recover")).json()["inventory"]
    assert (recovered["state"], len(recovered["vmNics"])) == ("Stopped", 1), recovered
    back = await snapshot(db)
    assert back["ips"] == base["ips"] + 1
    assert {k[1]: v for k, v in back["quotas"].items()} == {
        "vm.totalNum": 1,
        "vm.num": 1,
        "vm.cpuNum": 1,
        "vm.memorySize": GiB,
    }
    assert (await env.action(uuid, "start")).json()["inventory"]["state"] == "Running"
    assert (await env.admin.call("DELETE", f"{VMS}/{uuid}")).status_code == 200
    # a Running VM is not expunged: 409 naming its state
    other = await _running(env, name="d2")
    early = await env.action(other["uuid"], "expunge")
    assert early.status_code == 409 and early.json()["error"]["extra"]["state"] == "Running"
    await env.admin.ok("DELETE", f"{VMS}/{other['uuid']}")
    # expunge: everything given back, the row gone
    for gone in (uuid, other["uuid"]):
        expunged = await env.action(gone, "expunge")
        assert expunged.status_code == 200, expunged.text
        assert await _state(env, gone) is None
    assert await snapshot(db) == base


async def test_recover_fails_cleanly_never_waits_and_the_tracker_expunges(
    env: Env, db: Database
) -> None:
    await set_config(env.admin, "vm.deletionPolicy", "Never")
    await set_config(env.admin, "vm.expungeInterval", 1)
    await set_config(env.admin, "vm.expungePeriod", 1)
    base = await snapshot(db)
    ip = "10.30.0.20"
    first = await _running(env, name="s1", systemTags=[f"staticIp::{env.l3}::{ip}"])
    await env.admin.ok("DELETE", f"{VMS}/{first['uuid']}")
    assert await _state(env, first["uuid"]) == "Destroyed"
    # its address went back: another VM takes it; recovering the first then fails
    # cleanly (409, still Destroyed, nothing taken)
    second = await _running(env, name="s2", systemTags=[f"staticIp::{env.l3}::{ip}"])
    before = await snapshot(db)
    clash = await env.action(first["uuid"], "recover")
    assert clash.status_code == 409 and "already in use" in clash.text, clash.text
    assert await _state(env, first["uuid"]) == "Destroyed"
    assert await snapshot(db) == before
    # Never: Destroyed until an explicit expunge
    await env.admin.ok("DELETE", f"{VMS}/{second['uuid']}")
    assert (await env.action(second["uuid"], "expunge")).status_code == 200
    assert await _state(env, second["uuid"]) is None
    # Delay with a 1 s period: the tracker of the VM's partition owner expunges it
    await set_config(env.admin, "vm.deletionPolicy", "Delay")

    async def expunged() -> bool:
        return await _state(env, first["uuid"]) is None

    await eventually(expunged, timeout=60, interval=0.5, message="the tracker expunged it")
    assert await snapshot(db) == base


async def test_vm_total_num_counts_destroyed_vms(env: Env, db: Database) -> None:
    await set_config(env.admin, "vm.deletionPolicy", "Delay")
    for kind, uuid in (
        ("Image", env.image),
        ("L3Network", env.l3),
        ("InstanceOffering", env.offering),
    ):
        share = {"resourceUuid": uuid, "resourceType": kind, "public": True}
        await env.admin.ok("POST", "/v1/resource-shares", json=share)
    account = await env.admin.ok(
        "POST", "/v1/accounts", json={"name": "qt", "password": "qt-pw-123456"}
    )
    owner = account["inventory"]["uuid"]
    tenant = await Api.login(env.http, env.admin.base, "qt", "qt-pw-123456")
    await env.admin.ok(
        "POST",
        f"/v1/accounts/{owner}/actions/update-quota",
        json={"name": "vm.totalNum", "value": 1},
    )
    vm = (await tenant.ok("POST", VMS, json=env.body(name="q1")))["inventory"]
    await tenant.ok("DELETE", f"{VMS}/{vm['uuid']}")
    quotas = {k[1]: v for k, v in (await snapshot(db))["quotas"].items() if k[0] == owner}
    assert quotas == {"vm.totalNum": 1}, quotas
    over = await tenant.call("POST", VMS, json=env.body(name="q2"))
    assert over.status_code == 429 and "vm.totalNum" in over.text, over.text
    assert (await env.action(vm["uuid"], "expunge", api=tenant)).status_code == 200
    again = await tenant.ok("POST", VMS, json=env.body(name="q3"))
    assert again["inventory"]["state"] == "Running"


async def test_hostname_tag_is_validated_passed_to_start_vm_and_queryable(env: Env) -> None:
    bad = await env.admin.call(
        "POST", VMS, json=env.body(name="h", systemTags=["hostname::not_a host!"])
    )
    assert bad.status_code == 400 and "hostname::" in bad.text, bad.text
    vm = await _running(env, name="h1", hostUuid=env.hosts["h1"], systemTags=["hostname::web1"])
    detail = (await env.http.get(f"{env.sim.url}/sim/hosts/{env.hosts['h1']}")).json()
    assert [v["hostname"] for v in detail["vms"] if v["uuid"] == vm["uuid"]] == ["web1"]
    found = await env.other.ok("GET", VMS, params={"q": "__systemTag__=hostname::web1"})
    assert [v["uuid"] for v in found["inventories"]] == [vm["uuid"]]
    # a later start passes it again (read from the tag)
    await env.action(vm["uuid"], "stop")
    await env.action(vm["uuid"], "start")
    detail = (await env.http.get(f"{env.sim.url}/sim/hosts/{env.hosts['h1']}")).json()
    assert [v["hostname"] for v in detail["vms"] if v["uuid"] == vm["uuid"]] == ["web1"]
    # AddSystemTag on a VM (the API guide's example) works too
    other = await _running(env, name="h2")
    tag = {"resourceUuid": other["uuid"], "resourceType": "VmInstance", "tag": "hostname::web2"}
    assert (await env.admin.call("POST", "/v1/system-tags", json=tag)).status_code == 200


async def test_host_maintenance_migrates_what_moves_and_stops_what_cannot(
    env: Env, db: Database
) -> None:
    h1, h2 = env.hosts["h1"], env.hosts["h2"]
    moving = await _running(env, name="mv", hostUuid=h1)
    paused = await _running(env, name="pz", hostUuid=h1)
    assert (await env.action(paused["uuid"], "pause")).status_code == 200

    async def state_event(host: str, event: str) -> httpx.Response:
        path = f"/v1/hosts/{host}/actions/change-state"
        return await env.admin.call("POST", path, json={"stateEvent": event})

    resp = await state_event(h1, "maintain")
    assert resp.status_code == 200, resp.text
    assert resp.json()["inventory"]["state"] == "Maintenance"
    moved = (await env.admin.ok("GET", f"{VMS}/{moving['uuid']}"))["inventory"]
    assert (moved["state"], moved["hostUuid"], moved["lastHostUuid"]) == ("Running", h2, h1)
    stopped = (await env.admin.ok("GET", f"{VMS}/{paused['uuid']}"))["inventory"]
    assert (stopped["state"], stopped["hostUuid"]) == ("Stopped", None)
    assert await _memory(env) == {"h1": 8 * GiB, "h2": 7 * GiB}
    assert await _sim_vms(env) == {"h1": [paused["uuid"]], "h2": [moving["uuid"]]}
    # no new placement on a host in maintenance
    new = await _running(env, name="nw")
    assert new["hostUuid"] == h2
    designated = await env.admin.call("POST", VMS, json=env.body(name="x", hostUuid=h1))
    assert designated.status_code == 409 and "host-state" in designated.text, designated.text
    # illegal: a host in maintenance is not disabled; 409 naming what it allows
    refused = await state_event(h1, "disable")
    assert refused.status_code == 409, refused.text
    extra = refused.json()["error"]["extra"]
    assert extra["state"] == "Maintenance" and "enable" in extra["allowedOperations"]
    # enable ends it: the host takes VMs again
    assert (await state_event(h1, "enable")).json()["inventory"]["state"] == "Enabled"
    back = await env.action(moving["uuid"], "migrate", hostUuid=h1)
    assert back.status_code == 200 and back.json()["inventory"]["hostUuid"] == h1, back.text


async def _stop_replies(db: Database, vm: str) -> list[dict[str, Any]]:
    async with db.session() as s:
        rows = await s.execute(
            select(AgentTaskRow.reply)
            .where(AgentTaskRow.resource_uuid == vm, AgentTaskRow.command == "StopVm")
            .order_by(AgentTaskRow.created_at)
        )
        return [json.loads(r) for r in rows.scalars() if r]


async def test_a_graceful_stop_the_guest_ignores_powers_it_off_after_the_grace_period(
    env: Env, db: Database
) -> None:
    await set_config(env.admin, "vm.stopGracePeriod", 2)
    await asyncio.sleep(1.5)  # the change event reaches every node within a second
    try:
        vm = await _running(env, name="grace1")
        uuid, host = vm["uuid"], vm["hostUuid"]
        # a guest without ACPI: the grace period passes, then it is powered off
        await env.fault(host, command="StopVm", action="ignore_shutdown", times=1)
        stopped = (await env.action(uuid, "stop")).json()["inventory"]
        assert stopped["state"] == "Stopped", stopped
        (forced,) = await _stop_replies(db, uuid)
        assert forced["forced"] is True and forced["success"] is True, forced
        # a guest that shuts down: a graceful stop, not forced
        assert (await env.action(uuid, "start")).json()["inventory"]["state"] == "Running"
        assert (await env.action(uuid, "stop")).json()["inventory"]["state"] == "Stopped"
        assert [r["forced"] for r in await _stop_replies(db, uuid)] == [True, False]
        sim_vm = (await env.http.get(f"{env.sim.url}/sim/hosts/{host}")).json()
        assert all(v["uuid"] != uuid or v["powerState"] == "Stopped" for v in sim_vm["vms"])
        await env.admin.ok("DELETE", f"{VMS}/{uuid}")
    finally:
        await set_config(env.admin, "vm.stopGracePeriod", 60)
