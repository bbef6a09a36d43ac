"""``zcloud bench infra``: adding simulated hosts through the REST API.

One management node and one frontend on PostgreSQL and RabbitMQ, one simulator agent
process. 1,000 hosts (``--hosts``) are added at concurrency 50 (``--concurrency``), each
request waiting for its result (``Prefer: wait``): the latency includes the whole connect
handshake (row, ConnectHost, HostFacts and GetVmStates over the agent protocol with
callbacks, counters). Then 10,000 VIPs (``--vips``) are allocated on one /16 L3 network at
concurrency 64 (``--vip-concurrency``): allocations/s, and the count of distinct addresses
held, which must equal the count of successes. The baseline of each part is plain zone
creates, the same way (count and concurrency), in the same run. Targets: 1,000 hosts in at
most 60 s; VIP allocations/s at least 0.7 of the zone creates/s. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import httpx

from mgmt.bench.cluster import LocalCluster
from mgmt.bench.env import scratch

PASSWORD = "bench-admin-password"


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


def _ip(i: int) -> str:
    """The i-th host's managementIp in 127/8 (a Simulator host's is only a name)."""
    return f"127.{i // 62500 % 256}.{i // 250 % 250}.{i % 250 + 2}"


async def _drive(http: httpx.AsyncClient, n: int, concurrency: int, send: Any) -> dict[str, float]:
    """``n`` requests, ``concurrency`` at a time; rate and latency of those that succeeded."""
    latencies: list[float] = []
    failed = 0
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        nonlocal failed
        async with gate:
            started = time.perf_counter()
            resp = await send(i)
            if resp.status_code == 200:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - started
    return {
        "n": n,
        "failed": failed,
        "seconds": round(elapsed, 2),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(_pct(latencies, 0.5), 1),
        "p99_ms": round(_pct(latencies, 0.99), 1),
    }


async def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="zcloud bench infra")
    p.add_argument("--hosts", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--vips", type=int, default=10_000)
    p.add_argument("--vip-concurrency", type=int, default=64)
    args = p.parse_args(argv)
    workdir = Path(mkdtemp(prefix="zcloud-bench-infra-"))
    print(f"bench infra: {args.hosts} hosts at concurrency {args.concurrency}; logs in {workdir}")
    async with scratch() as env:
        cluster = LocalCluster(
            env.db_url,
            env.amqp_url,
            env.prefix,
            workdir,
            64,
            extra_env={"ZCLOUD_LOG_LEVEL": "WARNING", "ZCLOUD_ADMIN_PASSWORD": PASSWORD},
        )
        api = cluster.api("bench-api")
        sim = cluster.sim().start()
        node = cluster.mgmt(
            "bench-node", ZCLOUD_CALLBACK_BASE_URL=api.url, ZCLOUD_SIMULATOR_URL=sim.url
        ).start()
        try:
            await node.wait_ready(timeout=60)
            await sim.wait_ready("/health")
            api.start()
            await api.wait_ready(timeout=60)
            widest = max(args.concurrency, args.vip_concurrency)
            limits = httpx.Limits(max_connections=widest * 2)
            async with httpx.AsyncClient(timeout=120, limits=limits) as http:
                login = await http.post(
                    f"{api.url}/v1/sessions", json={"accountName": "admin", "password": PASSWORD}
                )
                login.raise_for_status()
                headers = {
                    "Authorization": f"Bearer {login.json()['inventory']['token']}",
                    "Prefer": "wait=60",
                }

                async def post(path: str, body: dict[str, Any]) -> httpx.Response:
                    return await http.post(f"{api.url}{path}", json=body, headers=headers)

                zone = (await post("/v1/zones", {"name": "bench"})).json()["inventory"]["uuid"]
                made = await post(
                    "/v1/clusters",
                    {"name": "sim", "zoneUuid": zone, "hypervisorType": "Simulator"},
                )
                cluster_uuid = made.json()["inventory"]["uuid"]
                zones = await _drive(
                    http,
                    args.hosts,
                    args.concurrency,
                    lambda i: post("/v1/zones", {"name": f"z{i}"}),
                )
                print(f"zone creates (baseline): {zones}", flush=True)
                hosts = await _drive(
                    http,
                    args.hosts,
                    args.concurrency,
                    lambda i: post(
                        "/v1/hosts",
                        {
                            "clusterUuid": cluster_uuid,
                            "name": f"h{i}",
                            "managementIp": _ip(i),
                            "cpuCapacity": 32,
                            "memoryCapacity": 128 << 30,
                        },
                    ),
                )
                print(f"host adds (connect handshake): {hosts}", flush=True)
                vips, vip_zones = await _vips(http, post, zone, args.vips, args.vip_concurrency)
                print(f"zone creates (VIP baseline): {vip_zones}", flush=True)
                print(f"VIP allocations: {vips}", flush=True)
        finally:
            await cluster.stop_all()
    target = 60.0
    ratio = round(vips["per_second"] / vip_zones["per_second"], 3) if vip_zones["per_second"] else 0
    print(
        json.dumps(
            {
                "bench": "infra",
                "hosts": hosts,
                "zones_baseline": zones,
                "target_seconds": target,
                "hosts_within_target": hosts["seconds"] <= target and hosts["failed"] == 0,
                "vips": vips,
                "vip_zones_baseline": vip_zones,
                "vip_ratio": ratio,
                "vip_ratio_target": 0.7,
                "vip_ips_exact": vips["distinct_ips"] == vips["n"] - vips["failed"],
            }
        )
    )
    return 0


async def _vips(
    http: httpx.AsyncClient, post: Any, zone: str, n: int, concurrency: int
) -> tuple[dict[str, float], dict[str, float]]:
    """``n`` VIPs on one /16 (65,533 addresses to give), against ``n`` zone creates."""
    l2 = await post("/v1/l2-networks/no-vlan", {"name": "vip-l2", "zoneUuid": zone})
    l3 = await post("/v1/l3-networks", {"name": "vip-l3", "l2NetworkUuid": _uuid(l2)})
    l3_uuid = _uuid(l3)
    got = await post(
        "/v1/ip-ranges/by-cidr",
        {"name": "vip-range", "l3NetworkUuid": l3_uuid, "networkCidr": "10.64.0.0/16"},
    )
    _uuid(got)
    baseline = await _drive(http, n, concurrency, lambda i: post("/v1/zones", {"name": f"v{i}"}))
    ips: list[str] = []

    async def vip(i: int) -> httpx.Response:
        resp: httpx.Response = await post("/v1/vips", {"name": f"vip{i}", "l3NetworkUuid": l3_uuid})
        if resp.status_code == 200:
            ips.append(resp.json()["inventory"]["ip"])
        return resp

    measured: dict[str, Any] = await _drive(http, n, concurrency, vip)
    measured["distinct_ips"] = len(set(ips))
    return measured, baseline


def _uuid(resp: httpx.Response) -> str:
    if resp.status_code != 200:
        raise SystemExit(f"bench infra: setup failed: {resp.status_code} {resp.text}")
    uuid: str = resp.json()["inventory"]["uuid"]
    return uuid
