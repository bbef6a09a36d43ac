"""Throwaway PostgreSQL databases and bus prefixes on real servers (benchmarks and tests)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aio_pika
import asyncpg

DEFAULT_DB = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
LIST_QUEUES_TIMEOUT = 60.0


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def create_database(admin_url: str) -> str:
    """A new empty database next to ``admin_url``; returns its SQLAlchemy URL."""
    name = f"zc_tmp_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_plain(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


async def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(_plain(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def delete_prefix(amqp_url: str, prefix: str) -> None:
    """Delete every queue and exchange named ``<prefix>.*``."""
    proc = await asyncio.create_subprocess_exec(
        "rabbitmqctl",
        "-q",
        "list_queues",
        "name",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        # a wedged broker leaves rabbitmqctl hanging for ever: fail the clean-up instead
        out, _ = await asyncio.wait_for(proc.communicate(), LIST_QUEUES_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(
            f"rabbitmqctl list_queues did not answer in {LIST_QUEUES_TIMEOUT:g} s "
            "(is the broker wedged?)"
        ) from None
    names = [n for n in out.decode().split() if n.startswith(f"{prefix}.")]
    conn = await aio_pika.connect(amqp_url)
    try:
        async with conn.channel() as ch:
            for name in names:
                await ch.queue_delete(name)
            for x in ("partitions", "dlx", "events"):
                await ch.exchange_delete(f"{prefix}.{x}")
    finally:
        await conn.close()


@dataclass(frozen=True)
class Scratch:
    db_url: str
    amqp_url: str
    prefix: str


@asynccontextmanager
async def scratch(
    admin_db: str | None = None, amqp_url: str | None = None
) -> AsyncIterator[Scratch]:
    """A database and a bus prefix of their own, removed afterwards."""
    admin = admin_db or os.environ.get("ZCLOUD_TEST_DB_URL", DEFAULT_DB)
    amqp = amqp_url or os.environ.get("ZCLOUD_TEST_AMQP_URL", DEFAULT_AMQP)
    db = await create_database(admin)
    prefix = f"zb{uuid.uuid4().hex[:10]}"
    try:
        yield Scratch(db, amqp, prefix)
    finally:
        await delete_prefix(amqp, prefix)
        await drop_database(admin, db)
