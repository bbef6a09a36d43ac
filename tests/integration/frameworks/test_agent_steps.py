"""Durable agent steps and cascades with side effects, on real processes.

Two ``zcloud mgmt`` nodes, an API frontend taking the agents' callbacks, and a simulator
agent process; the simulator's run counts (``/sim/hosts/{uuid}/runs``) say how many times a
command really ran.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.bench.failover import wait_settled
from mgmt.core.agenttasks import AgentTaskRow
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.core.flow import FlowRunRow
from mgmt.diag import CreateDiagResource, DeleteDiagResource, Echo, RunDiagVmFlow
from mgmt.diag.models import DiagResource
from tests.helpers.eventually import eventually
from tests.integration.api.test_identity import Api
from tests.integration.conftest import PARTITIONS

ADMIN_PASSWORD = "admin-pw-agent-steps"


@dataclass
class Topology:
    nodes: list[Proc]
    api: Proc
    sim: Proc
    hosts: list[str]
    http: httpx.AsyncClient

    def agent_url(self, host: str) -> str:
        return f"{self.sim.url}/sim/hosts/{host}"

    async def runs(self, host: str) -> dict[str, Any]:
        resp = await self.http.get(f"{self.sim.url}/sim/hosts/{host}/runs")
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body

    async def sim_host(self, host: str) -> dict[str, Any]:
        body: dict[str, Any] = (await self.http.get(self.agent_url(host))).json()
        return body

    async def fault(self, host: str, **fault: Any) -> None:
        resp = await self.http.post(f"{self.agent_url(host)}/faults", json=fault)
        resp.raise_for_status()

    async def clear_faults(self, host: str) -> None:
        (await self.http.delete(f"{self.agent_url(host)}/faults")).raise_for_status()


@pytest.fixture
async def topo(cluster: LocalCluster) -> AsyncIterator[Topology]:
    env = {"ZCLOUD_ADMIN_PASSWORD": ADMIN_PASSWORD}
    api = cluster.api("api0", **env).start()
    sim = cluster.sim(hosts=0).start()
    nodes = [
        cluster.mgmt(f"node{i}", ZCLOUD_CALLBACK_BASE_URL=api.url, **env).start() for i in range(2)
    ]
    for proc in (api, *nodes):
        await proc.wait_ready()
    await sim.wait_ready("/health")
    async with httpx.AsyncClient(timeout=30) as http:
        resp = await http.post(f"{sim.url}/sim/hosts", json={"count": 3})
        hosts = [h["uuid"] for h in resp.json()["hosts"]]
        await wait_settled(nodes, PARTITIONS)
        yield Topology(nodes, api, sim, hosts, http)


async def _task_rows(db: Database, resource_uuid: str) -> list[AgentTaskRow]:
    async with db.session() as s:
        rows = await s.execute(
            select(AgentTaskRow).where(AgentTaskRow.resource_uuid == resource_uuid)
        )
        return list(rows.scalars())


async def test_agent_step_taken_over_after_sigkill_reattaches_and_runs_the_command_once(
    topo: Topology, client_bus: Bus, db: Database
) -> None:
    host, vm = topo.hosts[0], str(uuid.uuid4())
    owner_name = (await client_bus.call(Echo(resourceUuid=vm))).node
    owner = next(n for n in topo.nodes if n.name == owner_name)
    survivor = next(n for n in topo.nodes if n is not owner)
    # the reply is held back, so the owner dies after sending and before the reply
    await topo.fault(host, command="StartVm", action="delay", seconds=5, times=1)
    call = asyncio.create_task(
        client_bus.call(
            RunDiagVmFlow(resourceUuid=vm, hostUuid=host, agentUrl=topo.agent_url(host)),
            timeout=120,
        )
    )

    async def started() -> bool:
        return bool((await topo.runs(host))["byPath"].get("/vm/start") == 1)

    await eventually(started, timeout=30, interval=0.05, message="StartVm reached the agent")
    owner.kill(signal.SIGKILL)

    reply = await call  # redelivered to the survivor, which joins the run it took over
    assert reply.state == "Succeeded", reply.error
    assert reply.node == survivor.name
    assert reply.powerState == "Running"
    runs = await topo.runs(host)
    assert runs["byPath"] == {"/vm/start": 1}
    assert list(runs["byTask"].values()) == [1]
    (task,) = await _task_rows(db, vm)
    assert task.status == "Done"
    assert task.sender_node == owner.name
    assert runs["byTask"] == {task.task_uuid: 1}
    async with db.session() as s:
        run = (
            await s.execute(select(FlowRunRow).where(FlowRunRow.resource_uuid == vm))
        ).scalar_one()
    assert run.state == "Succeeded" and run.epoch >= 2  # taken over, then finished
    vms = (await topo.sim_host(host))["vms"]
    assert [(v["uuid"], v["powerState"]) for v in vms] == [(vm, "Running")]


async def test_failing_step_rollback_sends_the_compensating_command_once(
    topo: Topology, client_bus: Bus, db: Database
) -> None:
    host, vm = topo.hosts[1], str(uuid.uuid4())
    before = await topo.sim_host(host)
    reply = await client_bus.call(
        RunDiagVmFlow(
            resourceUuid=vm, hostUuid=host, agentUrl=topo.agent_url(host), failAfterStart=True
        ),
        timeout=60,
    )
    assert reply.state == "RolledBack"
    assert reply.error is not None and "confirm asked to fail" in reply.error
    runs = await topo.runs(host)
    assert runs["byPath"] == {"/vm/start": 1, "/vm/destroy": 1}
    tasks = await _task_rows(db, vm)
    assert sorted(t.command for t in tasks) == ["DestroyVm", "StartVm"]
    assert runs["byTask"] == {t.task_uuid: 1 for t in tasks}
    after = await topo.sim_host(host)  # the invariant: capacity back where it was
    assert after["vms"] == [] and after["cpuUsed"] == before["cpuUsed"]
    assert after["memoryUsed"] == before["memoryUsed"]


async def test_failed_cascade_cleanup_goes_to_the_gc_queue_visible_in_the_api_until_done(
    topo: Topology, client_bus: Bus, db: Database
) -> None:
    host = topo.hosts[2]
    ids = {"zone": str(uuid.uuid4()), "cluster": str(uuid.uuid4()), "host": host}
    ids["vm"] = str(uuid.uuid4())
    started = await client_bus.call(
        RunDiagVmFlow(resourceUuid=ids["vm"], hostUuid=host, agentUrl=topo.agent_url(host)),
        timeout=60,
    )
    assert started.state == "Succeeded"
    parents = {"cluster": "zone", "host": "cluster", "vm": "host"}
    for key in ("zone", "cluster", "host", "vm"):
        await client_bus.call(
            CreateDiagResource(
                resourceUuid=ids[key],
                type=f"Diag{key.capitalize()}",
                parentUuid=ids[parents[key]] if key in parents else None,
                agentUrl=topo.agent_url(host) if key == "vm" else None,
            )
        )
    await topo.fault(host, command="DestroyVm", action="fail", error="host disk full")

    deleted = await client_bus.call(
        DeleteDiagResource(resourceUuid=ids["zone"], type="DiagZone"), timeout=60
    )
    assert deleted.deleted == ["DiagVm", "DiagHost", "DiagCluster", "DiagZone"]
    async with db.session() as s:
        left = await s.scalar(select(func.count()).where(DiagResource.uuid.in_(list(ids.values()))))
    assert left == 0  # the rows went; the clean-up is the GC queue's now

    admin = await Api.login(topo.http, topo.api.url, "admin", ADMIN_PASSWORD)

    async def gc_job(**want: Any) -> dict[str, Any] | None:
        resp = await admin.call("GET", "/v1/gc-jobs", params={"q": f"resourceUuid={ids['zone']}"})
        assert resp.status_code == 200, resp.text
        jobs = resp.json()["inventories"]
        assert len(jobs) == 1, jobs  # one job, never dropped, never duplicated
        job: dict[str, Any] = jobs[0]
        return job if all(check(job[k]) for k, check in want.items()) else None

    job = await eventually(
        lambda: gc_job(attempts=lambda n: n >= 2), timeout=60, interval=0.2, message="retried"
    )
    assert job["state"] == "Pending" and job["kind"] == "flow"
    assert job["flowName"] == "DiagVmRelease"
    assert "SYS.1100" in job["lastError"] and "host disk full" in job["lastError"]
    assert [v["uuid"] for v in (await topo.sim_host(host))["vms"]] == [ids["vm"]]
    tried = (await topo.runs(host))["byPath"]["/vm/destroy"]
    assert tried >= 3  # the release itself, then at least two GC attempts

    await topo.clear_faults(host)
    done = await eventually(
        lambda: gc_job(state=lambda s: s == "Done"), timeout=60, interval=0.2, message="done"
    )
    assert done["doneAt"] is not None
    assert (await topo.sim_host(host))["vms"] == []
    runs = await topo.runs(host)
    destroys = [t for t in await _task_rows(db, ids["zone"]) if t.command == "DestroyVm"]
    assert len(destroys) == runs["byPath"]["/vm/destroy"]  # one task per attempt …
    assert all(runs["byTask"][t.task_uuid] == 1 for t in destroys)  # … each run once
    assert [t.status for t in destroys].count("Done") == 1

    # admin only: a caller without a session is refused
    anonymous = await topo.http.get(f"{topo.api.url}/v1/gc-jobs")
    assert anonymous.status_code == 401


@pytest.fixture
async def short_deadlines(cluster: LocalCluster) -> AsyncIterator[Topology]:
    """The topology with 2 s agent task deadlines: a delayed command outlives its task."""
    env = {"ZCLOUD_ADMIN_PASSWORD": ADMIN_PASSWORD}
    fast = {"ZCLOUD_AGENT_TIMEOUT": "2", "ZCLOUD_AGENT_POLL_AFTER": "1"}
    api = cluster.api("api0", **env).start()
    sim = cluster.sim(hosts=1).start()
    node = cluster.mgmt("node0", ZCLOUD_CALLBACK_BASE_URL=api.url, **env, **fast).start()
    for proc in (api, node):
        await proc.wait_ready()
    await sim.wait_ready("/health")
    async with httpx.AsyncClient(timeout=30) as http:
        hosts = [h["uuid"] for h in (await http.get(f"{sim.url}/sim/hosts")).json()["hosts"]]
        await wait_settled([node], PARTITIONS)
        yield Topology([node], api, sim, hosts, http)


async def test_an_undo_waits_for_the_timed_out_command_it_undoes(
    short_deadlines: Topology, client_bus: Bus, db: Database
) -> None:
    """Each ``StartVm`` attempt outlives its 2 s deadline and only then runs on the agent:
    the rollback undoes the failed step too, after the last start has really run — so the
    host ends with no VM, not with one started after its undo."""
    topo = short_deadlines
    host, vm = topo.hosts[0], str(uuid.uuid4())
    before = await topo.sim_host(host)
    await topo.fault(host, command="StartVm", action="delay", seconds=4, times=3)
    reply = await client_bus.call(
        RunDiagVmFlow(resourceUuid=vm, hostUuid=host, agentUrl=topo.agent_url(host)),
        timeout=120,
    )
    assert reply.state == "RolledBack", reply.error
    assert reply.error is not None and "SYS.1102" in reply.error  # the deadline
    runs = await topo.runs(host)
    assert runs["byPath"] == {"/vm/start": 3, "/vm/destroy": 1}, runs
    after = await topo.sim_host(host)
    assert after["vms"] == [], after["vms"]
    assert (after["cpuUsed"], after["memoryUsed"]) == (before["cpuUsed"], before["memoryUsed"])
    tasks = {t.command: t for t in await _task_rows(db, vm)}
    assert tasks["DestroyVm"].status == "Done"
