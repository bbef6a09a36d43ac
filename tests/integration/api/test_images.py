"""Images through REST (2 frontends, 2 nodes, PostgreSQL, RabbitMQ, the simulator's
ImageStore downloading for real from an HTTP server on 127.0.0.1): add with progress,
size and md5; capacity and quotas; sharing to a tenant; delete; a 404, a refused
connection and a simulator fault at each step leaving nothing; the owner SIGKILLed
mid-download ending Ready."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import threading
import time
import uuid as uuidlib
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from mgmt.bench.cluster import LocalCluster
from mgmt.core.bus import Bus
from mgmt.core.counters import ReservationRow, ReservationState
from mgmt.core.db import Database
from mgmt.core.quota import QuotaRow
from mgmt.core.resource import ResourceUuidRow
from mgmt.diag import Echo
from mgmt.image.models import ImageBackupStorageRefRow, ImageRow
from tests.helpers.eventually import eventually
from tests.integration.api.test_identity import Api
from tests.integration.api.test_storage import SIM_BS, Env, make_env

MiB = 1 << 20


def image_bytes(name: str, size: int) -> bytes:
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


class _Images(BaseHTTPRequestHandler):
    """``/<name>?size=N&delay=S``: N bytes, S seconds between 64 KiB chunks; else 404."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if not parts.path.startswith("/img/"):
            self.send_error(404, "no such image")
            return
        size = int(query.get("size", ["1024"])[0])
        delay = float(query.get("delay", ["0"])[0])
        body = image_bytes(parts.path, size)
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        for i in range(0, size, 64 << 10):
            self.wfile.write(body[i : i + (64 << 10)])
            if delay:
                time.sleep(delay)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def files() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
async def env(cluster: LocalCluster) -> AsyncIterator[Env]:
    async with httpx.AsyncClient(timeout=90) as http:
        yield await make_env(cluster, http)


async def _bs(env: Env) -> dict[str, Any]:
    body = {"name": "bs", "url": "/zcloud/images", "hostname": "127.0.0.1"}
    inv: dict[str, Any] = (await env.admin.ok("POST", "/v1/backup-storage/image-store", json=body))[
        "inventory"
    ]
    return inv


def _body(url: str, bs: str, **more: Any) -> dict[str, Any]:
    return {"name": "img", "url": url, "format": "qcow2", "backupStorageUuids": [bs], **more}


async def _quota(db: Database, name: str) -> int:
    async with db.session() as s:
        used = await s.scalar(select(func.sum(QuotaRow.used)).where(QuotaRow.name == name))
    return int(used or 0)


async def _left_behind(db: Database, image: str) -> dict[str, int]:
    async with db.session() as s:

        async def count(q: Any) -> int:
            return int(await s.scalar(q) or 0)

        return {
            "image": await count(select(func.count()).where(ImageRow.uuid == image)),
            "refs": await count(
                select(func.count()).where(ImageBackupStorageRefRow.image_uuid == image)
            ),
            "reserved": await count(
                select(func.count()).where(
                    ReservationRow.id.like(f"image/{image}/%"),
                    ReservationRow.state == ReservationState.RESERVED,
                )
            ),
            "claim": await count(select(func.count()).where(ResourceUuidRow.uuid == image)),
        }


NOTHING = {"image": 0, "refs": 0, "reserved": 0, "claim": 0}


