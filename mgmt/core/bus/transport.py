"""The transport contract both the RabbitMQ and the in-process transports keep.

Partition queues are durable; only one consumer of a partition is active at a time (single
active consumer) and the next one takes over when it closes; messages the closing consumer
had not settled go back to the queue in their original order. A message returned more than
``max_attempts`` times is dead-lettered. Replies go to a per-process address; events go to
a topic exchange matched with AMQP patterns (``*`` one word, ``#`` any words).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from mgmt.core.bus.envelope import Delivery, Envelope

DeliveryHandler = Callable[[Delivery], Awaitable[None]]
ReplyHandler = Callable[[Envelope], None]
ConnectionListener = Callable[[bool], Awaitable[None]]


class Consumer(Protocol):
    async def close(self) -> None:
        """Stop consuming; unsettled deliveries return to the queue; the next consumer runs."""


class Transport(Protocol):
    #: Address replies to this process are sent to.
    reply_address: str

    @property
    def connected(self) -> bool: ...

    async def start(self, on_reply: ReplyHandler) -> None:
        """Connect, declare the topology, and start receiving replies."""

    async def close(self) -> None: ...

    def add_connection_listener(self, listener: ConnectionListener) -> None:
        """Called with False when the connection is lost, True when it is back."""

    async def publish(self, partition: int, envelope: Envelope) -> None:
        """Durably enqueue on a partition; returns once the broker has accepted it."""

    async def reply(self, address: str, envelope: Envelope) -> None: ...

    async def publish_event(self, topic: str, envelope: Envelope) -> None: ...

    async def consume(self, partition: int, handler: DeliveryHandler, prefetch: int) -> Consumer:
        """Consume a partition (waits as a standby while another consumer is active)."""

    async def subscribe(
        self, name: str, patterns: list[str], handler: DeliveryHandler, *, durable: bool
    ) -> Consumer:
        """Receive events whose topic matches a pattern, on queue ``name``."""

    async def queue_depth(self, partition: int) -> int:
        """Messages ready (not yet delivered) on a partition."""

    async def dead_letters(self, limit: int = 100) -> list[Envelope]:
        """Take up to ``limit`` messages off the dead-letter queue (operator tooling, tests)."""
