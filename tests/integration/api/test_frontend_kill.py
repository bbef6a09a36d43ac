"""A frontend killed with SIGKILL in the middle of requests loses no accepted job: every
request it answered runs; a client retrying the others elsewhere with the same X-Job-UUID
gets one job each, run once."""

from __future__ import annotations

import asyncio
import signal
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from mgmt.bench.cluster import LocalCluster
from mgmt.bench.failover import wait_settled
from mgmt.core.db import Database
from mgmt.zone.models import ZoneRow
from tests.helpers.eventually import eventually
from tests.integration.api.test_identity import Api
from tests.integration.conftest import PARTITIONS

ADMIN_PASSWORD = "admin-pw-kill"
REQUESTS = 60


async def test_a_killed_frontend_loses_no_accepted_job(cluster: LocalCluster, db: Database) -> None:
    env = {"ZCLOUD_ADMIN_PASSWORD": ADMIN_PASSWORD, "ZCLOUD_API_JOB_REPUBLISH_AFTER": "2"}
    nodes = [cluster.mgmt(f"node{i}", **env).start() for i in range(2)]
    for node in nodes:
        await node.wait_ready()
    await wait_settled(nodes, PARTITIONS)
    victim, survivor = (cluster.api(f"api{i}", **env).start() for i in range(2))
    await victim.wait_ready()
    await survivor.wait_ready()
    async with httpx.AsyncClient(timeout=30) as http:
        admin = await Api.login(http, survivor.url, "admin", ADMIN_PASSWORD)
        headers = {"Authorization": f"Bearer {admin.token}"}
        jobs = [(str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(REQUESTS)]

        async def create(base: str, job: str, zone: str) -> int | None:
            try:
                resp = await http.post(
                    f"{base}/v1/zones",
                    json={"name": f"k-{zone[:8]}", "resourceUuid": zone},
                    headers=headers | {"X-Job-UUID": job},
                )
            except httpx.HTTPError:
                return None  # no answer: the client does not know; it retries
            return resp.status_code

        sent = [asyncio.create_task(create(victim.url, j, z)) for j, z in jobs]
        # kill it once some are answered and the rest are in flight
        await eventually(lambda: sum(t.done() for t in sent) >= 5, timeout=30, interval=0.01)
        victim.kill(signal.SIGKILL)
        answers = await asyncio.gather(*sent)
        accepted = sum(1 for a in answers if a in (200, 202))
        assert accepted > 0, answers
        print(f"answered before the kill: {accepted} of {REQUESTS}")
        for (job, zone), answer in zip(jobs, answers, strict=True):
            if answer not in (200, 202):
                retried = await create(survivor.url, job, zone)
                assert retried in (200, 202), retried

        async def all_done() -> bool:
            for job, _ in jobs:
                resp = await http.get(f"{survivor.url}/v1/api-jobs/{job}", headers=headers)
                if resp.status_code != 200:
                    return False
            return True

        await eventually(all_done, timeout=60, interval=0.5)
    wanted = [z for _, z in jobs]
    async with db.session() as s:
        made: Any = await s.scalar(select(func.count()).where(ZoneRow.uuid.in_(wanted)))
    assert made == REQUESTS
