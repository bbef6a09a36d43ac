"""SIGTERM under load: a management node and a frontend stop within their grace period.

Two ``zcloud mgmt`` nodes and one ``zcloud api`` frontend; clients keep creating zones
through the REST API (each an API job) while diagnostic flows with slow steps run on the
bus. One node gets SIGTERM mid-load: it must exit 0 within ``ZCLOUD_SHUTDOWN_GRACE`` and,
once the survivor has taken its partitions, every accepted job ends Succeeded and every
flow run ends Succeeded (nothing lost, nothing left Pending or Running). Then the frontend
gets SIGTERM with the load still running and must exit 0 within the same grace.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import func, select

from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.bench.failover import partitions_of, wait_settled
from mgmt.core.api.jobs import ApiJobRow, JobState
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.core.flow import FlowRunRow, FlowState
from mgmt.diag import RunDiagFlow
from tests.helpers.eventually import eventually
from tests.integration.conftest import PARTITIONS

ADMIN_PASSWORD = "s3cret-admin-pw"
#: The grace period under test (ZCLOUD_SHUTDOWN_GRACE): the only time bound asserted.
GRACE = 12.0
WRITERS = 16
FLOWS = 64
STEP_DELAY_MS = 1000


@dataclass
class _Load:
    """REST writers creating zones until told to stop; remembers every accepted job."""

    base: str
    token: str
    accepted: set[str] = field(default_factory=set)
    refused: int = 0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def writer(self, http: httpx.AsyncClient, n: int) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        i = 0
        while not self.stopping.is_set():
            i += 1
            try:
                resp = await http.post(
                    f"{self.base}/v1/zones", json={"name": f"z{n}-{i}"}, headers=headers
                )
            except httpx.HTTPError:
                # the frontend is going away: nothing was accepted, and nothing to retry on
                self.refused += 1
                if self.stopping.is_set():
                    return
                await asyncio.sleep(0.05)
                continue
            if resp.status_code in (200, 202):
                self.accepted.add(resp.headers["Location"].rsplit("/", 1)[1])
            else:
                assert resp.status_code == 503, resp.text  # a frontend draining may refuse
                self.refused += 1


@pytest.fixture
async def procs(cluster: LocalCluster) -> AsyncIterator[tuple[list[Proc], Proc]]:
    env = {
        "ZCLOUD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ZCLOUD_SHUTDOWN_GRACE": str(GRACE),
    }
    nodes = [cluster.mgmt(f"node{i}", **env).start() for i in range(2)]
    for node in nodes:
        await node.wait_ready()
    await wait_settled(nodes, PARTITIONS)
    api = cluster.api("api0", **env).start()
    await api.wait_ready()
    yield nodes, api


async def _login(http: httpx.AsyncClient, base: str) -> str:
    resp = await http.post(
        f"{base}/v1/sessions", json={"accountName": "admin", "password": ADMIN_PASSWORD}
    )
    assert resp.status_code == 200, resp.text
    token = resp.json()["inventory"]["token"]
    assert isinstance(token, str)
    return token


async def _jobs_by_state(db: Database) -> dict[str, int]:
    async with db.session() as s:
        rows = await s.execute(select(ApiJobRow.state, func.count()).group_by(ApiJobRow.state))
        return {str(state): int(n) for state, n in rows.all()}


async def test_sigterm_under_load_exits_in_grace_and_loses_no_job(
    procs: tuple[list[Proc], Proc], client_bus: Bus, db: Database
) -> None:
    (survivor, victim), api = procs
    limits = httpx.Limits(max_connections=WRITERS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        load = _Load(api.url, await _login(http, api.url))
        writers = [asyncio.create_task(load.writer(http, n)) for n in range(WRITERS)]
        try:
            await eventually(lambda: len(load.accepted) >= 100, timeout=60)
            # flows with slow steps, so some are mid-step on the victim when it stops
            runs = [await _start_flow(client_bus) for _ in range(FLOWS)]
            await eventually(lambda: _running(db, runs), timeout=60, message="flows mid-step")

            victim.kill(signal.SIGTERM)
            assert await victim.wait_exit(GRACE) == 0, victim.tail()
            await eventually(lambda: _owns_all(survivor), timeout=60, message="survivor owns all")
            accepted_before = len(load.accepted)
            await eventually(lambda: len(load.accepted) >= accepted_before + 100, timeout=60)

            # the frontend, still under load
            load.stopping.set()  # writers take the refusals as the end, not as errors
            api.kill(signal.SIGTERM)
            assert await api.wait_exit(GRACE) == 0, api.tail()
        finally:
            load.stopping.set()
            await asyncio.gather(*writers, return_exceptions=True)
        for w in writers:
            w.result()  # a writer's assertion is the test's

    async def all_done() -> bool:
        states = await _jobs_by_state(db)
        assert set(states) == {JobState.SUCCEEDED}, states  # the counts, when it fails
        return True

    await eventually(all_done, timeout=60, interval=0.2, message="every job Succeeded")
    async with db.session() as s:
        stored = set((await s.execute(select(ApiJobRow.uuid))).scalars())
    assert load.accepted <= stored, "an accepted job was lost"

    async def flows_done() -> bool:
        states = await _flow_states(db, runs)
        unfinished = {u: s for u, s in states.items() if s != FlowState.SUCCEEDED}
        assert len(states) == FLOWS, f"{FLOWS - len(states)} runs never started"
        assert not unfinished, unfinished
        return True

    await eventually(flows_done, timeout=60, interval=0.2, message="every flow Succeeded")


async def _start_flow(bus: Bus) -> str:
    # fire-and-forget: no deadline, so a run cut short by the stop is finished, not timed out
    env = await bus.send(RunDiagFlow(resourceUuid=str(uuid.uuid4()), stepDelayMs=STEP_DELAY_MS))
    return env.message_id


async def _flow_states(db: Database, runs: list[str]) -> dict[str, str]:
    async with db.session() as s:
        rows = await s.execute(
            select(FlowRunRow.uuid, FlowRunRow.state).where(FlowRunRow.uuid.in_(runs))
        )
        return {str(u): str(state) for u, state in rows.all()}


async def _running(db: Database, runs: list[str]) -> bool:
    states = await _flow_states(db, runs)
    return len(states) >= FLOWS // 2 and FlowState.RUNNING in states.values()


async def _owns_all(node: Proc) -> bool:
    owned = await partitions_of([node])
    return owned.get(node.name, set()) == set(range(PARTITIONS))
