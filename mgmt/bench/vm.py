"""``zcloud bench vm``: VMs created through the REST API on simulated hosts, then queries
over a large VM table.

Management nodes (``--nodes``, default 2), one frontend and one simulator agent process on
PostgreSQL and RabbitMQ. Part one: ``--hosts`` hosts (100), then ``--vms`` VMs (1,000) at
``--concurrency`` (100), each request waiting for its result (``Prefer: wait``), so its
latency is the whole create flow to Running (allocate host, NICs, root volume capacity,
StartVm on the agent with a callback). Part two: hosts up to ``--large-hosts`` (1,000) and
``--large-vms`` more VMs (10,000); 0 skips it. The baseline of each part is plain zone
creates, the same count and concurrency, in the same run. Peak RSS (``VmHWM``) of each
process is read from /proc after each part.

Part three, at ``--query-vms`` VMs (100,000): the table is filled up to that count by
copying the rows of the VMs made through the API (a bulk insert of ``vm_instance`` and
``vm_nic`` rows with new UUIDs, names and IPs; the API would take hours on two cores), then
the latency of ``q=state=Running&q=vmNics.ip=<ip>``, of a count and of a page of 100 sorted
by createDate, ``--samples`` times each, against ``GET /v1/zones/<uuid>`` in the same run.
Targets: 1,000 VMs ≤ 30 s, 10,000 ≤ 300 s, query p50 ≤ 20 ms. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import httpx

from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.bench.env import scratch
from mgmt.bench.infra import _drive, _ip, _pct, _uuid
from mgmt.bench.vm_rows import fill_vm_table

PASSWORD = "bench-admin-password"
GiB = 1 << 30
MiB = 1 << 20
IMAGE_SIZE = 4 * MiB


def peak_rss_mib(procs: list[Proc]) -> dict[str, float]:
    """Each live process's peak resident set (``VmHWM``), MiB."""
    out: dict[str, float] = {}
    for p in procs:
        if p.popen is None or not p.alive:
            continue
        try:
            status = Path(f"/proc/{p.popen.pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                out[p.name] = round(int(line.split()[1]) / 1024, 1)
    return out


class Client:
    def __init__(self, http: httpx.AsyncClient, url: str, token: str) -> None:
        self.http, self.url = http, url
        self.headers = {"Authorization": f"Bearer {token}", "Prefer": "wait=120"}

    async def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return await self.http.post(f"{self.url}{path}", json=body, headers=self.headers)

    async def get(self, path: str, params: Any = None) -> httpx.Response:
        return await self.http.get(f"{self.url}{path}", params=params, headers=self.headers)

    async def made(self, path: str, **body: Any) -> str:
        return _uuid(await self.post(path, body))


async def _cloud(c: Client, sim_url: str) -> dict[str, str]:
    """Zone, Simulator cluster, LocalStorage, ImageStore with an image, L2, L3 on a /16, an
    offering of 1 CPU and 256 MiB."""
    zone = await c.made("/v1/zones", name="bench")
    cluster = await c.made("/v1/clusters", name="sim", zoneUuid=zone, hypervisorType="Simulator")
    ps = await c.made("/v1/primary-storage/local", name="ls", zoneUuid=zone, url="/var/lib/z")
    _uuid(
        await c.post(f"/v1/primary-storage/{ps}/actions/attach-cluster", {"clusterUuid": cluster})
    )
    l2 = await c.made("/v1/l2-networks/no-vlan", name="l2", zoneUuid=zone, physicalInterface="e0")
    _uuid(await c.post(f"/v1/l2-networks/{l2}/actions/attach-cluster", {"clusterUuid": cluster}))
    l3 = await c.made("/v1/l3-networks", name="l3", l2NetworkUuid=l2)
    await c.made("/v1/ip-ranges/by-cidr", name="r", l3NetworkUuid=l3, networkCidr="10.128.0.0/14")
    bs = await c.made(
        "/v1/backup-storage/image-store", name="bs", url="/zcloud/images", hostname="127.0.0.1"
    )
    _uuid(await c.post(f"/v1/backup-storage/{bs}/actions/attach-zone", {"zoneUuid": zone}))
    image = await c.made(
        "/v1/images",
        name="img",
        url=f"{sim_url}/sim/files/bench.img?size={IMAGE_SIZE}",
        format="raw",
        mediaType="RootVolumeTemplate",
        platform="Linux",
        backupStorageUuids=[bs],
    )
    offering = await c.made("/v1/instance-offerings", name="tiny", cpuNum=1, memorySize=256 * MiB)
    return {"zone": zone, "cluster": cluster, "l3": l3, "image": image, "offering": offering}


async def _hosts(c: Client, cluster: str, first: int, last: int) -> dict[str, float]:
    return await _drive(
        c.http,
        last - first,
        50,
        lambda i: c.post(
            "/v1/hosts",
            {
                "clusterUuid": cluster,
                "name": f"h{first + i}",
                "managementIp": _ip(first + i),
                "cpuCapacity": 64,
                "memoryCapacity": 64 * GiB,
            },
        ),
    )


async def _vms(c: Client, cloud: dict[str, str], n: int, concurrency: int, tag: str) -> Any:
    running: list[str] = []
    errors: dict[str, int] = {}

    async def create(i: int) -> httpx.Response:
        body = {
            "name": f"{tag}{i}",
            "instanceOfferingUuid": cloud["offering"],
            "imageUuid": cloud["image"],
            "l3NetworkUuids": [cloud["l3"]],
        }
        resp = await c.post("/v1/vm-instances", body)
        if resp.status_code == 200 and resp.json()["inventory"]["state"] == "Running":
            running.append(resp.json()["inventory"]["uuid"])
        elif resp.status_code == 200:
            resp.status_code = 599  # made, but not Running: not a success here
        else:
            err = resp.json().get("error", {})
            why = f"{resp.status_code} {err.get('code')}: {str(err.get('details'))[:120]}"
            errors[why] = errors.get(why, 0) + 1
        return resp

    measured: dict[str, Any] = await _drive(c.http, n, concurrency, create)
    measured["running"] = len(running)
    measured["errors"] = errors
    return measured


async def _part(
    c: Client, cloud: dict[str, str], n: int, concurrency: int, tag: str
) -> dict[str, Any]:
    zones = await _drive(
        c.http, n, concurrency, lambda i: c.post("/v1/zones", {"name": f"{tag}z{i}"})
    )
    print(f"zone creates (baseline, {n} at {concurrency}): {zones}", flush=True)
    vms = await _vms(c, cloud, n, concurrency, tag)
    print(f"VM creates to Running ({n} at {concurrency}): {vms}", flush=True)
    ratio = round(vms["per_second"] / zones["per_second"], 3) if zones["per_second"] else 0.0
    return {"vms": vms, "zones_baseline": zones, "ratio_to_zone_creates": ratio}


async def _latency(c: Client, samples: int, params: Any) -> dict[str, float]:
    times: list[float] = []
    for i in range(samples):
        path, query = params(i)
        started = time.perf_counter()
        resp = await c.get(path, query)
        times.append((time.perf_counter() - started) * 1000)
        if resp.status_code != 200:
            raise SystemExit(f"bench vm: {path} {query}: {resp.status_code} {resp.text[:300]}")
    return {"p50_ms": round(_pct(times, 0.5), 2), "p99_ms": round(_pct(times, 0.99), 2)}


async def _queries(c: Client, ips: list[str], zone: str, samples: int) -> dict[str, Any]:
    rng = random.Random(7)
    vms = "/v1/vm-instances"
    out = {
        "get_zone_baseline": await _latency(c, samples, lambda i: (f"/v1/zones/{zone}", None)),
        "running_with_ip": await _latency(
            c,
            samples,
            lambda i: (vms, [("q", "state=Running"), ("q", f"vmNics.ip={rng.choice(ips)}")]),
        ),
        "count": await _latency(c, samples, lambda i: (vms, {"count": "true"})),
        "page_100_by_create_date": await _latency(
            c, samples, lambda i: (vms, {"limit": "100", "sort": "-createDate"})
        ),
    }
    for name, figures in out.items():
        print(f"query {name}: {figures}", flush=True)
    return out


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="zcloud bench vm")
    p.add_argument("--nodes", type=int, default=2)
    p.add_argument("--hosts", type=int, default=100)
    p.add_argument("--vms", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--large-hosts", type=int, default=1000)
    p.add_argument("--large-vms", type=int, default=10_000)
    p.add_argument("--query-vms", type=int, default=100_000)
    p.add_argument("--samples", type=int, default=200)
    return p.parse_args(argv)


async def _measure(
    args: argparse.Namespace, c: Client, sim_url: str, db_url: str, procs: list[Proc]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    await _unlimited_quotas(c)
    cloud = await _cloud(c, sim_url)
    hosts = await _hosts(c, cloud["cluster"], 0, args.hosts)
    print(f"{args.hosts} hosts added: {hosts}", flush=True)
    small = await _part(c, cloud, args.vms, args.concurrency, "s")
    small.update(hosts=args.hosts, peak_rss_mib=peak_rss_mib(procs))
    small["within_target"] = small["vms"]["seconds"] <= 30 and small["vms"]["failed"] == 0
    result["small"] = small
    if args.large_vms:
        more = await _hosts(c, cloud["cluster"], args.hosts, args.large_hosts)
        print(f"hosts up to {args.large_hosts}: {more}", flush=True)
        large = await _part(c, cloud, args.large_vms, args.concurrency, "l")
        large.update(hosts=args.large_hosts, peak_rss_mib=peak_rss_mib(procs))
        large["within_target"] = large["vms"]["seconds"] <= 300 and large["vms"]["failed"] == 0
        result["large"] = large
    if args.query_vms:
        filled = await fill_vm_table(db_url, args.query_vms)
        shown = {k: v for k, v in filled.items() if k != "ips"}
        print(f"VM table filled to {args.query_vms} rows: {shown}", flush=True)
        queries = await _queries(c, filled["ips"], cloud["zone"], args.samples)
        measured = [v for k, v in queries.items() if k != "get_zone_baseline"]
        result["query"] = {
            "vms": args.query_vms,
            "copied_rows": filled["copied"],
            **queries,
            "p50_within_target": all(v["p50_ms"] <= 20 for v in measured),
        }
    return result


async def main(argv: list[str]) -> int:
    args = _args(argv)
    workdir = Path(mkdtemp(prefix="zcloud-bench-vm-"))
    print(f"bench vm: {args.nodes} nodes, 1 frontend, 1 simulator; logs in {workdir}")
    result: dict[str, Any] = {"bench": "vm", "nodes": args.nodes}
    async with scratch() as env:
        cluster = LocalCluster(
            env.db_url,
            env.amqp_url,
            env.prefix,
            workdir,
            64,
            db_pool_size=20,  # the production default: the benchmark is alone on the server
            extra_env={
                "ZCLOUD_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
                "ZCLOUD_ADMIN_PASSWORD": PASSWORD,
            },
        )
        api = cluster.api("bench-api")
        sim = cluster.sim().start()
        nodes = [
            cluster.mgmt(
                f"bench-node{i}", ZCLOUD_CALLBACK_BASE_URL=api.url, ZCLOUD_SIMULATOR_URL=sim.url
            ).start()
            for i in range(args.nodes)
        ]
        try:
            for node in nodes:
                await node.wait_ready(timeout=60)
            await sim.wait_ready("/health")
            api.start()
            await api.wait_ready(timeout=60)
            limits = httpx.Limits(max_connections=args.concurrency * 2)
            async with httpx.AsyncClient(timeout=180, limits=limits) as http:
                login = await http.post(
                    f"{api.url}/v1/sessions", json={"accountName": "admin", "password": PASSWORD}
                )
                login.raise_for_status()
                c = Client(http, api.url, login.json()["inventory"]["token"])
                result.update(await _measure(args, c, sim.url, env.db_url, cluster.procs))
        finally:
            await cluster.stop_all()
    print(json.dumps(result))
    return 0


async def _unlimited_quotas(c: Client) -> None:
    """The admin account's VM quotas out of the way (the bench measures the flow)."""
    me = (await c.get("/v1/accounts", {"q": "name=admin"})).json()["inventories"][0]["uuid"]
    for name in ("vm.num", "vm.cpuNum", "vm.memorySize", "zone.num"):
        resp = await c.post(
            f"/v1/accounts/{me}/actions/update-quota", {"name": name, "value": 1 << 50}
        )
        if resp.status_code != 200:
            print(f"quota {name}: {resp.status_code} {resp.text[:200]}", flush=True)
