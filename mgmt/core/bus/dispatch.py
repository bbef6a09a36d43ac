"""Running handlers for one owned partition, one sync signature at a time.

``PartitionConsumer`` takes deliveries of one partition, decodes them, and queues each under
its message's sync signature (by default the resource UUID). A signature runs at most
``sync_level`` handlers at once, in arrival order; different signatures run concurrently;
the transport's prefetch bounds how many deliveries are in flight. A delivery is acked only
after its handler has finished (the reply sent), so a node killed mid-handler loses nothing:
the broker hands the message to the partition's next owner. A handler exception becomes an
error reply; bad messages (unknown type, bad body, too big, too many attempts) go to the
dead-letter queue. Neither stops the partition.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from mgmt.core.bus.bus import Bus, HandlerContext, reset_current_context, set_current_context
from mgmt.core.bus.envelope import Delivery
from mgmt.core.bus.transport import Consumer, Transport
from mgmt.core.errors import Codes, ErrorCode, error, is_transient, to_error_code
from mgmt.core.logging import bound, get_logger
from mgmt.core.messages import Message, MessageRegistry, Reply, Request

log = get_logger(__name__)

#: Longest a reply or an ack may take before it is given up (see ``_safe_reply``).
_SETTLE_SECONDS = 10.0

Handler = Callable[[Any, HandlerContext], Awaitable[Reply | None]]


class HandlerTable:
    """Message type -> handler: dispatch by table, never by isinstance chains."""

    def __init__(self) -> None:
        self._handlers: dict[str, tuple[type[Message], Handler]] = {}
        self.registry = MessageRegistry()

    def add(self, message_type: type[Message], handler: Handler) -> None:
        name = message_type.type_name()
        if name in self._handlers:
            raise ValueError(f"two handlers for {name}")
        self._handlers[name] = (message_type, handler)
        self.registry.add(message_type)

    def get(self, name: str) -> tuple[type[Message], Handler] | None:
        return self._handlers.get(name)

    def names(self) -> list[str]:
        return sorted(self._handlers)


@dataclass
class _Item:
    delivery: Delivery
    message: Message
    handler: Handler


@dataclass
class _Signature:
    level: int
    waiting: deque[_Item] = field(default_factory=deque)
    running: int = 0


class PartitionConsumer:
    """Consumes one partition for this node until released."""

    def __init__(
        self,
        partition: int,
        bus: Bus,
        table: HandlerTable,
        *,
        prefetch: int,
        max_attempts: int,
        limiter: asyncio.Semaphore | None = None,
        transient_retry_seconds: float = 60.0,
    ) -> None:
        self.partition = partition
        self._bus = bus
        self._table = table
        self._prefetch = prefetch
        self._max_attempts = max_attempts
        self._signatures: dict[str, _Signature] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._consumer: Consumer | None = None
        self._draining = False
        # node-wide bound on running handlers, so a burst cannot exhaust the DB pool
        self._limiter = limiter or asyncio.Semaphore(prefetch)
        self._retry_seconds = transient_retry_seconds

    @property
    def backlog(self) -> int:
        return sum(len(s.waiting) for s in self._signatures.values()) + len(self._running)

    async def attach(self, transport: Transport) -> None:
        """Start (or, after a reconnect, restart) consuming the partition.

        Deliveries queued from a lost connection are dropped here: the broker redelivers
        them. Handlers still running keep their signature's slot, so a redelivered copy
        waits behind its original instead of running beside it.
        """
        for sig in self._signatures.values():
            sig.waiting.clear()
        self._draining = False
        self._consumer = await transport.consume(self.partition, self._on_delivery, self._prefetch)

    async def release(self, drain_timeout: float) -> None:
        """Give the partition up: finish running handlers (up to ``drain_timeout``), then close
        the consumer so unstarted deliveries return to the queue in order for the next owner."""
        self.stop_taking()
        try:
            async with asyncio.timeout(drain_timeout):
                await self.wait_idle()
        except TimeoutError:
            pass
        await self.cancel_running()
        await self.close()

    def stop_taking(self) -> None:
        """Start no more handlers. Deliveries already prefetched stay unacked on the channel
        (returned in order when it closes); the consumer is not cancelled yet, because with a
        single active consumer a cancel hands the queue to the next owner at once, and it
        would run a resource's later messages beside the handlers still running here."""
        self._draining = True

    async def wait_idle(self) -> None:
        """Until no handler runs (the caller bounds it)."""
        while self._running:
            await asyncio.wait(set(self._running))

    async def cancel_running(self) -> None:
        """Cancel handlers still running: they are not acked, so the next owner runs them
        again (at-least-once; handlers dedupe). Waits for them to unwind (a flow suspends
        its run on the way out); the caller bounds that."""
        pending = [t for t in self._running if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            log.warning("bus.drain_cancelled", partition=self.partition, count=len(pending))
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        """Close the consumer's channel: the broker returns every unacked delivery, in order,
        and the queue's next single-active consumer takes over."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                await consumer.close()
            except Exception as exc:  # connection already gone: the broker returned them
                log.info("bus.consumer_close_failed", partition=self.partition, error=str(exc))
        self._signatures.clear()

    async def _on_delivery(self, delivery: Delivery) -> None:
        env = delivery.envelope
        if delivery.delivery_count > self._max_attempts:
            await self._reject(delivery, Codes.DEAD_LETTERED, "delivery limit reached")
            return
        entry = self._table.get(env.type)
        if entry is None:
            await self._reject(delivery, Codes.UNKNOWN_MESSAGE, f"no handler for {env.type!r}")
            return
        if len(env.body) > self._bus.max_message_bytes:
            await self._reject(delivery, Codes.BAD_MESSAGE, f"{len(env.body)} bytes is too big")
            return
        message_type, handler = entry
        try:
            message = message_type.model_validate_json(env.body)
        except ValidationError as exc:
            fields = ", ".join(".".join(map(str, e["loc"])) or "<body>" for e in exc.errors())
            await self._reject(delivery, Codes.BAD_MESSAGE, f"invalid fields: {fields}")
            return
        try:
            signature = message.sync_signature()
        except ValueError as exc:
            await self._reject(delivery, Codes.BAD_MESSAGE, str(exc))
            return
        sig = self._signatures.get(signature)
        if sig is None:
            sig = self._signatures[signature] = _Signature(level=max(1, message.sync_level))
        sig.waiting.append(_Item(delivery, message, handler))
        self._pump(signature, sig)

    def _pump(self, signature: str, sig: _Signature) -> None:
        while not self._draining and sig.waiting and sig.running < sig.level:
            item = sig.waiting.popleft()
            sig.running += 1
            task = asyncio.create_task(self._run(signature, sig, item))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, signature: str, sig: _Signature, item: _Item) -> None:
        try:
            async with self._limiter:
                await self._handle(item)
        finally:
            sig.running -= 1
            if sig.waiting:
                self._pump(signature, sig)
            elif sig.running == 0 and self._signatures.get(signature) is sig:
                del self._signatures[signature]

    async def _handle(self, item: _Item) -> None:
        env = item.delivery.envelope
        ctx = HandlerContext(
            bus=self._bus,
            message_id=env.message_id,
            resource_uuid=env.resource_uuid,
            deadline=env.deadline,
            delivery_count=item.delivery.delivery_count,
            partition=self.partition,
            node_id=self._bus.node_id,
        )
        metrics = self._bus.metrics
        result: Reply | ErrorCode | None
        token = set_current_context(ctx)
        started = time.perf_counter()
        with bound(
            message_id=env.message_id, message_type=env.type, resource_uuid=ctx.resource_uuid
        ):
            try:
                remaining = ctx.remaining()
                if remaining is not None and remaining <= 0:
                    result = error(Codes.TIMEOUT, "deadline passed before the handler ran")
                else:
                    result = await self._invoke(item, ctx)
                    if result is None and isinstance(item.message, Request):
                        result = error(Codes.HANDLER_FAILED, "handler returned no reply")
            except TimeoutError:
                result = error(Codes.TIMEOUT, f"{env.type} handler passed its deadline")
            except asyncio.CancelledError:
                reset_current_context(token)
                raise  # released mid-handler: not acked, the next owner runs it again
            except Exception as exc:
                log.exception("bus.handler_failed")
                result = error(Codes.HANDLER_FAILED, f"{env.type} failed").caused(
                    to_error_code(exc)
                )
            reset_current_context(token)
            metrics.latency.labels(env.type).observe(time.perf_counter() - started)
            if isinstance(result, ErrorCode):
                metrics.failed.labels(env.type).inc()
            else:
                metrics.handled.labels(env.type).inc()
            if result is not None:
                await self._safe_reply(env, result)
            await self._settle(item.delivery)

    async def _invoke(self, item: _Item, ctx: HandlerContext) -> Reply | None:
        """Run the handler; retry it in place on a transient error (database restarting,
        pool exhausted …) until its deadline or the retry budget, keeping the signature's
        slot so the resource's later messages still wait their turn."""
        give_up = ctx.deadline if ctx.deadline is not None else time.time() + self._retry_seconds
        delay = 0.1
        while True:
            try:
                async with asyncio.timeout(ctx.remaining()):
                    return await item.handler(item.message, ctx)
            except Exception as exc:
                if not is_transient(exc) or time.time() + delay >= give_up:
                    raise
                log.warning("bus.handler_retry", error=f"{type(exc).__name__}: {exc}", delay=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _safe_reply(self, env: Any, result: Reply | ErrorCode) -> None:
        # Bounded: a reply (or ack) caught in a broker outage must not hold the resource's
        # signature slot, or every later message for the resource waits behind it.
        try:
            async with asyncio.timeout(_SETTLE_SECONDS):
                await self._bus.reply(env, result)
        except Exception as exc:  # the caller will time out; the effect is already done
            log.warning("bus.reply_failed", error=f"{type(exc).__name__}: {exc}")

    async def _settle(self, delivery: Delivery) -> None:
        try:
            async with asyncio.timeout(_SETTLE_SECONDS):
                await delivery.ack()
        except Exception as exc:  # channel gone: broker redelivers; handlers are idempotent
            log.info("bus.ack_failed", error=f"{type(exc).__name__}: {exc}")

    async def _reject(self, delivery: Delivery, kind: tuple[str, str], details: str) -> None:
        env = delivery.envelope
        log.warning(
            "bus.rejected",
            message_id=env.message_id,
            type=env.type,
            code=kind[0],
            details=details,
            delivery_count=delivery.delivery_count,
        )
        self._bus.metrics.dead_lettered.labels(kind[1]).inc()
        await self._safe_reply(env, error(kind, details))
        try:
            await delivery.dead_letter(details)
        except Exception as exc:
            log.info("bus.dead_letter_failed", error=str(exc))
