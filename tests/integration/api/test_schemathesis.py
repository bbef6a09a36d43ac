"""Schemathesis fuzzes every operation of ``/openapi.json`` on a live all-in-one with all of
its checks, as the admin and as a tenant account: no 5xx, and the document tells the truth
(every status answered is documented with its body, schema-valid requests are accepted and
invalid ones refused, a 405's ``Allow`` lists the documented methods). What a schema cannot
say is in ``schemathesis.toml`` beside this file."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from mgmt.bench.cluster import Proc, free_port

PASSWORD = "schemathesis-admin-pw"
TENANT_PASSWORD = "schemathesis-tenant-pw"
CONFIG = Path(__file__).with_name("schemathesis.toml")
#: examples per operation and phase: enough to reach every status, a few minutes per run
EXAMPLES = 10


async def _token(http: httpx.AsyncClient, url: str, account: str, password: str) -> str:
    login = await http.post(
        f"{url}/v1/sessions", json={"accountName": account, "password": password}
    )
    assert login.status_code == 200, login.text
    token: str = login.json()["inventory"]["token"]
    return token


async def _schemathesis(url: str, token: str, cwd: Path) -> str:
    run = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        # one worker per process: on Python 3.11 two threads parsing source at once (as
        # hypothesis does to describe a filter) can trip "AST constructor recursion depth
        # mismatch", an interpreter bug; the admin and tenant runs are two processes instead
        "--workers",
        "1",
        "--seed",
        "20261125",
        # logging out would end the run's own session; everything else is fair game
        "--exclude-operation-id",
        "LogOut",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=cwd,
    )
    out, _ = await asyncio.wait_for(run.communicate(), 600)
    text = out.decode(errors="replace")
    (cwd / "schemathesis.out").write_text(text)  # the whole report, for a failed run
    print(text[-3000:])
    assert run.returncode == 0, text[-8000:]
    assert " passed" in text, text[-8000:]
    return text


async def test_the_document_tells_the_truth_to_admin_and_tenant(tmp_path: Path) -> None:
    api, sim = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZCLOUD_")}
    env["ZCLOUD_ADMIN_PASSWORD"] = PASSWORD
    argv = [sys.executable, "-m", "mgmt.cli", "up", "--port", str(api), "--sim-port", str(sim)]
    proc = Proc("up", argv, env, api, tmp_path / "up.log", cwd=tmp_path).start()
    try:
        await proc.wait_ready("/ready", timeout=60)
        async with httpx.AsyncClient(timeout=30) as http:
            admin = await _token(http, proc.url, "admin", PASSWORD)
            created = await http.post(
                f"{proc.url}/v1/accounts",
                json={"name": "tenant", "password": TENANT_PASSWORD},
                headers={"Authorization": f"Bearer {admin}", "Prefer": "wait=30"},
            )
            assert created.status_code == 200, created.text
            tenant = await _token(http, proc.url, "tenant", TENANT_PASSWORD)
        runs = []
        for who, token in (("admin", admin), ("tenant", tenant)):
            (tmp_path / who).mkdir()
            runs.append(_schemathesis(proc.url, token, tmp_path / who))
        await asyncio.gather(*runs)
    finally:
        proc.kill(signal.SIGTERM)
        assert await proc.wait_exit(30) == 0
