"""In-process transport for the all-in-one: the RabbitMQ contract without a broker.

An ``InprocBroker`` holds the queues; each ``InprocTransport`` is one process's view of it
(tests attach several to one broker to play several nodes). Semantics match the RabbitMQ
transport: durable partition queues, single active consumer, prefetch, unsettled messages
returned in original order on close, dead-lettering after ``max_attempts`` deliveries, topic
events, reply addresses. Durability is the process's lifetime: the all-in-one is one process.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field

from mgmt.core.bus.envelope import Envelope, new_id
from mgmt.core.bus.transport import ConnectionListener, DeliveryHandler, ReplyHandler
from mgmt.core.logging import get_logger

log = get_logger(__name__)


@dataclass(order=True)
class _Msg:
    seq: int
    envelope: Envelope = field(compare=False)
    delivery_count: int = field(default=0, compare=False)


class _Delivery:
    __slots__ = ("_consumer", "_msg", "delivery_count", "envelope", "settled")

    def __init__(self, consumer: _Consumer, msg: _Msg) -> None:
        self._consumer = consumer
        self._msg = msg
        self.envelope = msg.envelope
        self.delivery_count = msg.delivery_count
        self.settled = False

    def _settle(self) -> bool:
        if self.settled or self._consumer.closed:
            return False  # like an ack on a closed channel: the message was already returned
        self.settled = True
        self._consumer.unacked.pop(self._msg.seq, None)
        return True

    async def ack(self) -> None:
        if self._settle():
            self._consumer.queue.kick()

    async def requeue(self) -> None:
        if self._settle():
            self._consumer.queue.give_back(self._msg)

    async def dead_letter(self, reason: str) -> None:
        if self._settle():
            self._consumer.queue.broker.to_dead_letters(self._msg.envelope, reason)
            self._consumer.queue.kick()


class _Consumer:
    def __init__(self, queue: _Queue, handler: DeliveryHandler, prefetch: int) -> None:
        self.queue = queue
        self.handler = handler
        self.prefetch = prefetch
        self.unacked: dict[int, _Msg] = {}
        self.closed = False

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.queue.detach(self)


class _Queue:
    def __init__(self, broker: InprocBroker, name: str, *, durable: bool) -> None:
        self.broker = broker
        self.name = name
        self.durable = durable
        self.ready: list[_Msg] = []  # heap by seq: returned messages keep their place
        self.consumers: list[_Consumer] = []
        self._again = False
        self._pump_task: asyncio.Task[None] | None = None

    def put(self, msg: _Msg) -> None:
        heapq.heappush(self.ready, msg)
        self.kick()

    def give_back(self, msg: _Msg) -> None:
        if msg.delivery_count >= self.broker.max_attempts:
            self.broker.to_dead_letters(msg.envelope, "delivery limit reached")
        else:
            heapq.heappush(self.ready, msg)
        self.kick()

    def attach(self, consumer: _Consumer) -> None:
        self.consumers.append(consumer)
        self.kick()

    def detach(self, consumer: _Consumer) -> None:
        if consumer in self.consumers:
            self.consumers.remove(consumer)
        for msg in consumer.unacked.values():
            self.give_back(msg)
        consumer.unacked.clear()
        if not self.durable and not self.consumers:
            self.broker.drop_queue(self.name)
        self.kick()

    def kick(self) -> None:
        """Make sure a pump runs; it exits as soon as nothing more can be delivered."""
        self._again = True
        if self._pump_task is None or self._pump_task.done():
            self._pump_task = asyncio.get_running_loop().create_task(self._pump())
            self.broker.tasks.add(self._pump_task)
            self._pump_task.add_done_callback(self.broker.tasks.discard)

    async def _pump(self) -> None:
        while self._again:
            self._again = False
            active = self.consumers[0] if self.consumers else None
            while (
                active is not None
                and not active.closed
                and self.ready
                and len(active.unacked) < active.prefetch
            ):
                msg = heapq.heappop(self.ready)
                msg.delivery_count += 1
                active.unacked[msg.seq] = msg
                try:
                    await active.handler(_Delivery(active, msg))
                except Exception:  # a consumer callback must not kill the queue
                    log.exception("inproc.consumer_failed", queue=self.name)
                if self.consumers[:1] != [active]:
                    self._again = True
                    break


class InprocBroker:
    """Queues shared by the in-process transports of one Python process."""

    def __init__(self, max_attempts: int = 5) -> None:
        self.max_attempts = max_attempts
        self.queues: dict[str, _Queue] = {}
        self.dead: list[tuple[Envelope, str]] = []
        self.reply_handlers: dict[str, ReplyHandler] = {}
        self.subscriptions: dict[str, list[str]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._seq = itertools.count()

    async def close(self) -> None:
        """Stop every queue's pump (the process is shutting its bus down)."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def queue(self, name: str, *, durable: bool = True) -> _Queue:
        q = self.queues.get(name)
        if q is None:
            q = self.queues[name] = _Queue(self, name, durable=durable)
        return q

    def drop_queue(self, name: str) -> None:
        self.queues.pop(name, None)
        self.subscriptions.pop(name, None)

    def enqueue(self, name: str, envelope: Envelope) -> None:
        self.queue(name).put(_Msg(next(self._seq), envelope))

    def to_dead_letters(self, envelope: Envelope, reason: str) -> None:
        log.warning(
            "bus.dead_lettered", message_id=envelope.message_id, type=envelope.type, reason=reason
        )
        self.dead.append((envelope, reason))

    def route_event(self, topic: str, envelope: Envelope) -> None:
        for name, patterns in list(self.subscriptions.items()):
            if any(topic_matches(p, topic) for p in patterns):
                self.enqueue(name, envelope)


