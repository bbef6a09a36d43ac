"""Hosts through REST (2 frontends, 2 nodes, PostgreSQL, RabbitMQ, a real simulator agent):
add (the connect handshake), reconnect, change-state, unique managementIp, a simulator
fault at every step of the handshake, a SIGKILLed owner mid-add, exact capacity counters,
the cascade from cluster and zone, admin-only tenancy."""

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
from mgmt.core.api import ApiJobRow
from mgmt.core.bus import Bus
from mgmt.core.counters import CounterRow, ReservationRow
from mgmt.core.db import Database
from mgmt.core.resource import ResourceUuidRow
from mgmt.diag import Echo
from mgmt.host.models import HostRow
from tests.helpers.eventually import eventually
from tests.integration.api.test_identity import ADMIN_PASSWORD, Api, start_apis

GiB = 1 << 30
#: short, so a hung agent fails its step in seconds (the same code path as 300 s)
AGENT_TIMEOUT = "3"


@dataclass
class Env:
    admin: Api
    other: Api  # the admin through the other frontend
    sim: Proc
    nodes: list[Proc]
    http: httpx.AsyncClient
    cluster_uuid: str
    zone_uuid: str

    async def fault(self, host: str, **fault: Any) -> None:
        resp = await self.http.post(f"{self.sim.url}/sim/hosts/{host}/faults", json=fault)
        resp.raise_for_status()

    async def runs(self, host: str) -> dict[str, int]:
        resp = await self.http.get(f"{self.sim.url}/sim/hosts/{host}/runs")
        resp.raise_for_status()
        by_path: dict[str, int] = resp.json()["byPath"]
        # the owner's pings are background traffic, not part of what a test counts
        by_path.pop("/host/heartbeat", None)
        return by_path

    async def add(self, ip: str, **body: Any) -> httpx.Response:
        return await self.admin.call(
            "POST",
            "/v1/hosts",
            json={"clusterUuid": self.cluster_uuid, "name": f"h-{ip}", "managementIp": ip, **body},
        )


@pytest.fixture
async def env(cluster: LocalCluster) -> AsyncIterator[Env]:
    apis = await start_apis(
        cluster, ZCLOUD_AGENT_TIMEOUT=AGENT_TIMEOUT, ZCLOUD_AGENT_POLL_AFTER="1"
    )
    sim = next(p for p in cluster.procs if p.name == "sim")
    nodes = [p for p in cluster.procs if p.name.startswith("node")]
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, apis[0], "admin", ADMIN_PASSWORD)
        other = await Api.login(http, apis[1], "admin", ADMIN_PASSWORD)
        zone = (await admin.ok("POST", "/v1/zones", json={"name": "hz"}))["inventory"]
        made = await admin.ok(
            "POST",
            "/v1/clusters",
            json={"name": "hc", "zoneUuid": zone["uuid"], "hypervisorType": "Simulator"},
        )
        yield Env(admin, other, sim, nodes, http, made["inventory"]["uuid"], zone["uuid"])


async def _counters(db: Database, owner: str) -> dict[str, tuple[int, int]]:
    async with db.session() as s:
        rows = await s.execute(select(CounterRow).where(CounterRow.owner_uuid == owner))
        return {r.name: (r.total, r.available) for r in rows.scalars()}


async def _left_behind(db: Database, host: str) -> dict[str, int]:
    """Everything an add could leave: the row, counters, reservations, the UUID claim."""
    async with db.session() as s:
        return {
            "host": await s.scalar(select(func.count()).where(HostRow.uuid == host)) or 0,
            "counters": await s.scalar(select(func.count()).where(CounterRow.owner_uuid == host))
            or 0,
            "reservations": await s.scalar(
                select(func.count()).where(ReservationRow.owner_uuid == host)
            )
            or 0,
            "claim": await s.scalar(select(func.count()).where(ResourceUuidRow.uuid == host)) or 0,
        }


NOTHING = {"host": 0, "counters": 0, "reservations": 0, "claim": 0}


