"""Plain aio-pika request/reply, the baseline ``zcloud bench bus`` compares against.

Same guarantees as the zcloud path: a durable quorum queue, persistent messages with
publisher confirms, an ack after the reply. Run as a server process with
``python -m mgmt.bench.baseline <amqp url> <queue>``; ``BaselineClient`` is the caller.
"""

from __future__ import annotations

import asyncio
import sys
import uuid

import aio_pika
from aio_pika.abc import AbstractIncomingMessage


async def serve(url: str, queue_name: str, prefetch: int = 64) -> None:
    conn = await aio_pika.connect(url)
    channel = await conn.channel(publisher_confirms=False)
    await channel.set_qos(prefetch_count=prefetch)
    queue = await channel.declare_queue(
        queue_name, durable=True, arguments={"x-queue-type": "quorum"}
    )

    async def on_message(msg: AbstractIncomingMessage) -> None:
        if msg.reply_to:
            await channel.default_exchange.publish(
                aio_pika.Message(msg.body, correlation_id=msg.correlation_id),
                routing_key=msg.reply_to,
            )
        await msg.ack()

    await queue.consume(on_message)
    print("ready", flush=True)
    await asyncio.Future()


class BaselineClient:
    def __init__(self, url: str, queue_name: str) -> None:
        self._url = url
        self._queue = queue_name
        self._pending: dict[str, asyncio.Future[bytes]] = {}

    async def start(self) -> None:
        self._conn = await aio_pika.connect(self._url)
        self._pub = await self._conn.channel(publisher_confirms=True)
        ch = await self._conn.channel()
        self._replies = await ch.declare_queue(exclusive=True, auto_delete=True)
        await self._replies.consume(self._on_reply, no_ack=True)

    async def _on_reply(self, msg: AbstractIncomingMessage) -> None:
        fut = self._pending.pop(msg.correlation_id or "", None)
        if fut is not None and not fut.done():
            fut.set_result(msg.body)

    async def call(self, body: bytes) -> bytes:
        corr = uuid.uuid4().hex
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[corr] = fut
        await self._pub.default_exchange.publish(
            aio_pika.Message(
                body,
                correlation_id=corr,
                reply_to=self._replies.name,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=self._queue,
        )
        return await asyncio.wait_for(fut, 30)

    async def close(self) -> None:
        await self._conn.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
