"""``zcloud up`` (what ``make run`` starts) serves health, readiness, callbacks and the
simulator from one process with no servers; SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import sys
import uuid
from pathlib import Path

import httpx

from mgmt.bench.cluster import Proc, free_port


async def test_all_in_one_starts_with_nothing_configured(tmp_path: Path) -> None:
    api, sim = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZCLOUD_")}
    proc = Proc(
        "up",
        [
            sys.executable,
            "-m",
            "mgmt.cli",
            "up",
            "--port",
            str(api),
            "--sim-port",
            str(sim),
            "--sim-hosts",
            "3",
        ],
        env,
        api,
        tmp_path / "up.log",
        cwd=tmp_path,  # the SQLite file goes to tmp_path/var
    ).start()
    try:
        await proc.wait_ready("/ready", timeout=60)
        async with httpx.AsyncClient(timeout=10) as client:
            health = (await client.get(f"{proc.url}/health")).json()
            assert health["status"] == "ok"
            hosts = (await client.get(f"http://127.0.0.1:{sim}/sim/hosts")).json()
            assert hosts["total"] == 3
            r = await client.post(
                f"{proc.url}/v1/agent/callbacks",
                json={},
                headers={"X-Task-UUID": str(uuid.uuid4())},
            )
            assert r.status_code == 404  # the receiver looked in the database: no such task
            metrics = (await client.get(f"{proc.url}/metrics")).text
            assert "zcloud_partitions_owned 64.0" in metrics
        assert (tmp_path / "var" / "zcloud.db").exists()
        assert "zcloud all-in-one is up" in (tmp_path / "up.log").read_text()
    finally:
        proc.kill(signal.SIGTERM)
        assert await proc.wait_exit(30) == 0
