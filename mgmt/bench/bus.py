"""``zcloud bench bus``: request/reply through partition routing versus plain aio-pika.

Two processes each way: this one calls, a server process answers. The zcloud path is a
``zcloud mgmt`` node owning all partitions, called with ``Bus.call(Echo)``; the baseline is
``mgmt.bench.baseline`` on one quorum queue with the same durability. Same concurrency, same
duration, same payload, one after the other in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from tempfile import mkdtemp

import aio_pika

from mgmt.bench.baseline import BaselineClient
from mgmt.bench.cluster import LocalCluster
from mgmt.bench.env import scratch
from mgmt.bench.stats import Figures, figures
from mgmt.core.bus import Bus
from mgmt.core.bus.rabbit import RabbitTransport
from mgmt.core.metrics import BusMetrics
from mgmt.diag import Echo


async def drive(call: Callable[[], Awaitable[object]], concurrency: int, seconds: float) -> Figures:
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return figures(latencies, time.perf_counter() - began)


async def zcloud_path(args: argparse.Namespace, workdir: Path) -> Figures:
    async with scratch() as env:
        cluster = LocalCluster(
            env.db_url,
            env.amqp_url,
            env.prefix,
            workdir,
            args.partitions,
            extra_env={"ZCLOUD_LOG_LEVEL": "WARNING"},
        )
        node = cluster.mgmt("bench-node").start()
        try:
            await node.wait_ready(timeout=60)
            transport = RabbitTransport(
                env.amqp_url,
                prefix=env.prefix,
                partitions=args.partitions,
                max_attempts=5,
                node_id="bench-client",
            )
            bus = Bus(
                transport, node_id="bench-client", partitions=args.partitions, metrics=BusMetrics()
            )
            await bus.start()
            resources = [str(uuid.uuid4()) for _ in range(args.resources)]
            payload = "x" * args.payload

            async def call() -> object:
                return await bus.call(Echo(resourceUuid=random.choice(resources), text=payload))

            await drive(call, args.concurrency, args.warmup)
            result = await drive(call, args.concurrency, args.seconds)
            await bus.close()
            return result
        finally:
            await cluster.stop_all()


async def baseline_path(args: argparse.Namespace, workdir: Path) -> Figures:
    async with scratch() as env:
        queue = f"{env.prefix}.baseline"
        log = (workdir / "baseline.log").open("ab")
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "mgmt.bench.baseline",
            env.amqp_url,
            queue,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
        try:
            assert server.stdout is not None
            await asyncio.wait_for(server.stdout.readline(), 30)
            client = BaselineClient(env.amqp_url, queue)
            await client.start()
            body = json.dumps(
                {"resourceUuid": str(uuid.uuid4()), "text": "x" * args.payload}
            ).encode()

            async def call() -> object:
                return await client.call(body)

            await drive(call, args.concurrency, args.warmup)
            result = await drive(call, args.concurrency, args.seconds)
            await client.close()
            return result
        finally:
            server.kill()
            await server.wait()
            log.close()
            # the baseline queue is outside the partition topology: delete it explicitly
            conn = await aio_pika.connect(env.amqp_url)
            async with conn.channel() as ch:
                await ch.queue_delete(queue)
            await conn.close()


def _row(name: str, f: Figures) -> str:
    return (
        f"{name:<28}{f.per_second:>10.0f}/s   p50 {f.p50_ms:7.2f} ms   "
        f"p99 {f.p99_ms:7.2f} ms   ({f.count} calls)"
    )


async def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="zcloud bench bus")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--resources", type=int, default=1000)
    p.add_argument("--payload", type=int, default=64, help="bytes of text per request")
    p.add_argument("--partitions", type=int, default=64)
    args = p.parse_args(argv)
    workdir = Path(mkdtemp(prefix="zcloud-bench-bus-"))
    print(
        f"bench bus: {args.concurrency} concurrent callers, {args.seconds:.0f} s each, "
        f"{args.payload}-byte payload, logs in {workdir}",
        flush=True,
    )
    base = await baseline_path(args, workdir)
    print(_row("plain aio-pika (baseline)", base), flush=True)
    ours = await zcloud_path(args, workdir)
    print(_row("zcloud partitioned bus", ours), flush=True)
    ratio = ours.per_second / base.per_second if base.per_second else 0.0
    print(f"ratio zcloud/baseline: {ratio:.2f}", flush=True)
    print(
        json.dumps(
            {
                "benchmark": "bus",
                "concurrency": args.concurrency,
                "seconds": args.seconds,
                "zcloud": {
                    "per_second": round(ours.per_second, 1),
                    "p50_ms": round(ours.p50_ms, 2),
                    "p99_ms": round(ours.p99_ms, 2),
                    "calls": ours.count,
                },
                "baseline": {
                    "per_second": round(base.per_second, 1),
                    "p50_ms": round(base.p50_ms, 2),
                    "p99_ms": round(base.p99_ms, 2),
                    "calls": base.count,
                },
                "ratio": round(ratio, 3),
                "target": {"per_second": 3000, "ratio": 0.6},
            }
        )
    )
    return 0
