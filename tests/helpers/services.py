"""The real PostgreSQL and RabbitMQ the suite runs against, one throwaway namespace per test.

Defaults are the local servers (``make test`` starts them). ``ZCLOUD_TEST_DB_URL`` and
``ZCLOUD_TEST_AMQP_URL`` point elsewhere. Where neither answers but a Docker engine does,
testcontainers starts them; otherwise the suite fails and says how to start them.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from mgmt.bench.env import DEFAULT_AMQP, DEFAULT_DB

HOW_TO_START = (
    "PostgreSQL and RabbitMQ must run for the test suite. Start them with "
    "`deploy/dev/ensure-services.sh` (or `make test`, which does it), or point "
    "ZCLOUD_TEST_DB_URL / ZCLOUD_TEST_AMQP_URL at running servers."
)


@dataclass(frozen=True)
class ServerUrls:
    db_admin: str  # SQLAlchemy URL of a database we may CREATE DATABASE from
    amqp: str


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def discover() -> ServerUrls:
    db = os.environ.get("ZCLOUD_TEST_DB_URL", DEFAULT_DB)
    amqp = os.environ.get("ZCLOUD_TEST_AMQP_URL", DEFAULT_AMQP)
    if _reachable(db, 5432) and _reachable(amqp, 5672):
        return ServerUrls(db, amqp)
    return _from_containers()


def _from_containers() -> ServerUrls:
    try:
        from testcontainers.postgres import PostgresContainer  # noqa: PLC0415
        from testcontainers.rabbitmq import RabbitMqContainer  # noqa: PLC0415

        pg = PostgresContainer("postgres:15", driver="asyncpg").start()
        rabbit = RabbitMqContainer("rabbitmq:3.12").start()
    except Exception as exc:  # docker.errors.DockerException when no engine runs
        raise RuntimeError(f"{HOW_TO_START} (no Docker engine either: {exc})") from exc
    params = rabbit.get_connection_params()
    return ServerUrls(
        pg.get_connection_url(),
        f"amqp://guest:guest@{params.host}:{params.port}/",
    )
