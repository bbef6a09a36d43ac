"""The bus contract on top of either transport: routing, replies, ordering, failures."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from typing import ClassVar

import pytest

from mgmt.core.bus import Bus, HandlerContext, HandlerTable, PartitionConsumer
from mgmt.core.errors import Codes, OperationTimeout, ZCloudError, error
from mgmt.core.messages import Reply, Request
from tests.contract.conftest import MAX_ATTEMPTS, PARTITIONS, Transports
from tests.helpers.eventually import eventually


class Done(Reply):
    node: str
    remaining: float | None = None


class Work(Request[Done]):
    resourceUuid: str
    seq: int = 0
    sleep: float = 0.0
    fail: bool = False
    nested: bool = False


class Wide(Request[Done]):
    """Up to three at once per resource."""

    sync_level: ClassVar[int] = 3
    resourceUuid: str
    sleep: float = 0.0


class Node:
    """A bus with handlers consuming every partition: one management node, in miniature."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.seen: dict[str, list[int]] = defaultdict(list)
        self.running: dict[str, int] = defaultdict(int)
        self.max_running: dict[str, int] = defaultdict(int)
        self.total_running = 0
        self.max_total = 0
        self.table = HandlerTable()
        self.table.add(Work, self.work)
        self.table.add(Wide, self.wide)
        self.consumers: list[PartitionConsumer] = []

    async def start(self) -> None:
        for p in range(PARTITIONS):
            c = PartitionConsumer(p, self.bus, self.table, prefetch=50, max_attempts=MAX_ATTEMPTS)
            await c.attach(self.bus.transport)
            self.consumers.append(c)

    async def stop(self) -> None:
        for c in self.consumers:
            await c.release(5)

    async def _track(self, key: str, sleep: float) -> None:
        self.running[key] += 1
        self.total_running += 1
        self.max_running[key] = max(self.max_running[key], self.running[key])
        self.max_total = max(self.max_total, self.total_running)
        await asyncio.sleep(sleep)
        self.running[key] -= 1
        self.total_running -= 1

    async def work(self, msg: Work, ctx: HandlerContext) -> Done:
        if msg.fail:
            raise ZCloudError(error(Codes.INTERNAL, "asked to"))
        if msg.nested:
            inner = await ctx.bus.call(Work(resourceUuid=msg.resourceUuid + "-inner"))
            return Done(node=ctx.node_id, remaining=inner.remaining)
        await self._track(msg.resourceUuid, msg.sleep)
        self.seen[msg.resourceUuid].append(msg.seq)
        return Done(node=ctx.node_id, remaining=ctx.remaining())

    async def wide(self, msg: Wide, ctx: HandlerContext) -> Done:
        await self._track(msg.resourceUuid, msg.sleep)
        return Done(node=ctx.node_id)


@pytest.fixture
async def node(transports: Transports) -> Node:
    n = Node(await transports.bus("node"))
    await n.start()
    return n


@pytest.fixture
async def client(transports: Transports) -> Bus:
    return await transports.bus("client")


async def test_call_reply_and_errors(node: Node, client: Bus) -> None:
    reply = await client.call(Work(resourceUuid="r1"))
    assert reply.node == "node"
    with pytest.raises(ZCloudError) as info:
        await client.call(Work(resourceUuid="r1", fail=True))
    assert info.value.error.code == "SYS.1002"
    assert info.value.error.cause is not None and info.value.error.cause.code == "SYS.1000"
    assert (await client.call(Work(resourceUuid="r1"))).node == "node", "partition not blocked"
    await node.stop()


async def test_timeout_is_a_structured_error(node: Node, client: Bus) -> None:
    started = time.monotonic()
    with pytest.raises(OperationTimeout) as info:
        await client.call(Work(resourceUuid="slow", sleep=2.0), timeout=0.3)
    assert info.value.error.code == "SYS.1001"
    assert time.monotonic() - started < 1.5
    await node.stop()


async def test_nested_call_inherits_the_remaining_deadline(node: Node, client: Bus) -> None:
    reply = await client.call(Work(resourceUuid="outer", nested=True), timeout=5)
    assert reply.remaining is not None and 0 < reply.remaining <= 5
    await node.stop()


async def test_per_resource_order_with_cross_resource_concurrency(node: Node, client: Bus) -> None:
    resources = [f"res-{i}" for i in range(20)]

    async def stream(resource: str) -> None:
        for seq in range(25):
            await client.send(Work(resourceUuid=resource, seq=seq, sleep=random.uniform(0, 0.004)))

    await asyncio.gather(*(stream(r) for r in resources))
    await eventually(lambda: all(len(node.seen[r]) == 25 for r in resources), timeout=30)
    for r in resources:
        assert node.seen[r] == list(range(25)), f"{r} out of order"
        assert node.max_running[r] == 1
    assert node.max_total > 1, "different resources must run concurrently"
    await node.stop()


async def test_sync_level_three_runs_at_most_three(node: Node, client: Bus) -> None:
    await asyncio.gather(*(client.call(Wide(resourceUuid="wide", sleep=0.05)) for _ in range(12)))
    assert node.max_running["wide"] == 3
    await node.stop()


async def test_release_finishes_running_work_and_hands_the_rest_over_in_order(
    transports: Transports, client: Bus
) -> None:
    first = Node(await transports.bus("first"))
    await first.start()
    resource = "handover"
    for seq in range(10):
        await client.send(Work(resourceUuid=resource, seq=seq, sleep=0.05))
    await eventually(lambda: len(first.seen[resource]) >= 2, timeout=10)
    second = Node(await transports.bus("second"))
    await second.start()  # standby until the first releases
    await first.stop()
    await eventually(
        lambda: len(first.seen[resource]) + len(second.seen[resource]) >= 10, timeout=30
    )
    combined = first.seen[resource] + second.seen[resource]
    assert combined == list(range(10)), combined
    await second.stop()
