"""``zcloud up`` (what ``make run`` starts) serves health, readiness, callbacks and the
simulator from one process with no servers; SIGTERM stops it cleanly. Its banner tells the
admin password; a busy port fails the start in one line; ``zcloud admin reset-password``
recovers a lost password."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from mgmt.bench.cluster import Proc, free_port
from mgmt.demo import DEMO_IMAGE
from tests.helpers.eventually import eventually


def _up_argv(api: int, sim: int) -> list[str]:
    return [sys.executable, "-m", "mgmt.cli", "up", "--port", str(api), "--sim-port", str(sim)]


async def _demo_counts(url: str, password: str) -> dict[str, list[str]]:
    async with httpx.AsyncClient(timeout=10) as client:
        login = await client.post(
            f"{url}/v1/sessions", json={"accountName": "admin", "password": password}
        )
        headers = {"Authorization": f"Bearer {login.json()['inventory']['token']}"}
        out: dict[str, list[str]] = {}
        for collection in DEMO_COLLECTIONS:
            got = await client.get(f"{url}/v1/{collection}", headers=headers)
            assert got.status_code == 200, got.text
            out[collection] = sorted(x["name"] for x in got.json()["inventories"])
        hosts = await client.get(f"{url}/v1/hosts", headers=headers)
        out["status"] = sorted({h["status"] for h in hosts.json()["inventories"]})
        images = (await client.get(f"{url}/v1/images", headers=headers)).json()["inventories"]
        # downloaded for real from the file the all-in-one wrote (its bytes, its md5)
        out["image"] = sorted(f"{i['status']} {i['size']} {i['md5Sum']}" for i in images)
        storage = await client.get(f"{url}/v1/primary-storage", headers=headers)
        out["capacity"] = sorted(str(p["totalCapacity"] > 0) for p in storage.json()["inventories"])
        return out


DEMO_COLLECTIONS = (
    "zones",
    "clusters",
    "hosts",
    "l2-networks",
    "l3-networks",
    "ip-ranges",
    "primary-storage",
    "backup-storage",
    "images",
    "instance-offerings",
    "disk-offerings",
)


async def test_all_in_one_starts_with_nothing_configured_and_shows_a_cloud(
    tmp_path: Path,
) -> None:
    api, sim = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZCLOUD_")}
    env["ZCLOUD_ADMIN_PASSWORD"] = "allinone-demo-pw"
    argv = [*_up_argv(api, sim), "--sim-hosts", "3"]
    log = tmp_path / "up.log"
    proc = Proc("up", argv, env, api, log, cwd=tmp_path)  # SQLite: tmp_path/var
    proc.start()
    try:
        await proc.wait_ready("/ready", timeout=60)
        await eventually(lambda: "Press Ctrl-C" in log.read_text(), timeout=120)
        async with httpx.AsyncClient(timeout=10) as client:
            health = (await client.get(f"{proc.url}/health")).json()
            assert health["status"] == "ok"
            hosts = (await client.get(f"http://127.0.0.1:{sim}/sim/hosts")).json()
            assert hosts["total"] == 3  # made by the demo's host adds (connect handshake)
            r = await client.post(
                f"{proc.url}/v1/agent/callbacks",
                json={},
                headers={"X-Task-UUID": str(uuid.uuid4())},
            )
            assert r.status_code == 404  # the receiver looked in the database: no such task
            metrics = (await client.get(f"{proc.url}/metrics")).text
            assert "zcloud_partitions_owned 64.0" in metrics
        assert (tmp_path / "var" / "zcloud.db").exists()
        banner = log.read_text()[log.read_text().index("zcloud all-in-one is up") :]
        assert "demo-zone" in banner and "demo-l3" in banner and "demo-host-3" in banner
        first = await _demo_counts(proc.url, env["ZCLOUD_ADMIN_PASSWORD"])
        assert first["zones"] == ["demo-zone"] and first["status"] == ["Connected"]
        assert first["hosts"] == ["demo-host-1", "demo-host-2", "demo-host-3"]
        assert all(first[c] for c in DEMO_COLLECTIONS), first
        written = (tmp_path / "var" / "files" / DEMO_IMAGE).read_bytes()
        md5 = hashlib.md5(written).hexdigest()
        assert first["image"] == [f"Ready {len(written)} {md5}"], first
        assert first["capacity"] == ["True", "True"], first  # the hosts' disks and the NFS
    finally:
        proc.kill(signal.SIGTERM)
        assert await proc.wait_exit(30) == 0
    # a second start finds the demo environment and makes nothing twice
    log.write_text("")
    again = Proc("up", argv, env, api, log, cwd=tmp_path).start()
    try:
        await again.wait_ready("/ready", timeout=60)
        await eventually(lambda: "Press Ctrl-C" in log.read_text(), timeout=120)
        assert await _demo_counts(again.url, env["ZCLOUD_ADMIN_PASSWORD"]) == first
    finally:
        again.kill(signal.SIGTERM)
        assert await again.wait_exit(30) == 0


async def test_up_empty_makes_no_demo(tmp_path: Path) -> None:
    api, sim = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZCLOUD_")}
    env["ZCLOUD_ADMIN_PASSWORD"] = "allinone-empty-pw"
    log = tmp_path / "up.log"
    proc = Proc("up", [*_up_argv(api, sim), "--empty"], env, api, log, cwd=tmp_path).start()
    try:
        await proc.wait_ready("/ready", timeout=60)
        await eventually(lambda: "Press Ctrl-C" in log.read_text(), timeout=60)
        counts = await _demo_counts(proc.url, env["ZCLOUD_ADMIN_PASSWORD"])
        assert all(counts[c] == [] for c in DEMO_COLLECTIONS), counts
        assert "demo " not in log.read_text()
    finally:
        proc.kill(signal.SIGTERM)
        assert await proc.wait_exit(30) == 0


# -- the admin password: shown where a person sees it, recoverable ----------------------------


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ZCLOUD_")}


def _banner_admin(log: str) -> str:
    """The banner's admin line (after ``admin``), which must come after every log line."""
    banner = log[log.index("zcloud all-in-one is up") :]
    line = next(x for x in banner.splitlines() if x.strip().startswith("admin "))
    return line.strip()[len("admin") :].strip()


