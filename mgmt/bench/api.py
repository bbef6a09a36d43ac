"""``zcloud bench api``: the REST API under load, one frontend process, PostgreSQL behind it.

A scratch database gets 100,000 clusters (the largest table) over 100 zones. ``wrk``
drives, one scenario after the other, each against the same frontend:

* baseline: ``GET /health`` (no database, no auth): what HTTP alone costs here;
* ``GET /v1/clusters/{uuid}``: authenticated read by UUID;
* a query with three conditions, one nested (``zone.name``), a page of 100;
* ``POST /v1/zones`` without waiting: async creates accepted (job row committed, message
  published with a broker confirm), first with the management node handling them on the
  same two cores, then with the node stopped: the frontend's own capacity. The node then
  comes back, drains the backlog, and every accepted job must have succeeded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import httpx
from sqlalchemy import func, insert, select

from mgmt.bench.cluster import LocalCluster
from mgmt.bench.env import scratch
from mgmt.core.api import ApiJobRow, JobState
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


async def drain(db_url: str, timeout: float = 600.0) -> tuple[dict[str, int], float]:
    """Wait until no CreateZone job is Pending or Running; job counts by state, seconds."""
    db = Database(db_url)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        while True:
            async with db.session() as s:
                rows = await s.execute(
                    select(ApiJobRow.state, func.count())
                    .where(ApiJobRow.api == "CreateZone")
                    .group_by(ApiJobRow.state)
                )
                states = {str(state): int(n) for state, n in rows.all()}
            busy = states.get(JobState.PENDING, 0) + states.get(JobState.RUNNING, 0)
            if not busy or loop.time() - started > timeout:
                return states, loop.time() - started
            await asyncio.sleep(1.0)
    finally:
        await db.close()


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

    def report(name: str, figures: dict[str, float]) -> None:
        results[name] = figures
        print(_row(name, figures), flush=True)

    async with scratch() as env:
        cluster = LocalCluster(
            env.db_url,
            env.amqp_url,
            env.prefix,
            workdir,
            64,
            db_pool_size=20,  # the production default: the benchmark is alone on the server
            extra_env={
                "ZCLOUD_LOG_LEVEL": "WARNING",
                "ZCLOUD_ADMIN_PASSWORD": PASSWORD,
                # the backlog of creates takes a while to drain: no republishing meanwhile
                "ZCLOUD_API_JOB_REPUBLISH_AFTER": "3600",
            },
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
            reads = [
                (HEALTH, f"{base}/health", _script(workdir, "h", None)),
                (GET, f"{base}/v1/clusters/{one}", _script(workdir, "g", token)),
                (QUERY, f"{base}/v1/clusters?{query}", _script(workdir, "q", token)),
            ]
            for name, url, script in reads:
                report(name, await wrk(url, script, args.seconds, args.connections))
            # latency of one query on its own (the p50 target), not behind 31 others
            _, url, script = reads[2]
            report(QUERY_ALONE, await wrk(url, script, args.seconds, 1))

            create = (f"{base}/v1/zones", _script(workdir, "p", token, "POST", '{"name": "b"}'))
            report(CREATES_WITH_NODE, await wrk(*create, args.seconds, args.connections))
            # the frontend's own capacity: the node stops (its queues keep the messages),
            # then comes back and must finish every accepted job
            node.kill(signal.SIGTERM)
            await node.wait_exit(60)
            report(CREATES_ALONE, await wrk(*create, args.seconds, args.connections))
            node = cluster.mgmt("bench-node-2").start()
            await node.wait_ready(timeout=60)
            states, seconds = await drain(env.db_url)
        finally:
            await cluster.stop_all()
    # wrk counts the answers it read before its time was up; up to one request per
    # connection was accepted after that, so a few more jobs than counted is expected
    accepted = sum(_accepted(results[n]) for n in (CREATES_WITH_NODE, CREATES_ALONE))
    done = states.get(JobState.SUCCEEDED, 0)
    lost = max(0, accepted - done) + sum(n for k, n in states.items() if k != JobState.SUCCEEDED)
    print(f"jobs after the drain: {states} ({accepted} answers counted by wrk); "
          f"the backlog drained in {seconds:.1f} s", flush=True)  # fmt: skip
    summary = {
        "benchmark": "api",
        "rows": args.rows,
        "connections": args.connections,
        "baseline_health": results[HEALTH],
        "get_by_uuid": results[GET],
        "query_3_conditions": results[QUERY],
        "query_latency_1_connection": results[QUERY_ALONE],
        "async_creates": results[CREATES_ALONE],
        "async_creates_node_on_same_cores": results[CREATES_WITH_NODE],
        "jobs_accepted": accepted,
        "jobs_succeeded": done,
        "jobs_not_succeeded": lost,
        "drain_seconds": round(seconds, 1),
        "get_vs_baseline": round(
            results[GET]["per_second"] / max(results[HEALTH]["per_second"], 1.0), 3
        ),
        "target": {"get_per_second": 1500, "query_p50_ms": 20, "creates_per_second": 1000},
    }
    print(json.dumps(summary))
    return 0 if lost == 0 else 1


HEALTH = "baseline GET /health"
GET = "GET /v1/clusters/{uuid}"
QUERY = "query, 3 conditions (1 nested)"
QUERY_ALONE = "query latency, 1 connection"
CREATES_WITH_NODE = "POST /v1/zones, node on same cores"
CREATES_ALONE = "POST /v1/zones, frontend alone"


def _accepted(figures: dict[str, float]) -> int:
    return int(figures["requests"] - figures["errors"])
