"""Counters on real PostgreSQL and real ``zcloud`` processes.

Concurrency: 200 reservations on separate connections against a counter of 50 take
exactly 50. Idempotence: a redelivered reserve or release (same id) changes nothing, and
so does a step re-run by the node that took the flow over after its first node was
SIGKILLed between the reserve's commit and the engine's record of the step. Truth:
counters corrupted behind the framework's back are restored by the periodic checker (which
reports the drift as an event and a metric of its node) and by the admin REST API.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select, update

from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.bench.failover import wait_settled
from mgmt.core.bus import Bus
from mgmt.core.counters import (
    CounterDriftFound,
    CounterRow,
    ReservationRow,
    ReservationState,
    define_counter,
    get_counter,
    release,
    reserve,
)
from mgmt.core.db import Database
from mgmt.core.db.migrate import upgrade
from mgmt.core.errors import PermanentError
from mgmt.core.flow import FlowState
from mgmt.core.ring import partition_of
from mgmt.diag import RunDiagReserve
from mgmt.diag.reserve import DIAG_COUNTER
from tests.helpers.eventually import eventually
from tests.integration.api.test_identity import Api
from tests.integration.conftest import PARTITIONS

CPU = "host.cpu"


@pytest.fixture
async def pool(pg_url: str) -> AsyncIterator[Database]:
    """The schema and a pool of 30 connections: 30 reservations truly at once."""
    database = Database(pg_url, pool_size=30)
    await upgrade(database)
    yield database
    await database.close()


async def _define(db: Database, total: int, name: str = CPU) -> str:
    owner = str(uuid.uuid4())
    async with db.session() as s, s.begin():
        await define_counter(
            s, owner, name, total, partition=partition_of(owner, PARTITIONS), owner_type="Host"
        )
    return owner


async def _state(db: Database, owner: str, name: str = CPU) -> tuple[int, int]:
    """(available, live reservations) of a counter."""
    async with db.session() as s:
        row = await get_counter(s, owner, name)
        live = await s.scalar(
            select(func.count()).where(
                ReservationRow.owner_uuid == owner,
                ReservationRow.name == name,
                ReservationRow.state == ReservationState.RESERVED,
            )
        )
    assert row is not None
    return row.available, int(live or 0)


async def test_200_concurrent_reservations_against_50_take_exactly_50(pool: Database) -> None:
    owner = await _define(pool, 50)

    async def one(i: int) -> bool:
        try:
            async with pool.session() as s, s.begin():  # a session (connection) each
                await reserve(s, owner, CPU, 1, f"vm-{i}")
        except PermanentError as refused:
            assert refused.error.code == "COUNTER.1001"
            return False
        return True

    outcomes = await asyncio.gather(*(one(i) for i in range(200)))
    assert sum(outcomes) == 50
    assert await _state(pool, owner) == (0, 50)


async def test_redelivered_reserves_and_releases_change_nothing(pool: Database) -> None:
    owner = await _define(pool, 50)

    async def reserve_once(rid: str) -> bool:
        async with pool.session() as s, s.begin():
            return (await reserve(s, owner, CPU, 5, rid)).fresh

    async def release_once(rid: str) -> bool:
        async with pool.session() as s, s.begin():
            return (await release(s, rid)).released

    # every id delivered 10 times at once: each reserves exactly once
    fresh = await asyncio.gather(*(reserve_once(f"r{i % 4}") for i in range(40)))
    assert sum(fresh) == 4
    assert await _state(pool, owner) == (30, 4)
    assert sum(await asyncio.gather(*(reserve_once(f"r{i}") for i in range(4)))) == 0
    released = await asyncio.gather(*(release_once(f"r{i % 4}") for i in range(40)))
    assert sum(released) == 4
    assert await _state(pool, owner) == (50, 0)
    # a reserve redelivered after its release takes nothing
    assert sum(await asyncio.gather(*(reserve_once(f"r{i}") for i in range(4)))) == 0
    assert await _state(pool, owner) == (50, 0)


async def _nodes(cluster: LocalCluster, n: int, **env: str) -> list[Proc]:
    nodes = [cluster.mgmt(f"node{i}", **env).start() for i in range(n)]
    for node in nodes:
        await node.wait_ready()
    await wait_settled(nodes, PARTITIONS)
    return nodes


async def test_a_reserve_step_re_run_after_a_sigkill_reserves_nothing_more(
    cluster: LocalCluster, client_bus: Bus, db: Database
) -> None:
    nodes = await _nodes(cluster, 3, ZCLOUD_TEST_HOOKS="1")
    # (how the flow is interrupted, what the survivor does) -> what stays reserved
    cases = [("resume", None, 3), ("rollback", None, 0)]
    for mode, fail_at, held in [*cases, ("resume", "after-reserve", 0)]:
        owner = await _define(db, 10, DIAG_COUNTER)
        kill = None if fail_at else "effect:reserve"
        reply = await client_bus.call(
            RunDiagReserve(
                resourceUuid=str(uuid.uuid4()),
                ownerUuid=owner,
                amount=3,
                killAt=kill,
                failAt=fail_at,
                onInterrupt=mode,
            ),
            timeout=60,
        )
        case = (mode, fail_at, reply)
        if kill:
            assert sum(not n.alive for n in nodes) == 1, f"{case}: the hook killed no node"
        expected = FlowState.SUCCEEDED if held else FlowState.ROLLED_BACK
        assert reply.state == expected, case
        assert await _state(db, owner, DIAG_COUNTER) == (10 - held, 1 if held else 0), case
        async with db.session() as s:  # one reservation row, whatever happened
            rows = (
                await s.execute(select(ReservationRow).where(ReservationRow.owner_uuid == owner))
            ).scalars()
            assert [(r.amount, r.state) for r in rows] == [
                (3, ReservationState.RESERVED if held else ReservationState.RELEASED)
            ], case
        for node in nodes:
            if not node.alive:
                node.start()
                await node.wait_ready()
    await wait_settled(nodes, PARTITIONS)


async def _corrupt(db: Database, owner: str, available: int) -> None:
    async with db.session() as s, s.begin():
        await s.execute(
            update(CounterRow).where(CounterRow.owner_uuid == owner).values(available=available)
        )


def _metric(text: str, name: str, counter: str) -> float | None:
    found = re.search(rf'^{name}\{{counter="{re.escape(counter)}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else None


async def test_the_checker_reports_and_corrects_a_corrupted_counter(
    cluster: LocalCluster, client_bus: Bus, db: Database
) -> None:
    nodes = await _nodes(cluster, 2, ZCLOUD_COUNTER_CHECK_INTERVAL="0.3")
    owner = await _define(db, 50)
    async with db.session() as s, s.begin():
        for i in range(7):
            await reserve(s, owner, CPU, 2, f"vm-{i}")
    seen: list[CounterDriftFound] = []

    async def on_drift(event: CounterDriftFound) -> None:
        if event.resourceUuid == owner:
            seen.append(event)

    consumer = await client_bus.subscribe(
        f"t-drift-{uuid.uuid4().hex}", [CounterDriftFound], on_drift
    )
    try:
        await _corrupt(db, owner, 45)  # says 5 used where 14 are
        await eventually(lambda: seen, timeout=30, message="no CounterDriftFound event")
    finally:
        await consumer.close()
    event = seen[0]
    assert (event.name, event.drift, event.availableBefore, event.available) == (CPU, -9, 45, 36)
    assert event.trigger == "checker"
    assert await _state(db, owner) == (36, 7)
    node = next(n for n in nodes if n.name == event.node)
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{node.url}/metrics")).text
    assert (_metric(text, "zcloud_counter_drift_found_total", CPU) or 0) >= 1
    assert _metric(text, "zcloud_counter_last_drift", CPU) == -9


ADMIN_PASSWORD = "admin-pw-counters"


async def test_recalculate_and_read_counters_through_the_rest_api(
    cluster: LocalCluster, db: Database
) -> None:
    # a checker that never runs in the test: the API is the one that finds the drift
    env = {"ZCLOUD_ADMIN_PASSWORD": ADMIN_PASSWORD, "ZCLOUD_COUNTER_CHECK_INTERVAL": "3600"}
    node = cluster.mgmt("node0", **env).start()
    await node.wait_ready()
    await wait_settled([node], PARTITIONS)
    api = cluster.api("api0", **env).start()
    await api.wait_ready()
    owner = await _define(db, 16)
    async with db.session() as s, s.begin():
        await define_counter(s, owner, "host.memory", 1024, partition=0)
        await reserve(s, owner, CPU, 4, "vm-1")
    await _corrupt(db, owner, 2)  # both counters wrong now
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, api.url, "admin", ADMIN_PASSWORD)
        path = f"/v1/counters/{owner}/actions/recalculate"
        one = await admin.ok("POST", path, json={"name": CPU})
        assert [(c["name"], c["drift"], c["available"]) for c in one["inventories"]] == [
            (CPU, 10, 12)
        ]
        every = await admin.ok("POST", path, json={})
        assert [(c["name"], c["drift"]) for c in every["inventories"]] == [
            (CPU, 0),
            ("host.memory", 1022),
        ]
        listed = await admin.ok("GET", "/v1/counters", params={"q": f"ownerUuid={owner}"})
        assert [(c["name"], c["used"], c["available"]) for c in listed["inventories"]] == [
            (CPU, 4, 12),
            ("host.memory", 0, 1024),
        ]
        got = await admin.ok("GET", f"/v1/counters/{owner}.{CPU}")
        assert got["inventory"]["total"] == 16
        missing = await admin.call(
            "POST", f"/v1/counters/{uuid.uuid4()}/actions/recalculate", json={}
        )
        assert missing.status_code == 404, missing.text
        await admin.ok("POST", "/v1/accounts", json={"name": "tenant", "password": "pw-t-123456"})
        tenant = await Api.login(http, api.url, "tenant", "pw-t-123456")
        refused = await tenant.call("POST", path, json={})
        assert refused.status_code == 403, refused.text
        hidden = await tenant.call("GET", "/v1/counters")
        assert hidden.status_code == 404, hidden.text  # admin-only reads do not exist for it
