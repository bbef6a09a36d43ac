"""Schemathesis fuzzes every operation of ``/openapi.json`` on a live all-in-one: whatever
it sends, the answer is never a 5xx."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from mgmt.bench.cluster import Proc, free_port

PASSWORD = "schemathesis-admin-pw"


async def test_no_request_gets_a_server_error(tmp_path: Path) -> None:
    api, sim = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZCLOUD_")}
    env["ZCLOUD_ADMIN_PASSWORD"] = PASSWORD
    argv = [sys.executable, "-m", "mgmt.cli", "up", "--port", str(api), "--sim-port", str(sim)]
    proc = Proc("up", argv, env, api, tmp_path / "up.log", cwd=tmp_path).start()
    try:
        await proc.wait_ready("/ready", timeout=60)
        async with httpx.AsyncClient(timeout=30) as http:
            login = await http.post(
                f"{proc.url}/v1/sessions", json={"accountName": "admin", "password": PASSWORD}
            )
            token = login.json()["inventory"]["token"]
        run = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{proc.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--workers",
            "2",
            "--seed",
            "20261125",
            # logging out would end the run's own session; everything else is fair game
            "--exclude-operation-id",
            "LogOut",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
        )
        out, _ = await asyncio.wait_for(run.communicate(), 600)
        text = out.decode(errors="replace")
        print(text[-3000:])
        assert run.returncode == 0, text[-6000:]
        assert " passed" in text and "Server error" not in text
    finally:
        proc.kill(signal.SIGTERM)
        assert await proc.wait_exit(30) == 0
