"""Suite-wide fixtures: real servers, a database and a bus prefix per test, leak checks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from mgmt.bench.env import create_database, delete_prefix, drop_database
from tests.helpers.services import ServerUrls, discover


@pytest.fixture(scope="session")
def servers() -> ServerUrls:
    try:
        return discover()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
async def pg_url(servers: ServerUrls, no_leaked_tasks: None) -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    url = await create_database(servers.db_admin)
    yield url
    await drop_database(servers.db_admin, url)


@pytest.fixture
async def amqp(servers: ServerUrls, no_leaked_tasks: None) -> AsyncIterator[tuple[str, str]]:
    """(AMQP URL, a bus prefix of this test's own); its queues and exchanges are deleted."""
    prefix = f"zt{uuid.uuid4().hex[:10]}"
    yield servers.amqp, prefix
    await delete_prefix(servers.amqp, prefix)


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks running behind it. Fixtures that open
    connections depend on this one, so it checks after they have closed theirs."""
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()

    def leaked() -> list[asyncio.Task[object]]:
        return [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]

    for _ in range(50):
        if not leaked():
            return
        await asyncio.sleep(0.02)
    names = sorted(t.get_name() + ":" + repr(t.get_coro()) for t in leaked())
    pytest.fail(f"test left asyncio tasks running: {names}")
