"""Agent callbacks: any frontend takes them; the resource's current owner finishes the task."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.bench.failover import wait_settled
from mgmt.core.agenttasks import AgentTaskRow
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.diag import Echo, PingAgent
from mgmt.diag.models import DiagAgentResult
from tests.helpers.eventually import eventually
from tests.integration.conftest import PARTITIONS


@dataclass
class Topology:
    nodes: list[Proc]
    apis: list[Proc]
    sim: Proc
    hosts: list[str]

    def agent_url(self, host: str) -> str:
        return f"{self.sim.url}/sim/hosts/{host}"


@pytest.fixture
async def topo(cluster: LocalCluster) -> AsyncIterator[Topology]:
    apis = [cluster.api(f"api{i}").start() for i in range(2)]
    sim = cluster.sim(hosts=0).start()
    # each node's callbacks go to the *other* frontend: never the one "near" it
    nodes = [
        cluster.mgmt(
            f"node{i}",
            ZCLOUD_CALLBACK_BASE_URL=apis[1 - i].url,
            ZCLOUD_AGENT_POLL_AFTER="2",
        ).start()
        for i in range(2)
    ]
    for proc in (*apis, *nodes):
        await proc.wait_ready()
    await sim.wait_ready("/health")
    async with httpx.AsyncClient() as client:
        resp = await client.post(f"{sim.url}/sim/hosts", json={"count": 20})
        hosts = [h["uuid"] for h in resp.json()["hosts"]]
    await wait_settled(nodes, PARTITIONS)
    yield Topology(nodes, apis, sim, hosts)


async def _callbacks_accepted(api: Proc) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(api.url + "/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('zcloud_agent_callbacks_total{status="202"}')
    )


async def _task(db: Database, task_uuid: str) -> AgentTaskRow | None:
    async with db.session() as s:
        return (
            await s.execute(select(AgentTaskRow).where(AgentTaskRow.task_uuid == task_uuid))
        ).scalar_one_or_none()


async def test_callbacks_through_any_frontend_reach_the_owner(
    topo: Topology, client_bus: Bus, db: Database
) -> None:
    replies = await asyncio.gather(
        *(
            client_bus.call(PingAgent(resourceUuid=h, agentUrl=topo.agent_url(h)), timeout=30)
            for h in topo.hosts
        )
    )
    assert {r.status for r in replies} == {"Done"}
    accepted = [await _callbacks_accepted(api) for api in topo.apis]
    assert sum(accepted) == len(topo.hosts)
    assert all(accepted), f"both frontends take callbacks: {accepted}"
    async with db.session() as s:
        rows = (await s.execute(select(DiagAgentResult))).scalars().all()
    assert {r.task_uuid for r in rows} == {r.taskUuid for r in replies}


async def test_callback_for_a_dead_sender_completes_on_the_new_owner(
    topo: Topology, client_bus: Bus, db: Database
) -> None:
    host = topo.hosts[0]
    owner_name = (await client_bus.call(Echo(resourceUuid=host))).node
    owner = next(n for n in topo.nodes if n.name == owner_name)
    survivor = next(n for n in topo.nodes if n is not owner)
    async with httpx.AsyncClient() as client:
        await client.post(
            f"{topo.sim.url}/sim/hosts/{host}/faults",
            json={"command": "PingHost", "action": "delay", "seconds": 2, "times": 1},
        )
    reply = await client_bus.call(
        PingAgent(resourceUuid=host, agentUrl=topo.agent_url(host), wait=False)
    )
    assert reply.status == "Pending"
    # Pending: the ping flow is recorded; kill the owner once it has sent the command
    await eventually(lambda: _task(db, reply.taskUuid), timeout=30, interval=0.05)
    owner.kill(signal.SIGKILL)

    async def done() -> AgentTaskRow | None:
        row = await _task(db, reply.taskUuid)
        return row if row is not None and row.status == "Done" else None

    row = await eventually(done, timeout=30, interval=0.2)
    assert row.sender_node == owner_name
    assert row.completed_by == survivor.name

    async def recorded() -> DiagAgentResult | None:  # the flow's next step, on the survivor
        async with db.session() as s:
            return await s.get(DiagAgentResult, reply.taskUuid)

    result = await eventually(recorded, timeout=30, interval=0.2)
    assert result.completed_by == survivor.name


async def test_lost_callback_is_recovered_by_asking_the_agent(
    topo: Topology, client_bus: Bus, db: Database
) -> None:
    host = topo.hosts[1]
    async with httpx.AsyncClient() as client:
        await client.post(
            f"{topo.sim.url}/sim/hosts/{host}/faults",
            json={"command": "PingHost", "action": "drop_callback", "times": 1},
        )
    reply = await client_bus.call(
        PingAgent(resourceUuid=host, agentUrl=topo.agent_url(host), wait=True), timeout=30
    )
    assert reply.status == "Done"


async def test_silent_agent_times_out_with_a_structured_error(
    topo: Topology, client_bus: Bus, db: Database
) -> None:
    host = topo.hosts[2]
    async with httpx.AsyncClient() as client:
        await client.post(
            f"{topo.sim.url}/sim/hosts/{host}/faults",
            json={"command": "PingHost", "action": "fail", "error": "disk on fire"},
        )
        failed = await client_bus.call(
            PingAgent(resourceUuid=host, agentUrl=topo.agent_url(host)), timeout=30
        )
        assert failed.status == "Failed"
        await client.delete(f"{topo.sim.url}/sim/hosts/{host}/faults")
        await client.post(
            f"{topo.sim.url}/sim/hosts/{host}/faults",
            json={"command": "PingHost", "action": "delay", "seconds": 30},
        )
    reply = await client_bus.call(
        PingAgent(resourceUuid=host, agentUrl=topo.agent_url(host), timeoutSeconds=2),
        timeout=30,
    )
    assert reply.status == "TimedOut"
    row = await _task(db, reply.taskUuid)
    assert row is not None and row.error is not None and "SYS.1102" in row.error
    failed_row = await _task(db, failed.taskUuid)
    assert failed_row is not None and failed_row.error is not None
    assert "disk on fire" in failed_row.error


async def test_unreachable_agent_fails_the_task_at_once(topo: Topology, client_bus: Bus) -> None:
    reply = await client_bus.call(
        PingAgent(resourceUuid=str(uuid.uuid4()), agentUrl="http://127.0.0.1:9"), timeout=30
    )
    assert reply.status == "Failed"