async def test_add_reconnect_change_state_with_exact_counters_and_no_secret_kept(
    env: Env, db: Database
) -> None:
    secret = "ssh-pw-never-kept-1"
    resp = await env.add(
        "127.0.1.1", cpuCapacity=16, memoryCapacity=64 * GiB, password=secret, sshPort=2222
    )
    assert resp.status_code == 200, resp.text
    host = resp.json()["inventory"]
    assert host["status"] == "Connected" and host["state"] == "Enabled"
    assert host["zoneUuid"] == env.zone_uuid and host["hypervisorType"] == "Simulator"
    assert (host["cpuNum"], host["totalCpuCapacity"], host["availableCpuCapacity"]) == (16, 16, 16)
    assert host["totalMemoryCapacity"] == host["availableMemoryCapacity"] == 64 * GiB
    assert host["architecture"] == "x86_64" and host["cpuSpeedMhz"] > 0
    assert await _counters(db, host["uuid"]) == {
        "host.cpu": (16, 16),
        "host.memory": (64 * GiB, 64 * GiB),
    }
    # the handshake ran each command once, on the simulator's URL (the IP is only a name)
    assert await env.runs(host["uuid"]) == {
        "/host/connect": 1,
        "/host/facts": 1,
        "/vm/states": 1,
    }
    # the secret: not in the reply, the job rows or the host row (a salted hash is)
    assert secret not in resp.text
    async with db.session() as s:
        jobs = (await s.execute(select(ApiJobRow))).scalars().all()
        row = await s.get(HostRow, host["uuid"])
    assert jobs and not any(secret in j.message + (j.result or "") + (j.error or "") for j in jobs)
    assert row is not None and (row.password_hash or "").startswith("scrypt$")
    assert secret not in str(row.password_hash)
    got = await env.other.ok("GET", f"/v1/hosts/{host['uuid']}")
    assert got["inventory"] == host
    listed = await env.other.ok("GET", "/v1/hosts", params={"q": "cluster.name=hc"})
    assert [h["uuid"] for h in listed["inventories"]] == [host["uuid"]]

    # a second host under the same managementIp: 409 naming it, nothing made
    taken = str(uuidlib.uuid4())
    dup = await env.add("127.0.1.1", resourceUuid=taken)
    assert dup.status_code == 409, dup.text
    assert dup.json()["error"]["extra"]["field"] == "managementIp"
    assert "127.0.1.1" in dup.json()["error"]["details"]
    assert await _left_behind(db, taken) == NOTHING

    again = await env.other.ok("POST", f"/v1/hosts/{host['uuid']}/actions/reconnect", json={})
    assert again["inventory"]["status"] == "Connected"
    assert again["inventory"]["availableCpuCapacity"] == 16
    assert (await env.runs(host["uuid"]))["/host/facts"] == 2

    path = f"/v1/hosts/{host['uuid']}/actions/change-state"
    off = await env.admin.ok("POST", path, json={"stateEvent": "disable"})
    assert off["inventory"]["state"] == "Disabled"
    off = await env.admin.ok("POST", path, json={"stateEvent": "disable"})  # idempotent
    assert off["inventory"]["state"] == "Disabled"
    on = await env.other.ok("POST", path, json={"stateEvent": "enable"})
    assert on["inventory"]["state"] == "Enabled"
    bad = await env.admin.call("POST", path, json={"stateEvent": "explode"})
    assert bad.status_code == 400 and "stateEvent" in bad.text, bad.text
    # a host without VMs goes to Maintenance at once (tests/integration/api/test_vm_ops.py
    # has one with VMs); enable ends it
    kept = await env.admin.ok("POST", path, json={"stateEvent": "maintain"})
    assert kept["inventory"]["state"] == "Maintenance"
    on = await env.admin.ok("POST", path, json={"stateEvent": "enable"})
    assert on["inventory"]["state"] == "Enabled"

    await _failed_reconnect_is_disconnected_then_mended(env, db, host["uuid"])


async def _failed_reconnect_is_disconnected_then_mended(env: Env, db: Database, uuid: str) -> None:
    # a reconnect that fails leaves it Disconnected, held by nothing; the next one mends it
    await env.fault(uuid, command="HostFacts", action="fail", error="disk on fire", times=1)
    failed = await env.admin.call("POST", f"/v1/hosts/{uuid}/actions/reconnect", json={})
    assert failed.status_code == 503, failed.text
    assert "disk on fire" in failed.text
    down = (await env.admin.ok("GET", f"/v1/hosts/{uuid}"))["inventory"]
    assert down["status"] == "Disconnected"
    mended = await env.admin.ok("POST", f"/v1/hosts/{uuid}/actions/reconnect", json={})
    assert mended["inventory"]["status"] == "Connected"
    async with db.session() as s:
        row = await s.get(HostRow, uuid)
    assert row is not None and row.op_holder is None


