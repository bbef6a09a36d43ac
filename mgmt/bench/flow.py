"""``zcloud bench flow``: 5-step no-op flows per second, durable on PostgreSQL versus the
same flow with persistence off (in-memory store), in one run and one process.

The durable run writes the run row at start and after every step (7 writes a flow) and
waits for each before going on; concurrent flows share commits (group commit). The
comparison isolates what durability costs: same engine, same steps, same concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

from pydantic import BaseModel

from mgmt.bench.env import scratch
from mgmt.bench.stats import Figures, figures
from mgmt.core.db import Database
from mgmt.core.db.migrate import upgrade
from mgmt.core.flow import (
    DbFlowStore,
    FlowDef,
    FlowEngine,
    FlowMetrics,
    FlowRegistry,
    FlowStore,
    MemoryFlowStore,
    Step,
)
from mgmt.core.logging import configure


class NoopCtx(BaseModel):
    n: int = 0


class Noop(Step[NoopCtx]):
    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def step_name(self) -> str:
        return self._name

    async def run(self, ctx: NoopCtx) -> Any:
        ctx.n += 1
        return None


FLOW = FlowDef("BenchNoop", NoopCtx, [Noop(f"step{i}") for i in range(1, 6)])


async def measure(store: FlowStore, concurrency: int, seconds: float, warmup: float) -> Figures:
    flows = FlowRegistry()
    flows.add(FLOW)
    engine = FlowEngine(store, flows, node_id="bench", partitions=64, metrics=FlowMetrics())

    async def one() -> None:
        out = await engine.run(FLOW, NoopCtx(), resource_uuid=str(uuid.uuid4()))
        assert out.n == 5

    async def phase(duration: float) -> Figures:
        latencies: list[float] = []
        stop_at = time.perf_counter() + duration

        async def worker() -> None:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                await one()
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return figures(latencies, time.perf_counter() - began)

    await phase(warmup)
    return await phase(seconds)


def _row(name: str, f: Figures) -> str:
    return (
        f"{name:<34}{f.per_second:>9.0f} flows/s   p50 {f.p50_ms:7.2f} ms   "
        f"p99 {f.p99_ms:7.2f} ms   ({f.count} flows)"
    )


def _fig(f: Figures) -> dict[str, float | int]:
    return {
        "per_second": round(f.per_second, 1),
        "p50_ms": round(f.p50_ms, 2),
        "p99_ms": round(f.p99_ms, 2),
        "flows": f.count,
    }


async def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="zcloud bench flow")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--concurrency", type=int, default=64)
    args = p.parse_args(argv)
    configure("WARNING", json=True)
    print(
        f"bench flow: 5-step no-op flows, {args.concurrency} concurrent, {args.seconds:.0f} s each",
        flush=True,
    )
    memory = await measure(MemoryFlowStore(), args.concurrency, args.seconds, args.warmup)
    print(_row("persistence off (in-memory store)", memory), flush=True)
    async with scratch() as env:
        db = Database(env.db_url, pool_size=20)
        try:
            await upgrade(db)
            store = DbFlowStore(db)
            durable = await measure(store, args.concurrency, args.seconds, args.warmup)
            await store.close()
        finally:
            await db.close()
    print(_row("durable on PostgreSQL", durable), flush=True)
    cost = memory.per_second / durable.per_second if durable.per_second else float("inf")
    print(f"persistence cost: {cost:.2f}x (durable is {1 / cost:.1%} of in-memory)", flush=True)
    print(
        json.dumps(
            {
                "benchmark": "flow",
                "steps": 5,
                "concurrency": args.concurrency,
                "seconds": args.seconds,
                "durable": _fig(durable),
                "memory": _fig(memory),
                "persistence_cost": round(cost, 2),
                "target": {"durable_per_second": 300, "persistence_cost_max": 3.0},
            }
        )
    )
    return 0
