"""``zcloud bench failover``: SIGKILL a management node under load; how long until every
partition it owned is consumed by a survivor, and how many messages were lost (must be 0).

Three ``zcloud mgmt`` processes on PostgreSQL + RabbitMQ; a sender keeps durable
``RecordSequence`` messages flowing over 1,000 resources; the victim is killed mid-stream.
Partition ownership is read from each node's ``/ready``; "lost" is sent minus recorded
(the handler records each message exactly once, deduplicated by message id).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
import uuid
from pathlib import Path
from tempfile import mkdtemp

from sqlalchemy import func, select

from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.bench.env import scratch
from mgmt.core.bus import Bus
from mgmt.core.bus.rabbit import RabbitTransport
from mgmt.core.db import Database
from mgmt.core.metrics import BusMetrics
from mgmt.diag import RecordSequence
from mgmt.diag.models import DiagRecord


async def partitions_of(procs: list[Proc]) -> dict[str, set[int]]:
    """Which partitions each live node says it consumes."""
    owned: dict[str, set[int]] = {}
    for proc in procs:
        if not proc.alive:
            continue
        try:
            body = await proc.get_json("/ready")
        except Exception:
            continue
        parts = body.get("partitions")
        owned[proc.name] = set(parts) if isinstance(parts, list) else set()
    return owned


async def wait_settled(
    procs: list[Proc], partitions: int, timeout: float = 60.0
) -> dict[str, set[int]]:
    """Until the live nodes own every partition exactly once between them."""
    deadline = time.monotonic() + timeout
    while True:
        owned = await partitions_of(procs)
        union: set[int] = set().union(*owned.values()) if owned else set()
        total = sum(len(v) for v in owned.values())
        if (
            len(owned) == sum(p.alive for p in procs)
            and union == set(range(partitions))
            and total == partitions
        ):
            return owned
        if time.monotonic() > deadline:
            raise TimeoutError(f"partitions did not settle: {owned}")
        await asyncio.sleep(0.05)


class Sender:
    """Sends RecordSequence messages, in order per resource, until stopped."""

    def __init__(self, bus: Bus, resources: int) -> None:
        self._bus = bus
        self.uuids = [str(uuid.uuid4()) for _ in range(resources)]
        self.next_seq = [0] * resources
        self.sent = 0
        self.confirmed = 0  # accepted by the broker
        self._stop = asyncio.Event()

    async def run(self, rate: float, concurrency: int = 16, limit: int | None = None) -> None:
        """Send at about ``rate``/s (0: as fast as possible), ``limit`` messages at most.
        Each resource belongs to one worker, so its messages are sent in ``seq`` order."""
        interval = concurrency / rate if rate else 0.0

        async def worker(slot: int) -> None:
            mine = list(range(slot, len(self.uuids), concurrency))
            i = 0
            while mine and not self._stop.is_set():
                if limit is not None and self.sent >= limit:
                    return
                self.sent += 1  # counted before the await so the limit holds across workers
                r = mine[i % len(mine)]
                i += 1
                seq = self.next_seq[r]
                self.next_seq[r] += 1
                await self._bus.send(RecordSequence(resourceUuid=self.uuids[r], seq=seq))
                self.confirmed += 1
                if interval:
                    await asyncio.sleep(interval)

        await asyncio.gather(*(worker(s) for s in range(concurrency)))

    def stop(self) -> None:
        self._stop.set()


async def recorded(db: Database) -> int:
    async with db.session() as s:
        return int((await s.execute(select(func.count()).select_from(DiagRecord))).scalar_one())


async def _kill_under_load(
    nodes: list[Proc], before: dict[str, set[int]], bus: Bus, db: Database, rate: float
) -> tuple[float, set[int], int, int]:
    """Kill nodes[0] mid-stream; (seconds to take-over, partitions moved, sent, lost)."""
    sender = Sender(bus, 1000)
    sending = asyncio.create_task(sender.run(rate))
    await asyncio.sleep(3.0)
    victim = nodes[0]
    moving = before[victim.name]
    victim.kill(signal.SIGKILL)
    killed_at = time.monotonic()
    print(
        f"killed {victim.name} ({len(moving)} partitions) after {sender.sent} messages", flush=True
    )
    while True:
        owned = await partitions_of(nodes[1:])
        if moving <= (set().union(*owned.values()) if owned else set()):
            break
        if time.monotonic() - killed_at > 60:
            raise TimeoutError("partitions were not taken over within 60 s")
        await asyncio.sleep(0.05)
    failover = time.monotonic() - killed_at
    print(f"all {len(moving)} partitions consumed by survivors after {failover:.2f} s", flush=True)
    await asyncio.sleep(2.0)
    sender.stop()
    await sending
    deadline = time.monotonic() + 60
    count = await recorded(db)
    while count < sender.confirmed and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        count = await recorded(db)
    lost = sender.confirmed - count
    print(f"sent {sender.confirmed}, recorded {count}, lost {lost}", flush=True)
    return failover, moving, sender.confirmed, lost


async def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="zcloud bench failover")
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--partitions", type=int, default=64)
    p.add_argument("--rate", type=float, default=300.0, help="messages/s during the test")
    p.add_argument("--heartbeat", type=float, default=2.0)
    args = p.parse_args(argv)
    lease = args.heartbeat * 3
    workdir = Path(mkdtemp(prefix="zcloud-bench-failover-"))
    print(
        f"bench failover: {args.nodes} nodes, {args.partitions} partitions, lease {lease:.1f} s, "
        f"{args.rate:.0f} msg/s, logs in {workdir}",
        flush=True,
    )
    async with scratch() as env:
        cluster = LocalCluster(
            env.db_url,
            env.amqp_url,
            env.prefix,
            workdir,
            args.partitions,
            extra_env={
                "ZCLOUD_HEARTBEAT_INTERVAL": str(args.heartbeat),
                "ZCLOUD_LOG_LEVEL": "WARNING",
            },
        )
        nodes = [cluster.mgmt(f"node{i}") for i in range(args.nodes)]
        for n in nodes:
            n.start()
        db = Database(env.db_url)
        transport = RabbitTransport(
            env.amqp_url,
            prefix=env.prefix,
            partitions=args.partitions,
            max_attempts=5,
            node_id="bench-sender",
        )
        bus = Bus(
            transport, node_id="bench-sender", partitions=args.partitions, metrics=BusMetrics()
        )
        try:
            for n in nodes:
                await n.wait_ready(timeout=60)
            before = await wait_settled(nodes, args.partitions)
            await bus.start()
            failover, moving, sent, lost = await _kill_under_load(nodes, before, bus, db, args.rate)
        finally:
            await bus.close()
            await db.close()
            await cluster.stop_all()
    ok = failover <= lease + 2 and lost == 0
    print(
        json.dumps(
            {
                "benchmark": "failover",
                "nodes": args.nodes,
                "partitions_moved": len(moving),
                "lease_seconds": lease,
                "failover_seconds": round(failover, 2),
                "target_seconds": lease + 2,
                "messages_sent": sent,
                "messages_lost": lost,
                "met": ok,
            }
        )
    )
    return 0 if ok else 1