async def test_hosts_are_admin_only(env: Env) -> None:
    await env.admin.ok("POST", "/v1/accounts", json={"name": "ht", "password": "ht-pw-123456"})
    tenant = await Api.login(env.http, env.admin.base, "ht", "ht-pw-123456")
    resp = await tenant.call(
        "POST",
        "/v1/hosts",
        json={"clusterUuid": env.cluster_uuid, "name": "t", "managementIp": "127.0.9.9"},
    )
    assert resp.status_code == 403, resp.text
    # the collection is not there for a tenant (as for any admin-only read)
    assert (await tenant.call("GET", "/v1/hosts")).status_code == 404


@pytest.mark.parametrize(
    ("command", "action"),
    [
        ("ConnectHost", "fail"),
        ("ConnectHost", "hang"),
        ("HostFacts", "fail"),
        ("HostFacts", "hang"),
        ("GetVmStates", "fail"),
        ("GetVmStates", "hang"),
    ],
)
async def test_a_fault_at_a_handshake_step_fails_the_add_and_leaves_nothing(
    env: Env, db: Database, command: str, action: str
) -> None:
    host, ip = str(uuidlib.uuid4()), "127.0.2.1"
    reason = f"broken {command}"
    # armed before the host exists: the simulator makes it on the first connect
    # a hang outlasts both attempts (agent timeout 3 s each) and ends before teardown
    await env.fault(host, command=command, action=action, error=reason, seconds=10)
    resp = await env.add(ip, resourceUuid=host)
    assert resp.status_code == 503, resp.text
    err = resp.text
    if action == "fail":
        assert reason in err, err
    else:  # no answer: the agent timeout ends it, naming the command and the host
        assert "SYS.110" in err and host in err, err
    assert command in err or "Connect" in err, err
    assert await _left_behind(db, host) == NOTHING
    assert (await env.admin.call("GET", f"/v1/hosts/{host}")).status_code == 404
    # nothing held: the same IP and UUID are free (the fault was for that host only)
    await env.http.delete(f"{env.sim.url}/sim/hosts/{host}/faults")
    ok = await env.add(ip, resourceUuid=host)
    assert ok.status_code == 200, ok.text
    assert ok.json()["inventory"]["status"] == "Connected"


async def test_a_dropped_or_repeated_callback_is_recovered_once(env: Env, db: Database) -> None:
    dropped, twice = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    # the node asks the agent for a task whose callback never came (AGENT_POLL_AFTER)
    await env.fault(dropped, command="HostFacts", action="drop_callback", times=1)
    await env.fault(twice, command="GetVmStates", action="duplicate_callback", times=1)
    for host, ip in ((dropped, "127.0.3.1"), (twice, "127.0.3.2")):
        resp = await env.add(ip, resourceUuid=host, cpuCapacity=4, memoryCapacity=8 * GiB)
        assert resp.status_code == 200, resp.text
        assert resp.json()["inventory"]["status"] == "Connected"
        assert await _counters(db, host) == {"host.cpu": (4, 4), "host.memory": (8 * GiB,) * 2}
        assert await env.runs(host) == {"/host/connect": 1, "/host/facts": 1, "/vm/states": 1}


async def test_owner_sigkilled_mid_add_ends_connected_never_stuck(
    env: Env, db: Database, client_bus: Bus
) -> None:
    host = str(uuidlib.uuid4())
    owner_name = (await client_bus.call(Echo(resourceUuid=host))).node
    owner = next(n for n in env.nodes if n.name == owner_name)
    await env.fault(host, command="HostFacts", action="delay", seconds=2, times=1)
    body = {"clusterUuid": env.cluster_uuid, "name": "hk", "managementIp": "127.0.4.1"}
    adding = asyncio.create_task(
        env.other.call("POST", "/v1/hosts", json={**body, "resourceUuid": host})
    )

    async def facts_sent() -> bool:
        resp = await env.http.get(f"{env.sim.url}/sim/hosts/{host}/runs")
        return resp.status_code == 200 and resp.json()["byPath"].get("/host/facts") == 1

    await eventually(facts_sent, timeout=30, message="HostFacts reached the agent")
    owner.kill(signal.SIGKILL)
    resp = await adding
    assert resp.status_code in (200, 202), resp.text

    async def settled() -> dict[str, Any] | None:
        got = await env.admin.call("GET", f"/v1/hosts/{host}")
        inv: dict[str, Any] = got.json().get("inventory", {})
        return inv if inv.get("status") == "Connected" else None

    inv = await eventually(settled, timeout=90, interval=0.2, message="host Connected")
    assert inv["availableCpuCapacity"] == inv["totalCpuCapacity"] > 0
    assert await env.runs(host) == {"/host/connect": 1, "/host/facts": 1, "/vm/states": 1}
    async with db.session() as s:
        row = await s.get(HostRow, host)
    assert row is not None and row.op_holder is None


