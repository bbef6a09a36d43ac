"""Three management processes; one is killed with SIGKILL mid-stream.

Every message the broker accepted is handled exactly once (the handler dedupes by message
id), per-resource order holds, the dead node's partitions are consumed by the survivors
within lease + 5 s, and the restarted node rejoins and takes a share.

It runs on a RabbitMQ node and a PostgreSQL cluster of its own (``own_services``): what it
measures is the take-over, and on the shared broker, late in the suite, the quorum queues
of every earlier test were still being torn down behind it (attaching 4 partitions took
up to 4.8 s there, against well under a second alone).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import defaultdict

import pytest
from sqlalchemy import select

from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.bench.failover import Sender, partitions_of, recorded, wait_settled
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.diag.models import DiagRecord
from tests.helpers.eventually import eventually
from tests.helpers.services import ServerUrls
from tests.integration.conftest import HEARTBEAT, PARTITIONS, OwnServices

pytestmark = pytest.mark.own_services


@pytest.fixture(scope="module")
def servers(own_services: OwnServices) -> ServerUrls:
    return own_services.urls


MESSAGES = 10_000
RESOURCES = 1_000


async def test_kill_one_of_three_mid_stream(
    cluster: LocalCluster, client_bus: Bus, db: Database
) -> None:
    nodes = [cluster.mgmt(f"node{i}").start() for i in range(3)]
    for node in nodes:
        await node.wait_ready()
    before = await wait_settled(nodes, PARTITIONS)
    assert all(before.values()), f"a node owns nothing: {before}"

    sender = Sender(client_bus, RESOURCES)
    sending = asyncio.create_task(sender.run(rate=0, concurrency=32, limit=MESSAGES))
    try:
        await _kill_and_check(cluster, nodes, before, sender, sending, db)
    finally:
        sender.stop()
        await asyncio.gather(sending, return_exceptions=True)


async def _kill_and_check(
    cluster: LocalCluster,
    nodes: list[Proc],
    before: dict[str, set[int]],
    sender: Sender,
    sending: asyncio.Task[None],
    db: Database,
) -> None:
    await eventually(lambda: sender.confirmed >= MESSAGES // 4, timeout=60)

    victim, survivors = nodes[0], nodes[1:]
    moving = before[victim.name]
    victim.kill(signal.SIGKILL)
    killed_at = time.monotonic()

    async def taken_over() -> bool:
        owned = await partitions_of(survivors)
        return moving <= set().union(*owned.values())

    await eventually(taken_over, timeout=HEARTBEAT * 3 + 5, interval=0.1)
    took = time.monotonic() - killed_at
    assert took <= HEARTBEAT * 3 + 5

    await sending
    assert sender.confirmed == MESSAGES
    await eventually(lambda: _all_recorded(db), timeout=90, interval=0.5)

    async with db.session() as s:
        rows = (await s.execute(select(DiagRecord).order_by(DiagRecord.id))).scalars().all()
    assert len(rows) == MESSAGES, "every accepted message is recorded exactly once"
    by_resource: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        by_resource[row.resource_uuid].append(row.seq)
    assert len(by_resource) == RESOURCES
    for resource, seqs in by_resource.items():
        assert seqs == sorted(seqs), f"order broken for {resource}: {seqs}"
        assert seqs == list(range(len(seqs)))
    assert {r.node for r in rows} >= {"node1", "node2"}

    # the killed node comes back under its name, rejoins and takes a share
    restarted = cluster.mgmt("node0").start()
    await restarted.wait_ready()
    after = await wait_settled([restarted, *survivors], PARTITIONS)
    assert after["node0"], "the restarted node took no partitions"


async def _all_recorded(db: Database) -> bool:
    return await recorded(db) >= MESSAGES