async def _zcloud(*argv: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``zcloud <argv>`` as a subprocess, awaited (the server under test keeps running)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mgmt.cli",
        *argv,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return subprocess.CompletedProcess(list(argv), proc.returncode, out.decode(), err.decode())


async def _log_in(url: str, password: str) -> int:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.post(
            f"{url}/v1/sessions", json={"accountName": "admin", "password": password}
        )
        return r.status_code


async def test_first_start_shows_the_admin_password_and_reset_password_recovers_it(
    tmp_path: Path,
) -> None:
    api, sim = free_port(), free_port()
    proc = Proc("up", _up_argv(api, sim), _clean_env(), api, tmp_path / "up.log", cwd=tmp_path)
    proc.start()
    try:
        await proc.wait_ready("/ready", timeout=60)
        await eventually(lambda: "Press Ctrl-C" in (tmp_path / "up.log").read_text())
        shown = _banner_admin((tmp_path / "up.log").read_text())
        assert shown.startswith("account 'admin', password: "), shown
        first = shown.split("password: ", 1)[1].split()[0]
        assert await _log_in(proc.url, first) == 200

        # lost it: the local command sets a new one in the database the settings name
        reset = await _zcloud("admin", "reset-password", env=_clean_env(), cwd=tmp_path)
        assert reset.returncode == 0, reset.stderr
        assert "Traceback" not in reset.stderr
        second = reset.stdout.split("new password: ", 1)[1].split()[0]
        assert second != first
        assert await _log_in(proc.url, second) == 200
        assert await _log_in(proc.url, first) == 401

        env = {**_clean_env(), "ZCLOUD_ADMIN_PASSWORD": "from-the-env-1"}
        given = await _zcloud("admin", "reset-password", env=env, cwd=tmp_path)
        assert given.returncode == 0, given.stderr
        assert "ZCLOUD_ADMIN_PASSWORD" in given.stdout
        assert await _log_in(proc.url, "from-the-env-1") == 200
    finally:
        proc.kill(signal.SIGTERM)
        assert await proc.wait_exit(30) == 0

    # a second start on the same database: the admin exists, its password untouched
    again = Proc("up2", _up_argv(api, sim), _clean_env(), api, tmp_path / "up2.log", cwd=tmp_path)
    again.start()
    try:
        await again.wait_ready("/ready", timeout=60)
        await eventually(lambda: "Press Ctrl-C" in (tmp_path / "up2.log").read_text())
        assert "existed already" in _banner_admin((tmp_path / "up2.log").read_text())
        assert await _log_in(again.url, "from-the-env-1") == 200
    finally:
        again.kill(signal.SIGTERM)
        assert await again.wait_exit(30) == 0


async def test_admin_password_from_the_environment_is_named_not_shown(tmp_path: Path) -> None:
    api, sim = free_port(), free_port()
    env = {**_clean_env(), "ZCLOUD_ADMIN_PASSWORD": "env-admin-pw-1"}
    proc = Proc("up", _up_argv(api, sim), env, api, tmp_path / "up.log", cwd=tmp_path).start()
    try:
        await proc.wait_ready("/ready", timeout=60)
        await eventually(lambda: "Press Ctrl-C" in (tmp_path / "up.log").read_text())
        shown = _banner_admin((tmp_path / "up.log").read_text())
        assert shown == "account 'admin', password from ZCLOUD_ADMIN_PASSWORD"
        assert "env-admin-pw-1" not in (tmp_path / "up.log").read_text()
        assert await _log_in(proc.url, "env-admin-pw-1") == 200
    finally:
        proc.kill(signal.SIGTERM)
        assert await proc.wait_exit(30) == 0


def test_a_busy_port_fails_the_start_in_one_line_before_the_admin_exists(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            _up_argv(port, free_port()),
            env=_clean_env(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"zcloud up: start-up failed: API port 127.0.0.1:{port} is in use (another zcloud running?)"
    ]
    # it stopped before the database was opened: no file, so certainly no admin row
    assert not (tmp_path / "var" / "zcloud.db").exists()


def test_reset_password_without_a_database_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mgmt.cli", "admin", "reset-password", "--password", "x"],
        env=_clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("zcloud admin: no database at var/zcloud.db")
    assert not (tmp_path / "var").exists()