async def test_deleting_the_cluster_or_zone_takes_hosts_and_counters(
    env: Env, db: Database
) -> None:
    first = (await env.add("127.0.5.1")).json()["inventory"]["uuid"]
    await env.admin.ok("DELETE", f"/v1/clusters/{env.cluster_uuid}")
    assert await _left_behind(db, first) == NOTHING

    cluster = await env.admin.ok(
        "POST",
        "/v1/clusters",
        json={"name": "hc2", "zoneUuid": env.zone_uuid, "hypervisorType": "Simulator"},
    )
    env.cluster_uuid = cluster["inventory"]["uuid"]
    second = (await env.add("127.0.5.2")).json()["inventory"]["uuid"]
    assert set(await _counters(db, second)) == {"host.cpu", "host.memory"}
    await env.admin.ok("DELETE", f"/v1/zones/{env.zone_uuid}")
    assert await _left_behind(db, second) == NOTHING
    # a KVM cluster has no backend installed yet: refused, naming the cluster
    zone = (await env.admin.ok("POST", "/v1/zones", json={"name": "kz"}))["inventory"]
    kvm = await env.admin.ok(
        "POST",
        "/v1/clusters",
        json={"name": "k", "zoneUuid": zone["uuid"], "hypervisorType": "KVM"},
    )
    env.cluster_uuid = kvm["inventory"]["uuid"]
    refused = await env.add("127.0.5.3")
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["extra"]["field"] == "clusterUuid"


async def _bridges(env: Env, host: str) -> dict[str, dict[str, Any]]:
    resp = await env.http.get(f"{env.sim.url}/sim/hosts/{host}")
    resp.raise_for_status()
    bridges: dict[str, dict[str, Any]] = resp.json()["bridges"]
    return bridges


async def test_l2_networks_are_realized_on_every_host_of_their_clusters(
    env: Env, db: Database
) -> None:
    first, later, refused = (str(uuidlib.uuid4()) for _ in range(3))
    assert (await env.add("127.0.4.1", resourceUuid=first)).status_code == 200
    zone = {"zoneUuid": env.zone_uuid}
    novlan = await env.admin.ok(
        "POST", "/v1/l2-networks/no-vlan", json={**zone, "name": "n", "physicalInterface": "eth0"}
    )
    vlan = await env.admin.ok(
        "POST",
        "/v1/l2-networks/vlan",
        json={**zone, "name": "v", "physicalInterface": "eth1", "vlan": 100},
    )
    pool = await env.admin.ok(
        "POST",
        "/v1/l2-networks/vxlan-pool",
        json={**zone, "name": "p", "vniRanges": [{"startVni": 7000, "endVni": 7009}]},
    )
    pool_uuid = pool["inventory"]["uuid"]
    vx = await env.admin.ok(
        "POST", "/v1/l2-networks/vxlan", json={**zone, "name": "x", "poolUuid": pool_uuid}
    )
    vni = vx["inventory"]["vni"]

    def attach(l2: str, **extra: Any) -> Any:
        return env.admin.call(
            "POST",
            f"/v1/l2-networks/{l2}/actions/attach-cluster",
            json={"clusterUuid": env.cluster_uuid, **extra},
        )

    for l2, extra in (
        (novlan["inventory"]["uuid"], {}),
        (vlan["inventory"]["uuid"], {}),
        (pool_uuid, {"vtepCidr": "10.9.0.0/24"}),
    ):
        resp = await attach(l2, **extra)
        assert resp.status_code == 200, resp.text
    wanted = {"br_eth0", "br_eth1_100", f"br_vx_{vni}"}
    assert set(await _bridges(env, first)) == wanted
    assert (await _bridges(env, first))[f"br_vx_{vni}"]["vtepCidr"] == "10.9.0.0/24"
    assert (await _bridges(env, first))["br_eth1_100"]["vlan"] == 100

    # a host added later gets every bridge of its cluster while it connects; a Vxlan
    # network created in an attached pool reaches every host at once
    assert (await env.add("127.0.4.2", resourceUuid=later)).status_code == 200
    assert set(await _bridges(env, later)) == wanted
    vx2 = await env.admin.ok(
        "POST", "/v1/l2-networks/vxlan", json={**zone, "name": "x2", "poolUuid": pool_uuid}
    )
    wanted.add(f"br_vx_{vx2['inventory']['vni']}")
    for host in (first, later):
        assert set(await _bridges(env, host)) == wanted

    # an agent that refuses: the attach is a 409 naming the host; attaching again retries
    eth2 = await env.admin.ok(
        "POST", "/v1/l2-networks/no-vlan", json={**zone, "name": "e2", "physicalInterface": "eth2"}
    )
    await env.fault(first, command="RealizeL2Network", action="fail", error="no eth2 here")
    failed = await attach(eth2["inventory"]["uuid"])
    assert failed.status_code == 409 and first in failed.text, failed.text
    assert "br_eth2" in await _bridges(env, later)
    await env.http.delete(f"{env.sim.url}/sim/hosts/{first}/faults")
    assert (await attach(eth2["inventory"]["uuid"])).status_code == 200
    assert "br_eth2" in await _bridges(env, first)

    # detach: the bridge leaves every host of the cluster
    gone = await env.admin.call(
        "POST",
        f"/v1/l2-networks/{novlan['inventory']['uuid']}/actions/detach-cluster",
        json={"clusterUuid": env.cluster_uuid},
    )
    assert gone.status_code == 200, gone.text
    for host in (first, later):
        assert "br_eth0" not in await _bridges(env, host)

    # a host whose agent cannot set up its cluster's networks is not added
    await env.fault(refused, command="RealizeL2Network", action="fail", error="bridge broken")
    resp = await env.add("127.0.4.3", resourceUuid=refused)
    assert resp.status_code == 503 and "bridge broken" in resp.text, resp.text
    assert await _left_behind(db, refused) == NOTHING