def topic_matches(pattern: str, topic: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` zero or more words."""
    return _match(pattern.split("."), topic.split("."))


def _match(pat: list[str], words: list[str]) -> bool:
    if not pat:
        return not words
    head, rest = pat[0], pat[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head in ("*", words[0])) and _match(rest, words[1:])


class InprocTransport:
    """One process's (or one simulated node's) connection to an ``InprocBroker``."""

    def __init__(self, broker: InprocBroker, prefix: str = "zcloud") -> None:
        self._broker = broker
        self._prefix = prefix
        self.reply_address = f"{prefix}.reply.{new_id()}"
        self._consumers: list[_Consumer] = []

    @property
    def connected(self) -> bool:
        return True

    def add_connection_listener(self, listener: ConnectionListener) -> None:
        """The in-process bus never disconnects."""

    async def start(self, on_reply: ReplyHandler) -> None:
        self._broker.reply_handlers[self.reply_address] = on_reply

    async def close(self) -> None:
        self._broker.reply_handlers.pop(self.reply_address, None)
        for consumer in list(self._consumers):
            await consumer.close()
        self._consumers.clear()

    def _partition_queue(self, partition: int) -> str:
        return f"{self._prefix}.p.{partition:04d}"

    async def publish(self, partition: int, envelope: Envelope) -> None:
        self._broker.enqueue(self._partition_queue(partition), envelope)

    async def reply(self, address: str, envelope: Envelope) -> None:
        handler = self._broker.reply_handlers.get(address)
        if handler is not None:  # like RabbitMQ: a reply to a vanished caller is dropped
            handler(envelope)

    async def publish_event(self, topic: str, envelope: Envelope) -> None:
        self._broker.route_event(topic, envelope)

    async def consume(self, partition: int, handler: DeliveryHandler, prefetch: int) -> _Consumer:
        queue = self._broker.queue(self._partition_queue(partition))
        consumer = _Consumer(queue, handler, prefetch)
        self._consumers.append(consumer)
        queue.attach(consumer)
        return consumer

    async def subscribe(
        self, name: str, patterns: list[str], handler: DeliveryHandler, *, durable: bool
    ) -> _Consumer:
        qname = f"{self._prefix}.events.{name}"
        self._broker.subscriptions[qname] = list(patterns)
        queue = self._broker.queue(qname, durable=durable)
        consumer = _Consumer(queue, handler, prefetch=256)
        self._consumers.append(consumer)
        queue.attach(consumer)
        return consumer

    async def queue_depth(self, partition: int) -> int:
        q = self._broker.queues.get(self._partition_queue(partition))
        return len(q.ready) if q else 0

    async def dead_letters(self, limit: int = 100) -> list[Envelope]:
        taken, self._broker.dead = self._broker.dead[:limit], self._broker.dead[limit:]
        return [env for env, _ in taken]
