"""Events and web-hooks through real processes: a subscription gets its own account's
resource events, signed; another account's never; ``X-Web-Hook`` gets a job's result."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from mgmt.bench.cluster import LocalCluster, free_port
from mgmt.bench.failover import wait_settled
from mgmt.server import HttpServer
from tests.helpers.eventually import eventually
from tests.integration.api.test_identity import Api
from tests.integration.conftest import PARTITIONS

ADMIN_PASSWORD = "admin-pw-hooks"


class Receiver:
    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> dict[str, str]:
            self.calls.append((dict(request.headers), await request.body()))
            return {"ok": "yes"}


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver()
    port = free_port()
    server = HttpServer(rec.app, "127.0.0.1", port)
    await server.start()
    yield rec, f"http://127.0.0.1:{port}/hook"
    await server.stop()


async def test_web_hooks_get_their_accounts_events_signed(
    cluster: LocalCluster, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    env = {"ZCLOUD_ADMIN_PASSWORD": ADMIN_PASSWORD}
    nodes = [cluster.mgmt(f"node{i}", **env).start() for i in range(2)]
    for node in nodes:
        await node.wait_ready()
    await wait_settled(nodes, PARTITIONS)
    api = cluster.api("api0", **env).start()
    await api.wait_ready()
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, api.url, "admin", ADMIN_PASSWORD)
        tenants: dict[str, Api] = {}
        for name in ("left", "right"):
            await admin.ok("POST", "/v1/accounts", json={"name": name, "password": f"{name}-pw-12"})
            tenants[name] = await Api.login(http, api.url, name, f"{name}-pw-12")
        hook = await tenants["left"].ok(
            "POST", "/v1/web-hooks", json={"name": "h", "url": url, "events": "resource/Zone/*"}
        )
        secret = hook["secret"]
        zone = (await tenants["left"].ok("POST", "/v1/zones", json={"name": "lz"}))["inventory"]
        await tenants["right"].ok("POST", "/v1/zones", json={"name": "rz"})
        await tenants["left"].ok("PUT", f"/v1/zones/{zone['uuid']}", json={"state": "Disabled"})
        await tenants["left"].ok(
            "POST", "/v1/clusters", json={"name": "lc", "zoneUuid": zone["uuid"]}
        )  # a Cluster event: the glob does not match it

        def paths() -> list[str]:
            return [h.get("x-zcloud-event", "") for h, _ in rec.calls]

        await eventually(lambda: len(rec.calls) >= 2, timeout=30, interval=0.2)
        assert sorted(paths()) == ["resource/Zone/created", "resource/Zone/stateChanged"]
        for headers, body in rec.calls:
            mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            assert headers["x-zcloud-signature"] == f"sha256={mac}"
            event: dict[str, Any] = json.loads(body)["event"]
            assert event["resourceUuid"] == zone["uuid"]  # never the other account's zone

        # X-Web-Hook: the job's result is POSTed when it finishes
        rec.calls.clear()
        resp = await tenants["right"].call(
            "POST", "/v1/zones", json={"name": "hooked"}, headers={"X-Web-Hook": url}
        )
        assert resp.status_code in (200, 202)
        await eventually(lambda: len(rec.calls) == 1, timeout=30, interval=0.2)
        result = json.loads(rec.calls[0][1])
        assert result["state"] == "Succeeded"
        assert result["result"]["inventory"]["name"] == "hooked"
        bad = await tenants["right"].call(
            "POST", "/v1/zones", json={"name": "x"}, headers={"X-Web-Hook": "ftp://nope"}
        )
        assert bad.status_code == 400