async def _status(env: Env, host: str) -> str:
    got = await env.admin.ok("GET", f"/v1/hosts/{host}")
    status: str = got["inventory"]["status"]
    return status


async def test_a_host_that_stops_answering_is_disconnected_then_reconnected_by_its_owner(
    env: Env,
) -> None:
    for name, value in (("ping.interval", 1), ("ping.maxFailure", 2), ("ping.timeout", 2)):
        await env.admin.ok("PUT", f"/v1/global-configs/host.{name}", json={"value": value})
    host = str(uuidlib.uuid4())
    assert (await env.add("127.0.6.1", resourceUuid=host)).status_code == 200

    async def status_is(wanted: str) -> bool:
        return await _status(env, host) == wanted

    async def round_trip(why: str) -> None:
        # a host that stops answering is Disconnected after the misses; answering again,
        # it is reconnected: the whole handshake runs again (facts read anew)
        facts_before = (await env.runs(host))["/host/facts"]
        await env.fault(host, command="HeartbeatHost", action="fail", error="gone")
        await eventually(lambda: status_is("Disconnected"), timeout=60, message=why)
        await env.http.delete(f"{env.sim.url}/sim/hosts/{host}/faults")
        await eventually(lambda: status_is("Connected"), timeout=60, message="reconnected")
        assert (await env.runs(host))["/host/facts"] == facts_before + 1

    await round_trip("Disconnected by the pings")
    # the owner SIGKILLed: the surviving node owns every partition and pings the host
    env.nodes[0].kill(signal.SIGKILL)
    await round_trip("Disconnected by the surviving node")

    # a reconnect that fails (HostFacts fails both attempts) leaves the host Disconnected;
    # the next ping that is answered tries again, and that one connects it
    facts_before = (await env.runs(host))["/host/facts"]
    await env.fault(host, command="HostFacts", action="fail", error="facts broken", times=2)
    await env.fault(host, command="HeartbeatHost", action="fail", error="gone", times=3)
    await eventually(lambda: status_is("Disconnected"), timeout=60, message="Disconnected")
    await eventually(lambda: status_is("Connected"), timeout=90, message="reconnected at last")
    assert (await env.runs(host))["/host/facts"] == facts_before + 3

    # the agent restarts and forgets the host: the owner reconnects it at once, and the
    # simulated host is made again with the capacity it had
    had = (await env.admin.ok("GET", f"/v1/hosts/{host}"))["inventory"]
    assert (await env.http.delete(f"{env.sim.url}/sim/hosts/{host}")).status_code == 204

    async def made_again() -> dict[str, Any] | None:
        got = await env.http.get(f"{env.sim.url}/sim/hosts/{host}")
        return got.json() if got.status_code == 200 else None

    again = await eventually(made_again, timeout=60, message="host made again by a reconnect")
    assert (again["cpuNum"], again["memoryBytes"]) == (
        had["totalCpuCapacity"],
        had["totalMemoryCapacity"],
    )
    await eventually(lambda: status_is("Connected"), timeout=60, message="Connected again")
