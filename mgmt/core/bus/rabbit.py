"""RabbitMQ transport (aio-pika).

Topology, all names under the deployment prefix:
- ``<p>.partitions`` direct exchange -> P quorum queues ``<p>.p.NNNN`` with single active
  consumer, a delivery limit (poison messages) and dead-lettering to ``<p>.dlx``;
- ``<p>.dlx`` fanout -> ``<p>.dead-letters``;
- ``<p>.events`` topic exchange; subscribers bind their own queues;
- one exclusive reply queue per process.
Publishes are persistent with publisher confirms: ``publish`` returns once the broker has
the message. The connection is supervised here (not aio-pika's robust mode) so the runtime
decides what to re-consume after a reconnect; listeners hear about loss and recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)

from mgmt.core.bus.envelope import Envelope, new_id
from mgmt.core.bus.transport import ConnectionListener, DeliveryHandler, ReplyHandler
from mgmt.core.errors import Codes, TemporaryError, error
from mgmt.core.logging import get_logger

log = get_logger(__name__)

_PERSISTENT = aio_pika.DeliveryMode.PERSISTENT


def to_message(env: Envelope, *, persistent: bool) -> aio_pika.Message:
    headers: dict[str, Any] = {"x-sender": env.sender}
    if env.resource_uuid:
        headers["x-resource"] = env.resource_uuid
    if env.deadline is not None:
        # integer milliseconds: AMQP tables may carry floats as 32-bit
        headers["x-deadline-ms"] = int(env.deadline * 1000)
    if env.is_error:
        headers["x-error"] = 1
    return aio_pika.Message(
        env.body,
        message_id=env.message_id,
        correlation_id=env.correlation_id,
        reply_to=env.reply_to,
        type=env.type,
        content_type="application/json",
        headers=headers,
        delivery_mode=_PERSISTENT if persistent else aio_pika.DeliveryMode.NOT_PERSISTENT,
    )


def from_message(msg: AbstractIncomingMessage) -> Envelope:
    headers = msg.headers or {}
    deadline_ms = headers.get("x-deadline-ms")
    resource = headers.get("x-resource")
    sender = headers.get("x-sender")
    return Envelope(
        type=str(msg.type or ""),
        body=msg.body,
        message_id=str(msg.message_id or new_id()),
        resource_uuid=str(resource) if resource else None,
        correlation_id=msg.correlation_id,
        reply_to=msg.reply_to,
        deadline=int(deadline_ms) / 1000 if isinstance(deadline_ms, int) else None,
        sender=str(sender or ""),
        is_error=bool(headers.get("x-error")),
    )


class _RabbitDelivery:
    __slots__ = ("_msg", "delivery_count", "envelope")

    def __init__(self, msg: AbstractIncomingMessage) -> None:
        self._msg = msg
        self.envelope = from_message(msg)
        returned = (msg.headers or {}).get("x-delivery-count")
        if isinstance(returned, int):
            self.delivery_count = returned + 1
        else:
            self.delivery_count = 2 if msg.redelivered else 1

    async def ack(self) -> None:
        await self._msg.ack()

    async def requeue(self) -> None:
        await self._msg.nack(requeue=True)

    async def dead_letter(self, reason: str) -> None:
        # reject without requeue: the queue's dead-letter exchange takes it
        await self._msg.reject(requeue=False)


class _RabbitConsumer:
    def __init__(self, channel: AbstractChannel) -> None:
        self._channel = channel

    async def close(self) -> None:
        # Closing the channel returns every unacked delivery, in order, and lets the next
        # single-active consumer of the queue take over.
        if not self._channel.is_closed:
            await self._channel.close()


class RabbitTransport:
    """One process's connection to RabbitMQ."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        partitions: int,
        max_attempts: int,
        node_id: str,
        publish_timeout: float = 30.0,
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._partitions = partitions
        self._max_attempts = max_attempts
        self._publish_timeout = publish_timeout
        self.reply_address = f"{prefix}.reply.{node_id}.{new_id()[:8]}"
        self._conn: AbstractConnection | None = None
        self._pub: AbstractChannel | None = None
        self._partition_x: AbstractExchange | None = None
        self._events_x: AbstractExchange | None = None
        self._up = asyncio.Event()
        self._closing = False
        self._on_reply: ReplyHandler | None = None
        self._listeners: list[ConnectionListener] = []
        self._supervisor: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._closing_channels: set[asyncio.Task[None]] = set()

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    def add_connection_listener(self, listener: ConnectionListener) -> None:
        self._listeners.append(listener)

    def partition_queue(self, partition: int) -> str:
        return f"{self._prefix}.p.{partition:04d}"

    async def start(self, on_reply: ReplyHandler) -> None:
        self._on_reply = on_reply
        await self._connect()
        self._supervisor = asyncio.create_task(self._supervise(), name="rabbit-supervisor")

    async def close(self) -> None:
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        self._up.clear()
        if self._conn is not None and not self._conn.is_closed:
            with contextlib.suppress(Exception):
                await self._conn.close()

    async def _connect(self) -> None:
        conn = await aio_pika.connect(
            self._url, timeout=5, client_properties={"connection_name": self.reply_address}
        )
        conn.close_callbacks.add(self._on_connection_closed)
        self._conn = conn
        self._pub = await conn.channel(publisher_confirms=True)
        self._pub.close_callbacks.add(self._on_publish_channel_closed)
        await self._declare(self._pub)
        reply_channel = await conn.channel()
        reply_q = await reply_channel.declare_queue(
            self.reply_address, exclusive=True, auto_delete=True
        )
        await reply_q.consume(self._on_reply_message, no_ack=True)
        self._up.set()
        log.info("bus.rabbit_connected", prefix=self._prefix)

    async def _declare(self, ch: AbstractChannel) -> None:
        p = self._prefix
        self._partition_x = await ch.declare_exchange(
            f"{p}.partitions", aio_pika.ExchangeType.DIRECT, durable=True
        )
        dlx = await ch.declare_exchange(f"{p}.dlx", aio_pika.ExchangeType.FANOUT, durable=True)
        dlq = await ch.declare_queue(
            f"{p}.dead-letters", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dlq.bind(dlx)
        self._events_x = await ch.declare_exchange(
            f"{p}.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        for i in range(self._partitions):
            q = await self._declare_partition(ch, i)
            await q.bind(self._partition_x, routing_key=str(i))

    async def _declare_partition(self, ch: AbstractChannel, partition: int) -> AbstractQueue:
        return await ch.declare_queue(
            self.partition_queue(partition),
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-single-active-consumer": True,
                # returned (not acked) this many times -> dead-lettered as poison
                "x-delivery-limit": max(self._max_attempts - 1, 0),
                "x-dead-letter-exchange": f"{self._prefix}.dlx",
            },
        )

    def _on_connection_closed(self, _sender: Any, exc: BaseException | None = None) -> None:
        self._up.clear()
        if not self._closing:
            log.warning("bus.rabbit_connection_lost", error=str(exc) if exc else "")
            self._lost.set()

    def _on_publish_channel_closed(self, _sender: Any, exc: BaseException | None = None) -> None:
        # The broker closes a channel on a channel-level error (e.g. an exchange deleted
        # under us). Start over with a fresh connection rather than publish into the void.
        if self._closing or self._conn is None or self._conn.is_closed:
            return
        log.warning("bus.rabbit_channel_lost", error=str(exc) if exc else "")
        conn = self._conn
        asyncio.get_running_loop().create_task(conn.close())

    async def _supervise(self) -> None:
        while True:
            await self._lost.wait()
            self._lost.clear()
            await self._notify(False)
            delay = 0.2
            while not self._closing:
                try:
                    await self._connect()
                    break
                except Exception as exc:
                    log.info("bus.rabbit_reconnect_failed", error=str(exc), retry_in=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 3.0)
            await self._notify(True)

    async def _notify(self, up: bool) -> None:
        for listener in self._listeners:
            try:
                await listener(up)
            except Exception:
                log.exception("bus.connection_listener_failed")

    async def _on_reply_message(self, msg: AbstractIncomingMessage) -> None:
        if self._on_reply is not None:
            self._on_reply(from_message(msg))

    async def _publish(
        self, exchange_name: str, routing_key: str, message: aio_pika.Message
    ) -> None:
        """Publish with confirm; across a reconnect, retry until the timeout (at-least-once:
        a confirm lost with the connection may duplicate, and consumers dedupe)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._publish_timeout
        while True:
            remaining = give_up - loop.time()
            if remaining <= 0:
                raise TemporaryError(error(Codes.BUS_UNAVAILABLE, "RabbitMQ is not reachable"))
            try:
                await asyncio.wait_for(self._up.wait(), timeout=remaining)
                exchange = self._exchange(exchange_name)
                await exchange.publish(
                    message, routing_key=routing_key, mandatory=True, timeout=remaining
                )
                return
            except TimeoutError:
                continue
            except (aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
                if isinstance(exc, aio_pika.exceptions.DeliveryError):
                    raise TemporaryError(
                        error(Codes.BUS_UNAVAILABLE, f"unroutable: {exc}")
                    ) from exc
                log.info("bus.publish_retry", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.1)

    def _exchange(self, name: str) -> AbstractExchange:
        assert self._pub is not None
        if name == "partitions" and self._partition_x is not None:
            return self._partition_x
        if name == "events" and self._events_x is not None:
            return self._events_x
        return self._pub.default_exchange

    async def publish(self, partition: int, envelope: Envelope) -> None:
        await self._publish("partitions", str(partition), to_message(envelope, persistent=True))

    async def reply(self, address: str, envelope: Envelope) -> None:
        msg = to_message(envelope, persistent=False)
        if not self.connected:
            return  # the caller's reply queue died with the connection anyway
        assert self._pub is not None
        # not mandatory: a caller that went away simply never reads it
        await self._pub.default_exchange.publish(msg, routing_key=address)

    async def publish_event(self, topic: str, envelope: Envelope) -> None:
        assert self._pub is not None
        await self._up.wait()
        assert self._events_x is not None
        await self._events_x.publish(to_message(envelope, persistent=True), routing_key=topic)

    async def consume(
        self, partition: int, handler: DeliveryHandler, prefetch: int
    ) -> _RabbitConsumer:
        assert self._conn is not None
        channel = await self._conn.channel()

        async def on_message(msg: AbstractIncomingMessage) -> None:
            await handler(_RabbitDelivery(msg))

        try:
            await channel.set_qos(prefetch_count=prefetch)
            queue = await self._declare_partition(channel, partition)
            await queue.consume(on_message, no_ack=False)
        except BaseException:
            # Cancelled (a stop during a take-over) or failed half-way: a channel nobody
            # holds would keep consuming, and its handlers would run past every drain.
            self._close_later(channel)
            raise
        return _RabbitConsumer(channel)

    def _close_later(self, channel: AbstractChannel) -> None:
        task = asyncio.get_running_loop().create_task(_close_quietly(channel))
        self._closing_channels.add(task)
        task.add_done_callback(self._closing_channels.discard)

    async def subscribe(
        self, name: str, patterns: list[str], handler: DeliveryHandler, *, durable: bool
    ) -> _RabbitConsumer:
        assert self._conn is not None and self._events_x is not None
        channel = await self._conn.channel()
        await channel.set_qos(prefetch_count=256)
        queue = await channel.declare_queue(
            f"{self._prefix}.events.{name}", durable=durable, auto_delete=not durable
        )
        events_x = await channel.get_exchange(f"{self._prefix}.events")
        for pattern in patterns:
            await queue.bind(events_x, routing_key=pattern)

        async def on_message(msg: AbstractIncomingMessage) -> None:
            await handler(_RabbitDelivery(msg))

        await queue.consume(on_message, no_ack=False)
        return _RabbitConsumer(channel)

    async def queue_depth(self, partition: int) -> int:
        assert self._conn is not None
        async with self._conn.channel() as ch:
            q = await ch.declare_queue(self.partition_queue(partition), passive=True)
            return int(q.declaration_result.message_count or 0)

    async def dead_letters(self, limit: int = 100) -> list[Envelope]:
        assert self._conn is not None
        out: list[Envelope] = []
        async with self._conn.channel() as ch:
            q = await ch.declare_queue(f"{self._prefix}.dead-letters", passive=True)
            while len(out) < limit:
                msg = await q.get(no_ack=False, fail=False)
                if msg is None:
                    break
                out.append(from_message(msg))
                await msg.ack()
        return out

    async def delete_topology(self) -> None:
        """Remove every queue and exchange of this prefix (tests and teardown)."""
        assert self._conn is not None
        async with self._conn.channel() as ch:
            for i in range(self._partitions):
                await ch.queue_delete(self.partition_queue(i))
            await ch.queue_delete(f"{self._prefix}.dead-letters")
            for x in ("partitions", "dlx", "events"):
                await ch.exchange_delete(f"{self._prefix}.{x}")


async def _close_quietly(channel: AbstractChannel) -> None:
    with contextlib.suppress(Exception):
        await channel.close()
