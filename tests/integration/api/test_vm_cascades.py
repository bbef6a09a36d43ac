"""Deleting where VMs run, through REST (2 frontends, 2 nodes, PostgreSQL, RabbitMQ, a real
simulator agent): a zone, cluster, host, primary storage or L3 network with VMs on it.
Permissive: a 409 naming the VMs, nothing changed. Enforcing: the VMs are destroyed on
their hosts and removed, host and primary storage capacity, IPs and quotas exact; a
destroy on a Disconnected host goes to the GC queue, is seen in /v1/gc-jobs and retried
until it succeeds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mgmt.bench.cluster import LocalCluster
from mgmt.core.db import Database
from tests.helpers.eventually import eventually
from tests.integration.api.test_vms import VMS, Env, GiB, make_env, snapshot

HOST_MEMORY = 8 * GiB


@pytest.fixture
async def env(cluster: LocalCluster) -> AsyncIterator[Env]:
    async with httpx.AsyncClient(timeout=90) as http:
        yield await make_env(cluster, http, hosts=2, memory=HOST_MEMORY, cidr="10.60.0.0/27")


async def _create(env: Env, name: str, host: str, **more: Any) -> dict[str, Any]:
    made = await env.admin.ok("POST", VMS, json=env.body(name=name, hostUuid=host, **more))
    inv: dict[str, Any] = made["inventory"]
    return inv


async def _ps(env: Env) -> str:
    [ps] = (await env.admin.ok("GET", "/v1/primary-storage"))["inventories"]
    return str(ps["uuid"])


async def _sim_vms(env: Env, host: str) -> list[str]:
    got = (await env.http.get(f"{env.sim.url}/sim/hosts/{host}")).json()
    return [v["uuid"] for v in got["vms"]]


async def _gone(env: Env, *vms: str) -> None:
    for vm in vms:
        assert (await env.admin.call("GET", f"{VMS}/{vm}")).status_code == 404, vm


async def _no_drift(env: Env, owners: list[str]) -> None:
    for owner in owners:
        got = await env.admin.ok("POST", f"/v1/counters/{owner}/actions/recalculate", json={})
        assert {c["drift"] for c in got["inventories"]} <= {0}, got


async def test_permissive_deletes_are_vetoed_naming_the_vms(env: Env, db: Database) -> None:
    h1, h2 = env.hosts["h1"], env.hosts["h2"]
    a = await _create(env, "va", h1)
    b = await _create(env, "vb", h2, l3NetworkUuids=[env.l3b])
    before = await snapshot(db)
    ps = await _ps(env)
    cases = {
        f"/v1/zones/{env.zone}": [a, b],
        f"/v1/clusters/{env.cluster}": [a, b],
        f"/v1/hosts/{h1}": [a],
        f"/v1/primary-storage/{ps}": [a, b],
        f"/v1/l3-networks/{env.l3}": [a],
        f"/v1/l3-networks/{env.l3b}": [b],
    }
    for path, holders in cases.items():
        refused = await env.admin.call("DELETE", f"{path}?deleteMode=Permissive")
        assert refused.status_code == 409, (path, refused.text)
        body = refused.json()["error"]
        assert body["code"] == "CASCADE.1001" and body["extra"]["type"] == "VmInstance", body
        for vm in holders:
            assert vm["uuid"] in refused.text and vm["name"] in refused.text, refused.text
        assert await snapshot(db) == before, path
    for vm in (a, b):
        await env.admin.ok("DELETE", f"{VMS}/{vm['uuid']}")


async def test_enforcing_l3_host_and_primary_storage_take_their_vms(env: Env, db: Database) -> None:
    h1, h2 = env.hosts["h1"], env.hosts["h2"]
    ps = await _ps(env)
    empty = await snapshot(db)
    # an L3 network: the VMs whose default network it is are destroyed and removed
    on_l3b = await _create(env, "l3b", h2, l3NetworkUuids=[env.l3b])
    await env.admin.ok("DELETE", f"/v1/l3-networks/{env.l3b}?deleteMode=Enforcing")
    await _gone(env, on_l3b["uuid"])
    assert on_l3b["uuid"] not in await _sim_vms(env, h2)
    assert await snapshot(db) == empty

    # a Disconnected host whose agent cannot destroy: the VM's rows go, the destroy is a
    # GC job retried until the host lets it
    for name, value in (("ping.interval", 1), ("ping.maxFailure", 2), ("ping.timeout", 2)):
        await env.admin.ok("PUT", f"/v1/global-configs/host.{name}", json={"value": value})
    on_h1 = await _create(env, "h1vm", h1)
    stopped = await _create(env, "h2stopped", h2, strategy="CreateStopped")
    await env.fault(h1, command="HeartbeatHost", action="fail", error="gone")
    await env.fault(h1, command="DestroyVm", action="fail", error="host unreachable")

    async def unknown() -> bool:
        got = await env.admin.ok("GET", f"{VMS}/{on_h1['uuid']}")
        return bool(got["inventory"]["state"] == "Unknown")

    await eventually(unknown, timeout=60, interval=0.2, message="host Disconnected")
    await env.admin.ok("DELETE", f"/v1/hosts/{h1}?deleteMode=Enforcing")
    await _gone(env, on_h1["uuid"])

    async def gc_job(state: str) -> dict[str, Any] | None:
        jobs = (await env.admin.ok("GET", "/v1/gc-jobs", params={"q": f"resourceUuid={h1}"}))[
            "inventories"
        ]
        assert len(jobs) == 1, jobs
        job: dict[str, Any] = jobs[0]
        return job if job["state"] == state and job["attempts"] >= 1 else None

    job = await eventually(lambda: gc_job("Pending"), timeout=60, interval=0.2, message="queued")
    assert job["flowName"] == "DestroyVmForDelete" and "host unreachable" in job["lastError"]
    assert on_h1["uuid"] in await _sim_vms(env, h1)
    await env.clear_faults(h1)
    await eventually(lambda: gc_job("Done"), timeout=90, interval=0.2, message="retried")
    assert on_h1["uuid"] not in await _sim_vms(env, h1)
    await _no_drift(env, [h2, ps])

    # the primary storage: the stopped VM whose root volume is on it, and a running one
    running = await _create(env, "h2run", h2)
    await env.admin.ok("DELETE", f"/v1/primary-storage/{ps}?deleteMode=Enforcing")
    await _gone(env, stopped["uuid"], running["uuid"])
    assert await _sim_vms(env, h2) == []
    left = await snapshot(db)
    assert (left["vms"], left["nics"], left["claims"], left["quotas"]) == (0, 0, 0, {})
    assert left["ips"] == empty["ips"]
    free = (await env.admin.ok("GET", f"/v1/hosts/{h2}"))["inventory"]["availableMemoryCapacity"]
    assert free == HOST_MEMORY
    await _no_drift(env, [h2])


async def test_enforcing_cluster_then_zone_take_their_vms(env: Env, db: Database) -> None:
    h1, h2 = env.hosts["h1"], env.hosts["h2"]
    vms = [await _create(env, f"c{i}", h) for i, h in enumerate((h1, h2, h2))]
    # a second cluster in the zone, with a host and a VM of its own
    c2 = (
        await env.admin.ok(
            "POST",
            "/v1/clusters",
            json={"name": "vc2", "zoneUuid": env.zone, "hypervisorType": "Simulator"},
        )
    )["inventory"]["uuid"]
    ps = await _ps(env)
    await env.admin.ok(
        "POST", f"/v1/primary-storage/{ps}/actions/attach-cluster", json={"clusterUuid": c2}
    )
    [l2] = (await env.admin.ok("GET", "/v1/l2-networks"))["inventories"]
    await env.admin.ok(
        "POST", f"/v1/l2-networks/{l2['uuid']}/actions/attach-cluster", json={"clusterUuid": c2}
    )
    body = {"clusterUuid": c2, "name": "h3", "managementIp": "127.0.9.30"}
    h3 = (
        await env.admin.ok(
            "POST", "/v1/hosts", json={**body, "cpuCapacity": 4, "memoryCapacity": HOST_MEMORY}
        )
    )["inventory"]["uuid"]
    other = await _create(env, "c3", h3)

    await env.admin.ok("DELETE", f"/v1/clusters/{env.cluster}?deleteMode=Enforcing")
    await _gone(env, *(v["uuid"] for v in vms))
    assert await _sim_vms(env, h1) == [] and await _sim_vms(env, h2) == []
    left = await snapshot(db)
    assert (left["vms"], left["nics"], left["ips"]) == (1, 1, 1)
    await _no_drift(env, [h3, ps])

    await env.admin.ok("DELETE", f"/v1/zones/{env.zone}?deleteMode=Enforcing")
    await _gone(env, other["uuid"])
    assert await _sim_vms(env, h3) == []
    left = await snapshot(db)
    assert (left["vms"], left["nics"], left["ips"], left["claims"]) == (0, 0, 0, 0)
    assert left["quotas"] == {}
    assert not {o for o, _ in left["counters"]} & {h1, h2, h3, ps}, left["counters"]
