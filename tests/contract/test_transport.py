"""The transport contract (mgmt/core/bus/transport.py), identical for both transports."""

from __future__ import annotations

import asyncio
import time

from mgmt.core.bus import Delivery, Envelope
from tests.contract.conftest import MAX_ATTEMPTS, Transports
from tests.helpers.eventually import eventually


class Collector:
    """A consumer callback that records deliveries and settles them as told."""

    def __init__(self, settle: str = "ack") -> None:
        self.deliveries: list[Delivery] = []
        self.settle = settle

    async def __call__(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        if self.settle == "ack":
            await delivery.ack()
        elif self.settle == "requeue":
            await delivery.requeue()

    @property
    def bodies(self) -> list[bytes]:
        return [d.envelope.body for d in self.deliveries]


def env(n: int | str, **kw: object) -> Envelope:
    return Envelope(type="T", body=str(n).encode(), resource_uuid="r", **kw)  # type: ignore[arg-type]


async def test_publish_consume_and_fields_round_trip(transports: Transports) -> None:
    t = await transports.new()
    deadline = time.time() + 30
    sent = Envelope(
        type="Thing",
        body=b'{"a": 1}',
        resource_uuid="res-1",
        correlation_id="corr",
        reply_to="somewhere",
        deadline=deadline,
        sender="n1",
        is_error=True,
    )
    await t.publish(0, sent)
    got = Collector()
    consumer = await t.consume(0, got, prefetch=10)
    await eventually(lambda: got.deliveries, timeout=10)
    e = got.deliveries[0].envelope
    assert (e.type, e.body, e.message_id, e.resource_uuid) == (
        "Thing",
        b'{"a": 1}',
        sent.message_id,
        "res-1",
    )
    assert (e.correlation_id, e.reply_to, e.sender, e.is_error) == ("corr", "somewhere", "n1", True)
    assert e.deadline is not None and abs(e.deadline - deadline) < 0.002
    assert got.deliveries[0].delivery_count == 1
    await consumer.close()


async def test_single_active_consumer_hands_over_unacked_in_order(transports: Transports) -> None:
    a_transport = await transports.new("a")
    b_transport = await transports.new("b")
    for i in range(5):
        await a_transport.publish(1, env(i))
    holder = Collector(settle="none")
    first = await a_transport.consume(1, holder, prefetch=10)
    await eventually(lambda: len(holder.deliveries) == 5, timeout=10)
    standby = Collector()
    second = await b_transport.consume(1, standby, prefetch=10)
    await asyncio.sleep(0.3)
    assert standby.deliveries == [], "a standby consumer must not receive while one is active"
    await first.close()
    await eventually(lambda: len(standby.deliveries) == 5, timeout=10)
    assert standby.bodies == [b"0", b"1", b"2", b"3", b"4"]
    assert all(d.delivery_count == 2 for d in standby.deliveries)
    await second.close()


async def test_requeue_redelivers_then_dead_letters_after_max_attempts(
    transports: Transports,
) -> None:
    t = await transports.new()
    poison = env("poison")
    await t.publish(2, poison)
    got = Collector(settle="requeue")
    consumer = await t.consume(2, got, prefetch=1)
    await eventually(lambda: len(got.deliveries) == MAX_ATTEMPTS, timeout=10)
    assert [d.delivery_count for d in got.deliveries] == list(range(1, MAX_ATTEMPTS + 1))
    dead = await eventually(t.dead_letters, timeout=10)
    assert [d.message_id for d in dead] == [poison.message_id]
    await asyncio.sleep(0.2)
    assert len(got.deliveries) == MAX_ATTEMPTS, "a dead-lettered message is not delivered again"
    await consumer.close()


async def test_explicit_dead_letter(transports: Transports) -> None:
    t = await transports.new()
    sent = env("bad")
    await t.publish(3, sent)

    async def reject(d: Delivery) -> None:
        await d.dead_letter("malformed")

    consumer = await t.consume(3, reject, prefetch=1)
    dead = await eventually(t.dead_letters, timeout=10)
    assert dead[0].message_id == sent.message_id
    await consumer.close()


async def test_prefetch_bounds_unacked_deliveries(transports: Transports) -> None:
    t = await transports.new()
    for i in range(10):
        await t.publish(0, env(i))
    holder = Collector(settle="none")
    consumer = await t.consume(0, holder, prefetch=3)
    await eventually(lambda: len(holder.deliveries) == 3, timeout=10)
    await asyncio.sleep(0.3)
    assert len(holder.deliveries) == 3
    await holder.deliveries[0].ack()
    await eventually(lambda: len(holder.deliveries) == 4, timeout=10)
    assert await t.queue_depth(0) == 6
    await consumer.close()


async def test_events_by_topic_pattern(transports: Transports) -> None:
    t = await transports.new()
    vm, anything, other = Collector(), Collector(), Collector()
    c1 = await t.subscribe("vm", ["vm.*"], vm, durable=False)
    c2 = await t.subscribe("all", ["#"], anything, durable=False)
    c3 = await t.subscribe("host", ["host.#"], other, durable=False)
    await t.publish_event("vm.StateChanged", env("e1"))
    await t.publish_event("vm.nic.Attached", env("e2"))
    await eventually(lambda: len(anything.deliveries) == 2, timeout=10)
    await eventually(lambda: vm.bodies == [b"e1"], timeout=10)
    await asyncio.sleep(0.2)
    assert other.deliveries == []
    for c in (c1, c2, c3):
        await c.close()


async def test_replies_reach_the_reply_address(transports: Transports) -> None:
    received: list[Envelope] = []
    t = transports.make("replier")
    await t.start(received.append)
    transports.started.append(t)
    other = await transports.new("other")
    await other.reply(t.reply_address, Envelope(type="R", body=b"hi", correlation_id="c1"))
    await eventually(lambda: received, timeout=10)
    assert received[0].correlation_id == "c1" and received[0].body == b"hi"
