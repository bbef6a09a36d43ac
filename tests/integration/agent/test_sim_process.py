"""The simulator as a real process: 1,000 hosts over real HTTP, callbacks to a real receiver."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from mgmt.bench.cluster import LocalCluster, Proc, free_port
from mgmt.server import HttpServer
from tests.helpers.eventually import eventually

HOSTS = 1000
GiB = 1 << 30


class Receiver:
    """A callback receiver on a real socket, recording what arrives."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []
        self.app = FastAPI()

        @self.app.post("/cb")
        async def cb(request: Request) -> dict[str, str]:
            self.calls.append((request.headers["X-Task-UUID"], await request.json()))
            return {"status": "ok"}

    def by_task(self) -> Counter[str]:
        return Counter(t for t, _ in self.calls)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver()
    port = free_port()
    server = HttpServer(rec.app, "127.0.0.1", port)
    await server.start()
    yield rec, f"http://127.0.0.1:{port}/cb"
    await server.stop()


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Proc]:
    cluster = LocalCluster("unused", "unused", "unused", tmp_path)
    proc = cluster.sim(hosts=HOSTS).start()
    await proc.wait_ready("/health")
    yield proc
    await cluster.stop_all()


async def test_a_thousand_hosts_each_start_a_vm(sim: Proc, receiver: tuple[Receiver, str]) -> None:
    rec, callback = receiver
    hosts = (await sim.get_json("/sim/hosts"))["hosts"]
    assert isinstance(hosts, list) and len(hosts) == HOSTS
    limit = asyncio.Semaphore(50)
    tasks: dict[str, str] = {}

    async def one(client: httpx.AsyncClient, host: str) -> None:
        async with limit:
            base = f"{sim.url}/sim/hosts/{host}"
            r = await client.post(f"{base}/host/connect", json={"hostUuid": host})
            assert r.status_code == 200 and r.json()["hostUuid"] == host
            task = str(uuid.uuid4())
            tasks[task] = host
            r = await client.post(
                f"{base}/vm/start",
                json={"vmUuid": f"vm-{host}", "cpuNum": 2, "memoryBytes": GiB},
                headers={"X-Task-UUID": task, "X-Callback-URL": callback},
            )
            assert r.status_code == 202

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(one(client, h["uuid"]) for h in hosts))
    await eventually(lambda: len(rec.calls) >= HOSTS, timeout=60)
    await asyncio.sleep(0.5)
    counts = rec.by_task()
    assert set(counts) == set(tasks) and set(counts.values()) == {1}, "each callback exactly once"
    assert all(body["success"] for _, body in rec.calls)
    assert all(body["vmUuid"] == f"vm-{tasks[t]}" for t, body in rec.calls)


async def test_faults_over_real_http(sim: Proc, receiver: tuple[Receiver, str]) -> None:
    rec, callback = receiver
    host = (await sim.get_json("/sim/hosts"))["hosts"][0]["uuid"]  # type: ignore[index]
    base = f"{sim.url}/sim/hosts/{host}"

    def headers() -> dict[str, str]:
        return {"X-Task-UUID": str(uuid.uuid4()), "X-Callback-URL": callback}

    async with httpx.AsyncClient(timeout=10) as client:
        # delay: the reply comes, later
        await client.post(
            f"{base}/faults",
            json={"command": "PingHost", "action": "delay", "seconds": 1, "times": 1},
        )
        h = headers()
        assert (
            await client.post(f"{base}/host/ping", json={"hostUuid": host}, headers=h)
        ).status_code == 202
        await asyncio.sleep(0.3)
        assert h["X-Task-UUID"] not in rec.by_task()
        await eventually(lambda: h["X-Task-UUID"] in rec.by_task(), timeout=5)
        # drop_callback: no callback, but the result can be asked for
        await client.post(
            f"{base}/faults", json={"command": "PingHost", "action": "drop_callback", "times": 1}
        )
        h = headers()
        await client.post(f"{base}/host/ping", json={"hostUuid": host}, headers=h)

        async def done() -> bool:
            s = (await client.get(f"{base}/tasks/{h['X-Task-UUID']}")).json()
            return bool(s["state"] == "Done" and s["reply"]["success"])

        await eventually(done, timeout=5)
        assert h["X-Task-UUID"] not in rec.by_task()
        # silent: the host does not answer at all
        await client.post(
            f"{base}/faults", json={"command": "*", "action": "silent", "seconds": 5, "times": 1}
        )
        with pytest.raises(httpx.ReadTimeout):
            await client.post(f"{base}/host/echo", json={}, timeout=0.5)
        # crash: 503 until recovered
        await client.post(f"{base}/faults", json={"action": "crash"})
        assert (await client.post(f"{base}/host/echo", json={})).status_code == 503
        assert (await client.post(f"{base}/recover")).status_code == 200
        assert (await client.post(f"{base}/host/echo", json={})).status_code == 200


async def test_process_crash_exits_137(sim: Proc) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.HTTPError):
            await client.post(f"{sim.url}/sim/crash", timeout=5)
    assert await sim.wait_exit(10) == 137
    sim.kill(signal.SIGKILL)
