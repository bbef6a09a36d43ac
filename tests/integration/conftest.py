"""Fixtures for tests that start real zcloud processes against PostgreSQL and RabbitMQ."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mgmt.bench.cluster import LocalCluster
from mgmt.core.bus import Bus
from mgmt.core.bus.rabbit import RabbitTransport
from mgmt.core.db import Database
from mgmt.core.metrics import BusMetrics
from tests.helpers.private import PrivatePostgres, PrivateRabbit
from tests.helpers.services import ServerUrls

PARTITIONS = 32
HEARTBEAT = 1.0  # lease 3 s: the same code paths as 2 s, quicker tests


@dataclass(frozen=True)
class OwnServices:
    rabbit: PrivateRabbit
    postgres: PrivatePostgres

    @property
    def urls(self) -> ServerUrls:
        return ServerUrls(self.postgres.url, self.rabbit.url, private=True)


@pytest.fixture(scope="module")
def own_services() -> Iterator[OwnServices]:
    """A RabbitMQ node and a PostgreSQL cluster of this module's own, for tests that stop,
    restart or break them (never the shared ones: see tests/helpers/private.py). A module
    that uses it overrides ``servers`` with ``own_services.urls`` and is marked
    ``own_services``. Both start at once; removed, data and all, after the module."""
    started = time.monotonic()
    rabbit, postgres = PrivateRabbit(), PrivatePostgres()
    try:
        rabbit.start()
        postgres.start()
        rabbit.wait_ready()
        print(f"own_services: RabbitMQ and PostgreSQL up in {time.monotonic() - started:.1f}s")
        yield OwnServices(rabbit, postgres)
    finally:
        rabbit.close()
        postgres.close()


@pytest.fixture
async def cluster(
    pg_url: str, amqp: tuple[str, str], tmp_path: Path
) -> AsyncIterator[LocalCluster]:
    url, prefix = amqp
    c = LocalCluster(
        pg_url,
        url,
        prefix,
        tmp_path / "procs",
        PARTITIONS,
        extra_env={"ZCLOUD_HEARTBEAT_INTERVAL": str(HEARTBEAT)},
    )
    yield c
    killed = await c.stop_all()
    assert not killed, f"did not stop cleanly on SIGTERM: {killed}"


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    database = Database(pg_url)
    yield database
    await database.close()


@pytest.fixture
async def client_bus(amqp: tuple[str, str]) -> AsyncIterator[Bus]:
    """A bus for the test itself (a client: it publishes and calls, owns no partition)."""
    url, prefix = amqp
    transport = RabbitTransport(
        url, prefix=prefix, partitions=PARTITIONS, max_attempts=5, node_id="test-client"
    )
    bus = Bus(transport, node_id="test-client", partitions=PARTITIONS, metrics=BusMetrics())
    await bus.start()
    yield bus
    await bus.close()
