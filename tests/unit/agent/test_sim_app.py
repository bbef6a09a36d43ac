"""The simulator over ASGI (no sockets): validation, dedupe, capacity, fault bookkeeping."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from agent.protocol import TASK_STATE_HEADER
from agent.sim.app import create_app
from agent.sim.settings import SimSettings

GiB = 1 << 30


@pytest.fixture
async def sim() -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(SimSettings(callback_retry_seconds=0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        yield app, client
    await app.state.endpoint.close()


def task_headers() -> dict[str, str]:
    # a callback URL nobody listens on: these tests read results from /tasks instead
    return {"X-Task-UUID": str(uuid.uuid4()), "X-Callback-URL": "http://127.0.0.1:9/cb"}


async def make_host(client: httpx.AsyncClient, cpu: int = 4, mem: int = 8 * GiB) -> str:
    resp = await client.post("/sim/hosts", json={"hosts": [{"cpuNum": cpu, "memoryBytes": mem}]})
    return str(resp.json()["hosts"][0]["uuid"])


async def run(client: httpx.AsyncClient, host: str, path: str, body: dict[str, object]) -> dict:  # type: ignore[type-arg]
    headers = task_headers()
    resp = await client.post(f"/sim/hosts/{host}{path}", json=body, headers=headers)
    assert resp.status_code == 202, resp.text
    task = headers["X-Task-UUID"]

    async def done() -> dict | None:  # type: ignore[type-arg]
        status = (await client.get(f"/sim/hosts/{host}/tasks/{task}")).json()
        return status["reply"] if status["state"] == "Done" else None

    for _ in range(200):
        if (reply := await done()) is not None:
            return reply
        await asyncio.sleep(0.01)
    raise AssertionError("task never finished")


async def test_validation_names_what_is_wrong(sim: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = sim
    host = await make_host(client)
    r = await client.post(f"/sim/hosts/{host}/vm/start", json={"vmUuid": "v"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "X-Task-UUID"
    r = await client.post(
        f"/sim/hosts/{host}/vm/start",
        json={"vmUuid": "v"},
        headers={"X-Task-UUID": str(uuid.uuid4())},
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "X-Callback-URL"
    r = await client.post(
        f"/sim/hosts/{host}/vm/start", json={"vmUuid": "v"}, headers=task_headers()
    )
    assert r.status_code == 400 and "cpuNum" in r.json()["error"]["field"]
    r = await client.post(
        f"/sim/hosts/{host}/vm/start", content=b"x" * (2 << 20), headers=task_headers()
    )
    assert r.status_code == 413
    assert (await client.post(f"/sim/hosts/{host}/no/such", json={})).status_code == 404
    assert (await client.post("/sim/hosts/nope/host/ping", json={})).status_code == 404


async def test_capacity_is_exact_under_racing_starts(
    sim: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = sim
    host = await make_host(client, cpu=2, mem=4 * GiB)  # vCPUs over-commit; memory does not
    replies = await asyncio.gather(
        *(
            run(client, host, "/vm/start", {"vmUuid": f"vm{i}", "cpuNum": 1, "memoryBytes": GiB})
            for i in range(6)
        )
    )
    ok = [r for r in replies if r["success"]]
    assert len(ok) == 4
    assert {r["errorCode"] for r in replies if not r["success"]} == {"CAPACITY"}
    detail = (await client.get(f"/sim/hosts/{host}")).json()
    assert (detail["cpuUsed"], detail["memoryUsed"]) == (4, 4 * GiB)
    started = [r["vmUuid"] for r in ok]
    again = await run(
        client, host, "/vm/start", {"vmUuid": started[0], "cpuNum": 1, "memoryBytes": GiB}
    )
    assert again["success"], "starting a running VM is idempotent"
    await run(client, host, "/vm/stop", {"vmUuid": started[0]})
    await run(client, host, "/vm/destroy", {"vmUuid": started[1]})
    assert (await run(client, host, "/vm/destroy", {"vmUuid": "never-existed"}))["success"]
    detail = (await client.get(f"/sim/hosts/{host}")).json()
    assert (detail["cpuUsed"], detail["memoryUsed"]) == (2, 2 * GiB)
    bad = await run(client, host, "/vm/pause", {"vmUuid": started[0]})
    assert bad["errorCode"] == "INVALID_STATE"


async def test_a_repeated_task_uuid_runs_once(sim: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = sim
    host = await make_host(client)
    headers = task_headers()
    body = {"vmUuid": "once", "cpuNum": 1, "memoryBytes": GiB}
    first = await client.post(f"/sim/hosts/{host}/vm/start", json=body, headers=headers)
    assert first.status_code == 202
    await asyncio.sleep(0.05)
    await client.post(f"/sim/hosts/{host}/vm/stop", json={"vmUuid": "once"}, headers=task_headers())
    await asyncio.sleep(0.05)
    repeat = await client.post(f"/sim/hosts/{host}/vm/start", json=body, headers=headers)
    assert repeat.status_code == 202 and repeat.headers[TASK_STATE_HEADER] == "Done"
    await asyncio.sleep(0.05)
    detail = (await client.get(f"/sim/hosts/{host}")).json()
    assert detail["cpuUsed"] == 0, "the repeat must not start the stopped VM again"


async def test_faults_fail_drop_and_crash(sim: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = sim
    host = await make_host(client)
    await client.post(
        f"/sim/hosts/{host}/faults",
        json={"command": "PingHost", "action": "fail", "error": "nope", "times": 1},
    )
    failed = await run(client, host, "/host/ping", {"hostUuid": host})
    assert (failed["success"], failed["error"], failed["errorCode"]) == (False, "nope", "INJECTED")
    assert (await run(client, host, "/host/ping", {"hostUuid": host}))["success"], "times=1 used up"
    await run(client, host, "/vm/start", {"vmUuid": "a", "cpuNum": 2, "memoryBytes": GiB})
    await client.post(f"/sim/hosts/{host}/faults", json={"command": "*", "action": "crash"})
    r = await client.post(
        f"/sim/hosts/{host}/host/ping", json={"hostUuid": host}, headers=task_headers()
    )
    assert r.status_code == 503
    detail = (await client.get(f"/sim/hosts/{host}")).json()
    assert detail["crashed"] and detail["cpuUsed"] == 0
    assert detail["vms"][0]["powerState"] == "Stopped"
    await client.post(f"/sim/hosts/{host}/recover")
    assert (await run(client, host, "/host/ping", {"hostUuid": host}))["success"]


async def test_connect_adopts_unknown_hosts(sim: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = sim
    host = str(uuid.uuid4())
    r = await client.post(f"/sim/hosts/{host}/host/connect", json={"hostUuid": host})
    assert r.status_code == 200
    assert r.json()["hypervisorType"] == "Simulator" and r.json()["cpuNum"] == 32
    assert (await client.get("/health")).json()["hosts"] == 1


async def test_run_counts_per_task_and_path_ignore_repeats(
    sim: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = sim
    host = await make_host(client)
    headers = task_headers()
    body = {"vmUuid": "counted", "cpuNum": 1, "memoryBytes": GiB}
    for _ in range(3):  # the same task three times: it runs once
        resp = await client.post(f"/sim/hosts/{host}/vm/start", json=body, headers=headers)
        assert resp.status_code == 202
    await run(client, host, "/vm/stop", {"vmUuid": "counted"})
    counts = (await client.get(f"/sim/hosts/{host}/runs")).json()
    assert counts["byPath"] == {"/vm/start": 1, "/vm/stop": 1}
    assert counts["byTask"][headers["X-Task-UUID"]] == 1
    one = (await client.get("/sim/runs", params={"taskUuid": headers["X-Task-UUID"]})).json()
    assert one["byTask"] == {headers["X-Task-UUID"]: 1}
    assert (await client.get("/sim/hosts/nobody/runs")).status_code == 404


async def test_a_fail_fault_can_mark_its_reply_retryable(
    sim: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = sim
    host = await make_host(client)
    fault = {"command": "PingHost", "action": "fail", "retryable": True, "times": 1}
    await client.post(f"/sim/hosts/{host}/faults", json=fault)
    failed = await run(client, host, "/host/ping", {"hostUuid": host})
    assert failed["success"] is False and failed["retryable"] is True
    ok = await run(client, host, "/host/ping", {"hostUuid": host})
    assert ok["success"] is True and ok["retryable"] is False


async def test_a_vm_migrates_between_simulated_hosts_both_ways_idempotently(
    sim: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = sim
    src, dst = await make_host(client), await make_host(client, mem=2 * GiB)
    await run(client, src, "/vm/start", {"vmUuid": "m", "cpuNum": 2, "memoryBytes": GiB})

    async def used(host: str) -> tuple[int, int, int]:
        d = (await client.get(f"/sim/hosts/{host}")).json()
        return d["cpuUsed"], d["memoryUsed"], d["vmCount"]

    moved = await run(client, src, "/vm/migrate", {"vmUuid": "m", "destHostUuid": dst})
    assert moved["success"] and moved["hostUuid"] == dst, moved
    assert (await used(src), await used(dst)) == ((0, 0, 0), (2, GiB, 1))
    again = await run(client, src, "/vm/migrate", {"vmUuid": "m", "destHostUuid": dst})
    assert again["success"], "a VM already on the destination: done"
    back = await run(client, dst, "/vm/migrate", {"vmUuid": "m", "destHostUuid": src})
    assert back["success"] and (await used(src), await used(dst)) == ((2, GiB, 1), (0, 0, 0))
    await run(client, dst, "/vm/start", {"vmUuid": "big", "cpuNum": 1, "memoryBytes": 2 * GiB})
    full = await run(client, src, "/vm/migrate", {"vmUuid": "m", "destHostUuid": dst})
    assert full["errorCode"] == "CAPACITY" and (await used(src)) == (2, GiB, 1)
    gone = await run(client, src, "/vm/migrate", {"vmUuid": "none", "destHostUuid": dst})
    assert gone["errorCode"] == "NOT_FOUND"


async def test_a_vms_commands_run_one_at_a_time_so_an_undo_waits_for_a_delayed_move(
    sim: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    # a management node that gave up on a slow migration sends the move back at once:
    # it must run after the move, not before it (or the VM would end on the destination)
    _, client = sim
    src, dst = await make_host(client), await make_host(client)
    await run(client, src, "/vm/start", {"vmUuid": "s", "cpuNum": 1, "memoryBytes": GiB})
    fault = {"command": "MigrateVm", "action": "delay", "seconds": 0.3, "times": 1}
    await client.post(f"/sim/hosts/{src}/faults", json=fault)
    forward = asyncio.create_task(
        run(client, src, "/vm/migrate", {"vmUuid": "s", "destHostUuid": dst})
    )
    await asyncio.sleep(0.05)  # the forward move is running (delayed)
    back = await run(client, dst, "/vm/migrate", {"vmUuid": "s", "destHostUuid": src})
    assert back["success"] and (await forward)["success"]
    detail = (await client.get(f"/sim/hosts/{src}")).json()
    assert [v["uuid"] for v in detail["vms"]] == ["s"]
