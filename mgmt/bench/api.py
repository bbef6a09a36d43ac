"""``zcloud bench api``: the REST API under load, one frontend process, PostgreSQL behind it.

A scratch database gets 100,000 clusters (the largest table) over 100 zones. ``wrk``
drives, one scenario after the other, each against the same frontend:

* baseline: ``GET /health`` (no database, no auth): what HTTP alone costs here;
* ``GET /v1/clusters/{uuid}``: authenticated read by UUID;
* a query with three conditions, one nested (``zone.name``), a page of 100;
* ``POST /v1/zones`` without waiting: async creates accepted (job row + bus publish).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import httpx
from sqlalchemy import insert, select

from mgmt.bench.cluster import LocalCluster
from mgmt.bench.env import scratch
from mgmt.core.db import Database
from mgmt.identity.models import AccountRow
from mgmt.zone.models import ClusterRow, ZoneRow

PASSWORD = "bench-admin-password"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


async def populate(db_url: str, rows: int, zones: int) -> str:
    """``rows`` clusters over ``zones`` zones, owned by admin; one cluster's UUID."""
    db = Database(db_url)
    try:
        async with db.session() as s:
            admin = (
                await s.execute(select(AccountRow.uuid).where(AccountRow.name == "admin"))
            ).scalar_one()
        now = datetime.now(UTC)
        zone_ids = [str(uuid.uuid4()) for _ in range(zones)]
        async with db.engine.begin() as conn:
            await conn.execute(
                insert(ZoneRow),
                [
                    {
                        "uuid": z,
                        "name": f"zone-{i}",
                        "description": "",
                        "state": "Enabled",
                        "owner_account_uuid": admin,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i, z in enumerate(zone_ids)
                ],
            )
            batch: list[dict[str, Any]] = []
            for i in range(rows):
                batch.append(
                    {
                        "uuid": str(uuid.uuid4()),
                        "name": f"cluster-{i}",
                        "description": "",
                        "state": "Enabled" if i % 4 else "Disabled",
                        "hypervisor_type": "KVM" if i % 3 else "VMware",
                        "zone_uuid": zone_ids[i % zones],
                        "owner_account_uuid": admin,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                if len(batch) == 5000:
                    await conn.execute(insert(ClusterRow), batch)
                    batch = []
            if batch:
                await conn.execute(insert(ClusterRow), batch)
            await conn.exec_driver_sql("ANALYZE cluster")
            await conn.exec_driver_sql("ANALYZE zone")
        async with db.session() as s:
            return str((await s.execute(select(ClusterRow.uuid).limit(1))).scalar_one())
    finally:
        await db.close()


def _script(
    workdir: Path, name: str, token: str | None, method: str = "GET", body: str = ""
) -> Path:
    lines = [f'wrk.method = "{method}"']
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    if body:
        lines.append('wrk.headers["Content-Type"] = "application/json"')
        lines.append(f"wrk.body = '{body}'")
    path = workdir / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


async def wrk(url: str, script: Path, seconds: int, connections: int) -> dict[str, float]:
    proc = await asyncio.create_subprocess_exec(
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    text = out.decode()
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    total = re.search(r"(\d+) requests in", text)
    figures = {"per_second": float(rate.group(1)) if rate else 0.0}
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)\b", text)
        figures[f"p{pct}_ms"] = float(m.group(1)) * _UNITS[m.group(2)] if m else 0.0
    figures["requests"] = float(total.group(1)) if total else 0.0
    figures["errors"] = float(non2xx.group(1)) if non2xx else 0.0
    return figures


def _row(name: str, f: dict[str, float]) -> str:
    return (
        f"{name:<40}{f['per_second']:>9.0f} req/s   p50 {f['p50_ms']:7.2f} ms   "
        f"p99 {f['p99_ms']:7.2f} ms   ({int(f['requests'])} requests, {int(f['errors'])} non-2xx)"
    )


async def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="zcloud bench api")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--rows", type=int, default=100_000)
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("zcloud bench api needs wrk: apt-get install wrk (make services does)")
    workdir = Path(mkdtemp(prefix="zcloud-bench-api-"))
    print(f"bench api: {args.rows} clusters, wrk {args.connections} connections, "
          f"{args.seconds} s per scenario, logs in {workdir}", flush=True)  # fmt: skip
    results: dict[str, dict[str, float]] = {}
    async with scratch() as env:
        cluster = LocalCluster(
            env.db_url,
            env.amqp_url,
            env.prefix,
            workdir,
            64,
            extra_env={"ZCLOUD_LOG_LEVEL": "WARNING", "ZCLOUD_ADMIN_PASSWORD": PASSWORD},
        )
        node = cluster.mgmt("bench-node").start()
        try:
            await node.wait_ready(timeout=60)
            api = cluster.api("bench-api").start()
            await api.wait_ready(timeout=60)
            one = await populate(env.db_url, args.rows, 100)
            async with httpx.AsyncClient(timeout=30) as http:
                login = await http.post(
                    f"{api.url}/v1/sessions", json={"accountName": "admin", "password": PASSWORD}
                )
                token = login.json()["inventory"]["token"]
            query = "q=state=Enabled&q=hypervisorType=KVM&q=zone.name=zone-7&limit=100"
            base = api.url
            body = '{"name": "bench"}'
            scenarios = [
                ("baseline GET /health", f"{base}/health", _script(workdir, "h", None)),
                (
                    "GET /v1/clusters/{uuid}",
                    f"{base}/v1/clusters/{one}",
                    _script(workdir, "g", token),
                ),
                (
                    "query, 3 conditions (1 nested)",
                    f"{base}/v1/clusters?{query}",
                    _script(workdir, "q", token),
                ),
                (
                    "POST /v1/zones accepted",
                    f"{base}/v1/zones",
                    _script(workdir, "p", token, "POST", body),
                ),
            ]
            for name, url, script in scenarios:
                results[name] = await wrk(url, script, args.seconds, args.connections)
                print(_row(name, results[name]), flush=True)
            # latency of one query on its own (the p50 target), not behind 31 others
            name, url, script = scenarios[2]
            results["query latency, 1 connection"] = await wrk(url, script, args.seconds, 1)
            print(_row("query latency, 1 connection", results["query latency, 1 connection"]))
        finally:
            await cluster.stop_all()
    health, get, q, post = (results[n] for n, _, _ in scenarios)
    summary = {
        "benchmark": "api",
        "rows": args.rows,
        "connections": args.connections,
        "baseline_health": health,
        "get_by_uuid": get,
        "query_3_conditions": q,
        "query_latency_1_connection": results["query latency, 1 connection"],
        "async_creates": post,
        "get_vs_baseline": round(get["per_second"] / max(health["per_second"], 1.0), 3),
        "target": {"get_per_second": 1500, "query_p50_ms": 20, "creates_per_second": 1000},
    }
    print(json.dumps(summary))
    return 0