async def test_add_image_downloads_it_with_progress_md5_capacity_quota_and_sharing(
    env: Env, db: Database, files: str
) -> None:
    bs = await _bs(env)
    size = 3 * MiB
    url = f"{files}/img/cirros.qcow2?size={size}&delay=0.06"
    image = str(uuidlib.uuid4())
    adding = asyncio.create_task(
        env.admin.call("POST", "/v1/images", json=_body(url, bs["uuid"], resourceUuid=image))
    )

    async def progressing() -> dict[str, Any] | None:
        got = await env.other.call("GET", f"/v1/images/{image}")
        inv: dict[str, Any] = got.json().get("inventory", {}) if got.status_code == 200 else {}
        if inv.get("status") == "Downloading" and 0 < inv.get("downloadedBytes", 0) < size:
            return inv
        return None

    seen = await eventually(progressing, timeout=30, interval=0.2, message="progress shown")
    assert 0 <= seen["downloadProgress"] < 100
    resp = await adding
    assert resp.status_code == 200, resp.text
    inv = resp.json()["inventory"]
    expected = hashlib.md5(image_bytes("/img/cirros.qcow2", size), usedforsecurity=False)
    assert (inv["status"], inv["state"], inv["size"], inv["actualSize"]) == (
        "Ready",
        "Enabled",
        size,
        size,
    )
    assert inv["md5Sum"] == expected.hexdigest()
    assert (inv["downloadProgress"], inv["mediaType"], inv["architecture"]) == (
        100,
        "RootVolumeTemplate",
        "x86_64",
    )
    ref = inv["backupStorageRefs"][0]
    assert ref == {
        "backupStorageUuid": bs["uuid"],
        "installPath": f"/zcloud/images/{image}.qcow2",
        "status": "Ready",
    }
    got_bs = (await env.admin.ok("GET", f"/v1/backup-storage/{bs['uuid']}"))["inventory"]
    assert got_bs["availableCapacity"] == SIM_BS - size
    assert await _quota(db, "image.num") == 1 and await _quota(db, "image.size") == size
    sim = (await env.http.get(f"{env.sim.url}/sim/backup-storage/{bs['uuid']}")).json()
    assert [i["md5Sum"] for i in sim["images"]] == [expected.hexdigest()]

    # a tenant sees it only once it is shared; it cannot change or delete it
    await env.admin.ok("POST", "/v1/accounts", json={"name": "it", "password": "it-pw-123456"})
    tenant = await Api.login(env.http, env.admin.base, "it", "it-pw-123456")
    assert (await tenant.call("GET", f"/v1/images/{image}")).status_code == 404
    account = (await tenant.ok("GET", "/v1/accounts"))["inventories"][0]["uuid"]
    share = {"resourceUuid": image, "resourceType": "Image", "toAccountUuids": [account]}
    await env.admin.ok("POST", "/v1/resource-shares", json=share)
    assert (await tenant.ok("GET", f"/v1/images/{image}"))["inventory"]["md5Sum"]
    assert (await tenant.call("DELETE", f"/v1/images/{image}")).status_code in (403, 404)
    refused = await tenant.call("POST", "/v1/images", json=_body(url, bs["uuid"]))
    assert refused.status_code == 403, refused.text

    path = f"/v1/images/{image}"
    off = await env.admin.ok("POST", f"{path}/actions/change-state", json={"stateEvent": "disable"})
    assert off["inventory"]["state"] == "Disabled"
    renamed = await env.admin.ok("PUT", path, json={"name": "cirros-2", "guestOsType": "Linux"})
    assert renamed["inventory"]["name"] == "cirros-2"

    # delete: the bits go from the storage, capacity and quotas come back
    await env.admin.ok("DELETE", path)
    assert await _left_behind(db, image) == NOTHING

    async def bits_gone() -> bool:
        sim = (await env.http.get(f"{env.sim.url}/sim/backup-storage/{bs['uuid']}")).json()
        return not sim["images"]

    await eventually(bits_gone, timeout=30, message="image deleted on the backup storage")
    got_bs = (await env.admin.ok("GET", f"/v1/backup-storage/{bs['uuid']}"))["inventory"]
    assert got_bs["availableCapacity"] == SIM_BS
    assert await _quota(db, "image.num") == 0 and await _quota(db, "image.size") == 0


