"""``Bus``: send, call and publish typed messages; route them by resource UUID.

Used by services (inside handlers, through ``HandlerContext.bus``), by API frontends and by
the callback receiver. A message about a resource goes to the partition its UUID hashes to;
the node owning that partition runs its handler. A request's deadline travels with it and a
call made inside a handler inherits what is left of the handler's own deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from mgmt.core.bus.envelope import Delivery, Envelope, new_id
from mgmt.core.bus.transport import Consumer, Transport
from mgmt.core.errors import (
    Codes,
    ErrorCode,
    OperationTimeout,
    PermanentError,
    ZCloudError,
    error,
)
from mgmt.core.logging import get_logger
from mgmt.core.messages import Event, Message, Reply, Request
from mgmt.core.metrics import BusMetrics
from mgmt.core.ring import partition_of

log = get_logger(__name__)

R = TypeVar("R", bound=Reply)
E = TypeVar("E", bound=Event)


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """What a handler knows about the message it is running."""

    bus: Bus
    message_id: str
    resource_uuid: str | None
    deadline: float | None
    delivery_count: int
    partition: int
    node_id: str

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.time()


_current: ContextVar[HandlerContext | None] = ContextVar("zcloud_handler", default=None)


def current_context() -> HandlerContext | None:
    """The context of the handler running in this task, if any."""
    return _current.get()


def set_current_context(ctx: HandlerContext | None) -> Any:
    return _current.set(ctx)


def reset_current_context(token: Any) -> None:
    _current.reset(token)


class Bus:
    """The process's message bus over one transport."""

    def __init__(
        self,
        transport: Transport,
        *,
        node_id: str,
        partitions: int,
        metrics: BusMetrics,
        default_timeout: float = 30.0,
        max_message_bytes: int = 1 << 20,
    ) -> None:
        self.transport = transport
        self.node_id = node_id
        self.partitions = partitions
        self.metrics = metrics
        self.default_timeout = default_timeout
        self.max_message_bytes = max_message_bytes
        self._pending: dict[str, asyncio.Future[Envelope]] = {}

    async def start(self) -> None:
        await self.transport.start(self._on_reply)

    async def close(self) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.cancel()
        self._pending.clear()
        await self.transport.close()

    def partition_of(self, resource_uuid: str) -> int:
        return partition_of(resource_uuid, self.partitions)

    def _deadline(self, timeout: float | None) -> float:
        """Absolute deadline of a request: its own timeout, within what its handler has."""
        deadline = time.time() + (self.default_timeout if timeout is None else timeout)
        ctx = _current.get()
        if ctx is not None and ctx.deadline is not None:
            deadline = min(deadline, ctx.deadline)  # children inherit what is left
        return deadline

    def encode(self, msg: Message) -> bytes:
        body = msg.model_dump_json().encode()
        if len(body) > self.max_message_bytes:
            raise PermanentError(
                error(
                    Codes.BAD_MESSAGE,
                    f"{msg.type_name()} is {len(body)} bytes; the limit is "
                    f"{self.max_message_bytes}",
                )
            )
        return body

    async def send(
        self,
        msg: Message,
        *,
        timeout: float | None = None,
        reply_to: str | None = None,
        correlation_id: str | None = None,
        message_id: str | None = None,
    ) -> Envelope:
        """Durably enqueue ``msg`` on its resource's partition.

        Without ``reply_to`` (fire-and-forget) the message has no deadline unless ``timeout``
        is given: work the broker accepted is done however long it waits for an owner."""
        resource = msg.routing_uuid()
        deadline = self._deadline(timeout) if (reply_to or timeout is not None) else None
        env = Envelope(
            type=msg.type_name(),
            body=self.encode(msg),
            message_id=message_id or new_id(),
            resource_uuid=resource,
            correlation_id=correlation_id,
            reply_to=reply_to,
            deadline=deadline,
            sender=self.node_id,
        )
        await self.transport.publish(self.partition_of(resource), env)
        self.metrics.published.labels("request" if reply_to else "send").inc()
        return env

    async def call(self, request: Request[R], *, timeout: float | None = None) -> R:
        """Send ``request`` and wait for its reply; raises ``ZCloudError`` for error replies
        and ``OperationTimeout`` when the deadline passes first."""
        correlation = new_id()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Envelope] = loop.create_future()
        self._pending[correlation] = fut
        try:
            env = await self.send(
                request,
                timeout=timeout,
                reply_to=self.transport.reply_address,
                correlation_id=correlation,
            )
            remaining = env.remaining() or 0.0  # a call always has a deadline
            try:
                reply = await asyncio.wait_for(fut, timeout=max(remaining, 0.0))
            except TimeoutError:
                raise OperationTimeout(
                    error(
                        Codes.TIMEOUT,
                        f"no reply to {request.type_name()} within its deadline",
                        messageId=env.message_id,
                        resourceUuid=env.resource_uuid,
                    )
                ) from None
        finally:
            self._pending.pop(correlation, None)
        if reply.is_error:
            err = ErrorCode.model_validate_json(reply.body)
            # the handler ran out of time: the same error as our own timer would give
            raise (OperationTimeout(err) if err.code == Codes.TIMEOUT[0] else ZCloudError(err))
        reply_type = type(request).reply_type()
        result = reply_type.model_validate_json(reply.body)
        return result  # type: ignore[return-value]

    async def reply(self, request: Envelope, result: Reply | ErrorCode) -> None:
        """Answer ``request`` (no-op when it expects no reply)."""
        if not request.reply_to:
            return
        is_error = isinstance(result, ErrorCode)
        env = Envelope(
            type="ErrorCode" if is_error else type(result).__name__,
            body=result.model_dump_json().encode(),
            correlation_id=request.correlation_id,
            sender=self.node_id,
            is_error=is_error,
        )
        await self.transport.reply(request.reply_to, env)

    def _on_reply(self, env: Envelope) -> None:
        fut = self._pending.get(env.correlation_id or "")
        if fut is not None and not fut.done():
            fut.set_result(env)
        # else: a late reply to a call that timed out; dropped on purpose

    async def publish(self, event: Event) -> None:
        """Publish ``event`` on the topic exchange under ``event.event_topic()``."""
        resource: str | None
        try:
            resource = event.routing_uuid()
        except ValueError:
            resource = None
        env = Envelope(
            type=event.type_name(),
            body=self.encode(event),
            resource_uuid=resource,
            sender=self.node_id,
        )
        await self.transport.publish_event(event.event_topic(), env)
        self.metrics.published.labels("event").inc()

    async def subscribe(
        self,
        name: str,
        events: list[type[E]],
        handler: Callable[[E], Awaitable[None]],
        *,
        durable: bool = False,
    ) -> Consumer:
        """Receive the given event types on queue ``name`` (shared by every subscriber that
        uses the same name: a work queue; use a per-process name to get every event)."""
        by_name: dict[str, type[E]] = {e.type_name(): e for e in events}

        async def on_delivery(delivery: Delivery) -> None:
            cls = by_name.get(delivery.envelope.type)
            if cls is None:
                await delivery.ack()
                return
            try:
                event = cls.model_validate_json(delivery.envelope.body)
            except ValidationError as exc:
                await delivery.dead_letter(f"bad event body: {exc.error_count()} errors")
                return
            try:
                await handler(event)
            except Exception:
                log.exception("bus.event_handler_failed", event_type=cls.type_name())
            await delivery.ack()

        return await self.transport.subscribe(
            name, [e.topic() for e in events], on_delivery, durable=durable
        )
