"""Garbage in: error replies or 4xx, logged; never a crash or a blocked partition."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.bench.failover import wait_settled
from mgmt.core.bus import Bus, Envelope
from mgmt.core.errors import ZCloudError
from mgmt.core.messages import Reply, Request
from mgmt.diag import Echo, PingAgent
from tests.helpers.eventually import eventually
from tests.integration.conftest import PARTITIONS

CALLBACKS = "/v1/agent/callbacks"


class NobodyHandlesThisReply(Reply):
    pass


class NobodyHandlesThis(Request[NobodyHandlesThisReply]):
    resourceUuid: str


@dataclass
class Setup:
    node: Proc
    api: Proc
    sim: Proc


@pytest.fixture
async def setup(cluster: LocalCluster) -> AsyncIterator[Setup]:
    api = cluster.api("api0").start()
    node = cluster.mgmt("node0", ZCLOUD_CALLBACK_BASE_URL=api.url).start()
    sim = cluster.sim().start()
    for proc in (api, node):
        await proc.wait_ready()
    await sim.wait_ready("/health")
    await wait_settled([node], PARTITIONS)
    yield Setup(node, api, sim)


async def test_bad_callbacks_get_4xx_and_the_frontend_stays_up(
    setup: Setup, client_bus: Bus
) -> None:
    url = setup.api.url + CALLBACKS
    async with httpx.AsyncClient() as client:
        r = await client.post(url, json={"success": True})
        assert r.status_code == 400 and r.json()["error"]["field"] == "X-Task-UUID"
        r = await client.post(url, json={}, headers={"X-Task-UUID": "not-a-uuid"})
        assert r.status_code == 400 and r.json()["error"]["field"] == "X-Task-UUID"
        r = await client.post(url, json={}, headers={"X-Task-UUID": str(uuid.uuid4())})
        assert r.status_code == 404
        r = await client.post(url, content=b"{nope", headers={"X-Task-UUID": str(uuid.uuid4())})
        assert r.status_code == 400 and r.json()["error"]["field"] == "body"
        r = await client.post(url, json=[1, 2], headers={"X-Task-UUID": str(uuid.uuid4())})
        assert r.status_code == 400
        big = b'{"x": "' + b"a" * (2 << 20) + b'"}'
        r = await client.post(url, content=big, headers={"X-Task-UUID": str(uuid.uuid4())})
        assert r.status_code == 413

        # a real pending task: a reply of the wrong shape is refused, the right one accepted
        host = str(uuid.uuid4())
        await client.post(f"{setup.sim.url}/sim/hosts", json={"hosts": [{"uuid": host}]})
        await client.post(
            f"{setup.sim.url}/sim/hosts/{host}/faults",
            json={"command": "PingHost", "action": "drop_callback"},
        )
        pending = await client_bus.call(
            PingAgent(resourceUuid=host, agentUrl=f"{setup.sim.url}/sim/hosts/{host}", wait=False)
        )
        headers = {"X-Task-UUID": pending.taskUuid}

        async def refused_for_its_shape() -> bool:
            # (the ping's flow records its task just after answering: 404 until then)
            r = await client.post(url, json={"success": "maybe"}, headers=headers)
            return r.status_code == 400 and "success" in r.json()["error"]["field"]

        await eventually(refused_for_its_shape, timeout=10)
        r = await client.post(url, json={"success": True, "hostUuid": host}, headers=headers)
        assert r.status_code == 202

        async def duplicate_ignored() -> bool:
            again = await client.post(url, json={"success": True}, headers=headers)
            return again.status_code == 200 and again.json()["status"] == "ignored"

        await eventually(duplicate_ignored, timeout=10)
        assert (await client.get(setup.api.url + "/ready")).status_code == 200
    assert setup.api.alive and setup.node.alive


async def test_poison_messages_are_dead_lettered_and_the_partition_goes_on(
    setup: Setup, client_bus: Bus
) -> None:
    resource = str(uuid.uuid4())
    partition = client_bus.partition_of(resource)
    raw = [
        Envelope(type="NoSuchMessage", body=b"{}", resource_uuid=resource),
        Envelope(type="Echo", body=b'{"resourceUuid": 42, "bogus": true}', resource_uuid=resource),
        Envelope(type="Echo", body=b"\xff\xfe not json", resource_uuid=resource),
        Envelope(
            type="Echo", body=b'{"text": "' + b"a" * (2 << 20) + b'"}', resource_uuid=resource
        ),
    ]
    for env in raw:
        await client_bus.transport.publish(partition, env)
    # the partition keeps working for the same resource
    reply = await client_bus.call(Echo(resourceUuid=resource, text="still here"))
    assert reply.text == "still here"
    # an unknown request type gets a structured error reply, not a timeout
    with pytest.raises(ZCloudError) as info:
        await client_bus.call(NobodyHandlesThis(resourceUuid=resource), timeout=10)
    assert info.value.error.code == "SYS.1003"
    # a handler that raises answers with an error and blocks nothing
    with pytest.raises(ZCloudError) as failed:
        await client_bus.call(Echo(resourceUuid=resource, fail=True))
    assert failed.value.error.code == "SYS.1002"
    assert (await client_bus.call(Echo(resourceUuid=resource, text="after"))).text == "after"

    dead: list[Envelope] = []

    async def all_dead_lettered() -> bool:
        dead.extend(await client_bus.transport.dead_letters(100))
        return len(dead) >= len(raw) + 1  # the raw four and the unknown request

    await eventually(all_dead_lettered, timeout=10)
    assert {d.message_id for d in raw} <= {d.message_id for d in dead}
    assert setup.node.alive