async def test_a_bad_url_or_a_fault_fails_the_add_and_leaves_nothing(
    env: Env, db: Database, files: str
) -> None:
    bs = (await _bs(env))["uuid"]
    # a URL at fault is the client's: 400 naming url, with the HTTP status; a fault is 503
    cases: list[tuple[str, dict[str, Any] | None, str, int]] = [
        (f"{files}/missing.qcow2", None, "HTTP 404", 400),
        ("http://127.0.0.1:9/refused.qcow2", None, "ConnectError", 400),
        ("http://192.0.2.1/far.qcow2", None, "loopback", 400),
        (
            f"{files}/img/a?size=1024",
            {"command": "DownloadImage", "action": "fail"},
            "bits rot",
            503,
        ),
        (
            f"{files}/img/b?size=1024",
            {"command": "DownloadImage", "action": "fail", "retryable": True},
            "bits rot",
            503,
        ),
    ]
    for url, fault, reason, status in cases:
        image = str(uuidlib.uuid4())
        if fault is not None:
            await env.fault("backup-storage", bs, error="bits rot", times=1, **fault)
        resp = await env.admin.call("POST", "/v1/images", json=_body(url, bs, resourceUuid=image))
        assert resp.status_code == status, resp.text
        assert reason in resp.text, resp.text
        if status == 400:
            assert resp.json()["error"]["extra"]["field"] == "url", resp.text
        assert await _left_behind(db, image) == NOTHING
        assert await _quota(db, "image.num") == 0 and await _quota(db, "image.size") == 0
        got = (await env.admin.ok("GET", f"/v1/backup-storage/{bs}"))["inventory"]
        assert got["availableCapacity"] == SIM_BS
    # a lost callback is asked for; a repeated one ignored: the download ran once
    for action in ("drop_callback", "duplicate_callback"):
        await env.fault("backup-storage", bs, command="DownloadImage", action=action, times=1)
        made = await env.admin.ok("POST", "/v1/images", json=_body(f"{files}/img/{action}", bs))
        assert made["inventory"]["status"] == "Ready"
        await env.admin.ok("DELETE", f"/v1/images/{made['inventory']['uuid']}")
    runs = (await env.http.get(f"{env.sim.url}/sim/backup-storage/{bs}/runs")).json()
    assert runs["byPath"]["/backup-storage/image/download"] == len(cases) + 2, runs
    # a storage not Connected, or not there: refused before anything is made
    missing = await env.admin.call(
        "POST", "/v1/images", json=_body(f"{files}/img/c", str(uuidlib.uuid4()))
    )
    assert missing.status_code in (400, 404), missing.text
    assert "backupStorageUuids" in missing.text


async def test_owner_sigkilled_mid_download_ends_ready_never_stuck(
    env: Env, db: Database, files: str, client_bus: Bus
) -> None:
    bs = (await _bs(env))["uuid"]
    image = str(uuidlib.uuid4())
    owner_name = (await client_bus.call(Echo(resourceUuid=image))).node
    owner = next(n for n in env.nodes if n.name == owner_name)
    size = 2 * MiB
    url = f"{files}/img/k.qcow2?size={size}&delay=0.1"
    adding = asyncio.create_task(
        env.other.call("POST", "/v1/images", json=_body(url, bs, resourceUuid=image))
    )

    async def downloading() -> bool:
        got = await env.admin.call("GET", f"/v1/images/{image}")
        return got.status_code == 200 and got.json()["inventory"]["downloadedBytes"] > 0

    await eventually(downloading, timeout=30, interval=0.2, message="download under way")
    owner.kill(signal.SIGKILL)
    resp = await adding
    assert resp.status_code in (200, 202), resp.text

    async def settled() -> dict[str, Any] | None:
        got = await env.admin.call("GET", f"/v1/images/{image}")
        inv: dict[str, Any] = got.json().get("inventory", {})
        return inv if inv.get("status") == "Ready" else None

    inv = await eventually(settled, timeout=120, interval=0.5, message="image Ready")
    assert inv["size"] == size
    runs = (await env.http.get(f"{env.sim.url}/sim/backup-storage/{bs}/runs")).json()
    assert runs["byPath"]["/backup-storage/image/download"] == 1, runs
