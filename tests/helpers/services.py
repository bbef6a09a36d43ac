"""The real PostgreSQL and RabbitMQ the suite runs against, one throwaway namespace per test.

Defaults are the local servers (``make test`` starts them). ``ZCLOUD_TEST_DB_URL`` and
``ZCLOUD_TEST_AMQP_URL`` point elsewhere. Where neither answers but a Docker engine does,
testcontainers starts them; otherwise the suite fails and says how to start them.
``handshake_problem`` is the suite's start check (tests/conftest.py): a server that accepts
TCP but does not answer its protocol would otherwise cost every test its full timeout.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import asyncpg

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
    #: A private instance (tests/helpers/private.py), thrown away whole at the end: nothing
    #: to clean per test, and the shared broker's rabbitmqctl is not the one to ask.
    private: bool = False


def _address(url: str, default_port: int) -> str:
    parts = urlsplit(url.replace("+asyncpg", ""))
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or default_port}"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def configured() -> ServerUrls:
    return ServerUrls(
        os.environ.get("ZCLOUD_TEST_DB_URL", DEFAULT_DB),
        os.environ.get("ZCLOUD_TEST_AMQP_URL", DEFAULT_AMQP),
    )


def discover() -> ServerUrls:
    urls = configured()
    if _reachable(urls.db_admin, 5432) and _reachable(urls.amqp, 5672):
        return urls
    return _from_containers()


def containers_possible(urls: ServerUrls) -> bool:
    """Neither server listens but a Docker engine may: ``discover`` will try testcontainers."""
    down = not _reachable(urls.db_admin, 5432) and not _reachable(urls.amqp, 5672)
    engine = bool(os.environ.get("DOCKER_HOST")) or Path("/var/run/docker.sock").exists()
    return down and engine


async def _amqp_handshake(url: str, timeout: float) -> None:
    conn = await aio_pika.connect(url, timeout=timeout)
    try:
        channel = await conn.channel()
        await channel.close()
    finally:
        await conn.close()


async def _select_1(url: str, timeout: float) -> None:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=timeout)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


async def _problem(
    name: str,
    url: str,
    port: int,
    check: Callable[[str, float], Awaitable[None]],
    timeout: float,
    wedged_fix: str,
) -> str | None:
    address = _address(url, port)
    variable = "ZCLOUD_TEST_AMQP_URL" if name == "RabbitMQ" else "ZCLOUD_TEST_DB_URL"
    if not _reachable(url, port):
        return (
            f"{name} at {address} refuses connections; "
            f"fix: deploy/dev/ensure-services.sh (or point {variable} at a running one)"
        )
    try:
        await asyncio.wait_for(check(url, timeout), timeout)
    except TimeoutError:
        return (
            f"{name} at {address} accepts TCP but did not answer a handshake in {timeout:g} s "
            f"(wedged); fix: {wedged_fix}"
        )
    except Exception as exc:  # refused login, a protocol error: say what the server said
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        return (
            f"{name} at {address} refused the handshake ({reason}); "
            f"fix: check the user and password in {variable}, or deploy/dev/ensure-services.sh"
        )
    return None


def handshake_problem(urls: ServerUrls, timeout: float = 5.0) -> str | None:
    """None when RabbitMQ opens a connection and a channel and PostgreSQL answers SELECT 1,
    both within ``timeout``; otherwise one line naming what failed and how to fix it."""

    async def both() -> list[str | None]:
        return list(
            await asyncio.gather(
                _problem(
                    "RabbitMQ",
                    urls.amqp,
                    5672,
                    _amqp_handshake,
                    timeout,
                    "restart the broker (rabbitmqctl stop, or kill its beam.smp if that hangs; "
                    "then deploy/dev/ensure-services.sh)",
                ),
                _problem(
                    "PostgreSQL",
                    urls.db_admin,
                    5432,
                    _select_1,
                    timeout,
                    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart",
                ),
            )
        )

    problems = [p for p in asyncio.run(both()) if p]
    return "; ".join(problems) if problems else None


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
