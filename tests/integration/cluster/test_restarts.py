"""The broker and the database restart under traffic; processes recover on their own.

They restart a RabbitMQ node and a PostgreSQL cluster of this module's own
(``own_services``), never the machine's shared ones that other tests are using.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import func, select

from mgmt.bench.cluster import LocalCluster
from mgmt.bench.failover import Sender, recorded, wait_settled
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.diag import Echo
from mgmt.frontend.audit import AuditRow
from tests.helpers.eventually import eventually
from tests.helpers.services import ServerUrls
from tests.integration.api.test_identity import Api
from tests.integration.conftest import PARTITIONS, OwnServices

pytestmark = pytest.mark.own_services


@pytest.fixture(scope="module")
def servers(own_services: OwnServices) -> ServerUrls:
    return own_services.urls


def _postgres_restart(own: OwnServices) -> None:
    own.postgres.pg_ctl("restart", "-m", "fast", timeout=120)


async def test_rabbitmq_restart_loses_nothing_accepted(
    cluster: LocalCluster, client_bus: Bus, db: Database, own_services: OwnServices
) -> None:
    nodes = [cluster.mgmt(f"node{i}").start() for i in range(2)]
    api = cluster.api("api0").start()
    for proc in (*nodes, api):
        await proc.wait_ready()
    await wait_settled(nodes, PARTITIONS)

    sender = Sender(client_bus, 200)
    sending = asyncio.create_task(sender.run(rate=400, concurrency=8))
    try:
        await eventually(lambda: sender.confirmed >= 300, timeout=30)
        rabbit = own_services.rabbit
        await asyncio.to_thread(rabbit.ctl, "stop_app", timeout=120)
        await asyncio.sleep(1.0)  # an outage, not a blip: publishers must wait it out
        await asyncio.to_thread(rabbit.ctl, "start_app", timeout=120)
        await asyncio.to_thread(rabbit.wait_ready)  # the AMQP listener answers again
        confirmed_at_restart = sender.confirmed
        await eventually(lambda: sender.confirmed >= confirmed_at_restart + 300, timeout=60)
    finally:
        sender.stop()
        await asyncio.gather(sending, return_exceptions=True)

    # everything the broker confirmed is handled, exactly once
    await eventually(lambda: _recorded_at_least(db, sender.confirmed), timeout=90, interval=0.5)
    assert await recorded(db) == sender.confirmed
    # nodes and the frontend reconnected by themselves
    for proc in (*nodes, api):
        assert proc.alive
        await proc.wait_ready(timeout=30)
    await wait_settled(nodes, PARTITIONS)
    reply = await client_bus.call(Echo(resourceUuid=str(uuid.uuid4()), text="after"))
    assert reply.text == "after"


async def test_postgres_restart_nodes_recover_without_restart(
    cluster: LocalCluster, client_bus: Bus, db: Database, own_services: OwnServices
) -> None:
    nodes = [cluster.mgmt(f"node{i}").start() for i in range(2)]
    for proc in nodes:
        await proc.wait_ready()
    await wait_settled(nodes, PARTITIONS)
    sender = Sender(client_bus, 200)
    sending = asyncio.create_task(sender.run(rate=300, concurrency=8))
    try:
        await eventually(lambda: sender.confirmed >= 300, timeout=30)
        await asyncio.to_thread(_postgres_restart, own_services)
        confirmed_at_restart = sender.confirmed
        await eventually(lambda: sender.confirmed >= confirmed_at_restart + 300, timeout=60)
    finally:
        sender.stop()
        await asyncio.gather(sending, return_exceptions=True)

    await eventually(lambda: _recorded_at_least(db, sender.confirmed), timeout=90, interval=0.5)
    assert await recorded(db) == sender.confirmed
    for proc in nodes:
        assert proc.alive, "a node exited when the database restarted"
    await wait_settled(nodes, PARTITIONS, timeout=30)
    reply = await client_bus.call(Echo(resourceUuid=str(uuid.uuid4()), text="after"))
    assert reply.text == "after"


async def _at_least(count: Callable[[], Awaitable[int]], n: int) -> bool:
    return await count() >= n


async def _recorded_at_least(db: Database, n: int) -> bool:
    try:
        return await recorded(db) >= n
    except Exception:  # the database may still be coming back
        return False


async def test_postgres_restart_the_frontend_answers_503_never_500_then_recovers(
    cluster: LocalCluster, db: Database, own_services: OwnServices
) -> None:
    """Pooled connections are not pinged while in steady use: a restart under load costs
    the requests in flight a 503 (retry), never a 500; the frontend reconnects alone, and
    the audit rows of the outage are written once the database is back."""
    env = {"ZCLOUD_ADMIN_PASSWORD": "pg-restart-pw"}
    node = cluster.mgmt("node0", **env).start()
    await node.wait_ready()
    api = cluster.api("api0", **env).start()
    await api.wait_ready()
    async with httpx.AsyncClient(timeout=30) as http:
        admin = await Api.login(http, api.url, "admin", "pg-restart-pw")
        zone = (await admin.ok("POST", "/v1/zones", json={"name": "z-restart"}))["inventory"]
        statuses: Counter[int] = Counter()
        stop = asyncio.Event()

        async def read() -> None:
            while not stop.is_set():
                try:
                    resp = await admin.call("GET", f"/v1/zones/{zone['uuid']}")
                    statuses[resp.status_code] += 1
                except httpx.HTTPError:
                    statuses[0] += 1
                await asyncio.sleep(0.005)

        readers = [asyncio.create_task(read()) for _ in range(4)]
        try:
            await eventually(lambda: statuses[200] >= 50, timeout=30)
            await asyncio.to_thread(_postgres_restart, own_services)
            after = statuses[200]
            await eventually(lambda: statuses[200] >= after + 50, timeout=60)
        finally:
            stop.set()
            await asyncio.gather(*readers)
        assert set(statuses) <= {200, 503}, f"{statuses} {api.log_path}"
        made = await admin.ok("POST", "/v1/zones", json={"name": "z-after-restart"})
        assert made["inventory"]["name"] == "z-after-restart"
    assert api.alive and node.alive
    path = f"/v1/zones/{zone['uuid']}"

    async def audited() -> int:
        async with db.session() as s:
            return int(await s.scalar(select(func.count()).where(AuditRow.path == path)) or 0)

    await eventually(lambda: _at_least(audited, statuses.total()), timeout=30, interval=0.3)
    assert await audited() == statuses.total()
