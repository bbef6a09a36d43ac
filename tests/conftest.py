"""Suite-wide fixtures: real servers, a database and a bus prefix per test, leak checks.

And the hooks that keep the suite honest about servers: everything under tests/integration
and the RabbitMQ variants of tests/contract are marked ``integration``; a test under
tests/unit that asks for a server is a collection error; and before the first test that
needs the shared PostgreSQL and RabbitMQ, both must answer a real handshake, or the run
stops at once with one line saying which and how to fix it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mgmt.bench.env import create_database, delete_prefix, drop_database
from tests.helpers.services import (
    ServerUrls,
    configured,
    containers_possible,
    discover,
    handshake_problem,
)

TESTS = Path(__file__).parent
#: Fixtures that reach the real servers (``servers`` is under every other one).
SERVER_FIXTURES = frozenset({"servers", "pg_url", "amqp"})


def _needs_servers(item: pytest.Item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    rabbit_variant = callspec is not None and callspec.params.get("transports") == "rabbit"
    return bool(names & SERVER_FIXTURES) or rabbit_variant


@pytest.hookimpl(tryfirst=True)  # before -m selects on the marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    misplaced = []
    for item in items:
        where = item.path.relative_to(TESTS).parts[0] if item.path.is_relative_to(TESTS) else ""
        if where == "integration" or (where != "unit" and _needs_servers(item)):
            item.add_marker(pytest.mark.integration)
        elif where == "unit" and _needs_servers(item):
            misplaced.append(item.nodeid)
    if misplaced:
        raise pytest.UsageError(
            "tests under tests/unit may not use PostgreSQL or RabbitMQ; move them to "
            f"tests/integration: {', '.join(misplaced)}"
        )


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    # tests on private instances (own_services) do not need the shared servers to be sane
    if not any(
        i.get_closest_marker("integration") and not i.get_closest_marker("own_services")
        for i in session.items
    ):
        return
    urls = configured()
    if containers_possible(urls):
        return  # the servers fixture tries testcontainers and explains itself
    problem = handshake_problem(urls)
    if problem:
        pytest.exit(f"shared test services not usable: {problem}", returncode=3)


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
    if not servers.private:
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
