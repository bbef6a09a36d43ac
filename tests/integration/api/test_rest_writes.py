"""The REST write path through real HTTP: 2 API frontends, 2 management nodes, PostgreSQL
and RabbitMQ. Sessions, jobs (202 + Location, Prefer: wait, X-Job-UUID), validation (400
naming the field), tenancy on writes, cascade delete through the API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest

from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.bench.failover import wait_settled
from mgmt.core.db import Database
from mgmt.identity.models import AccountRow, AccountType
from mgmt.identity.passwords import hash_password
from tests.helpers.eventually import eventually
from tests.integration.conftest import PARTITIONS

ADMIN_PASSWORD = "s3cret-admin-pw"


@pytest.fixture
async def frontends(cluster: LocalCluster) -> AsyncIterator[list[Proc]]:
    env = {"ZCLOUD_ADMIN_PASSWORD": ADMIN_PASSWORD}
    nodes = [cluster.mgmt(f"node{i}", **env).start() for i in range(2)]
    for node in nodes:
        await node.wait_ready()
    await wait_settled(nodes, PARTITIONS)
    apis = [cluster.api(f"api{i}", **env).start() for i in range(2)]
    for api in apis:
        await api.wait_ready()
    yield apis


async def login(http: httpx.AsyncClient, base: str, name: str, password: str) -> str:
    resp = await http.post(f"{base}/v1/sessions", json={"accountName": name, "password": password})
    assert resp.status_code == 200, resp.text
    token = resp.json()["inventory"]["token"]
    assert isinstance(token, str)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_account(db: Database, name: str, password: str) -> None:
    now = datetime.now(UTC)
    async with db.session() as s, s.begin():
        s.add(
            AccountRow(
                uuid=str(uuid.uuid4()),
                name=name,
                type=AccountType.NORMAL,
                password_hash=await hash_password(password),
                created_at=now,
                updated_at=now,
            )
        )


async def test_writes_run_as_jobs_on_any_frontend(frontends: list[Proc], db: Database) -> None:
    a, b = (p.url for p in frontends)
    async with httpx.AsyncClient(timeout=30) as http:
        token = await login(http, a, "admin", ADMIN_PASSWORD)
        # accepted at one frontend, answered by the job from the other
        resp = await http.post(f"{a}/v1/zones", json={"name": "z1"}, headers=bearer(token))
        assert resp.status_code in (200, 202), resp.text
        if resp.status_code == 202:
            location = resp.headers["Location"]

            async def done() -> httpx.Response | None:
                r = await http.get(f"{b}{location}", headers=bearer(token))
                return r if r.status_code == 200 else None

            resp = await eventually(done, timeout=30, interval=0.1)
        zone = resp.json()["inventory"]
        assert zone["name"] == "z1"
        assert zone["state"] == "Enabled"

        # Prefer: wait answers with the result
        resp = await http.put(
            f"{b}/v1/zones/{zone['uuid']}",
            json={"description": "renamed"},
            headers=bearer(token) | {"Prefer": "wait=20"},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["inventory"]["description"] == "renamed"

        # X-Job-UUID: a retry returns the same job and does not run it again
        job = str(uuid.uuid4())
        headers = bearer(token) | {"Prefer": "wait=20", "X-Job-UUID": job}
        body = {"name": "c1", "zoneUuid": zone["uuid"], "hypervisorType": "KVM"}
        first = await http.post(f"{a}/v1/clusters", json=body, headers=headers)
        again = await http.post(f"{b}/v1/clusters", json=body, headers=headers)
        assert first.status_code == again.status_code == 200, (first.text, again.text)
        assert first.json() == again.json()
        cluster_uuid = first.json()["inventory"]["uuid"]

        # cascade through the API: the zone's cluster goes first
        resp = await http.delete(
            f"{a}/v1/zones/{zone['uuid']}", headers=bearer(token) | {"Prefer": "wait=20"}
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["deleted"] == ["Cluster", "Zone"]
        resp = await http.put(
            f"{a}/v1/clusters/{cluster_uuid}",
            json={"name": "x"},
            headers=bearer(token) | {"Prefer": "wait=20"},
        )
        assert resp.status_code == 404


async def test_bad_requests_get_clear_errors(frontends: list[Proc]) -> None:
    a = frontends[0].url
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await http.post(f"{a}/v1/zones", json={"name": "z"})).status_code == 401
        bad = await http.post(f"{a}/v1/zones", json={"name": "z"}, headers=bearer("not-a-session"))
        assert bad.status_code == 401
        assert bad.json()["error"]["code"] == "API.1001"
        wrong = await http.post(
            f"{a}/v1/sessions", json={"accountName": "admin", "password": "nope"}
        )
        assert wrong.status_code == 401
        token = await login(http, a, "admin", ADMIN_PASSWORD)
        for body, field in [
            ({}, "name"),
            ({"name": ""}, "name"),
            ({"name": "z", "colour": "red"}, "colour"),
            ({"name": 5}, "name"),
        ]:
            resp = await http.post(f"{a}/v1/zones", json=body, headers=bearer(token))
            assert resp.status_code == 400, (body, resp.text)
            assert resp.json()["error"]["extra"]["field"] == field, resp.text
        garbage = await http.post(
            f"{a}/v1/zones",
            content=b"{not json",
            headers=bearer(token) | {"content-type": "application/json"},
        )
        assert garbage.status_code == 400
        bad_job = await http.post(
            f"{a}/v1/zones", json={"name": "z"}, headers=bearer(token) | {"X-Job-UUID": "x"}
        )
        assert bad_job.status_code == 400
        missing = await http.put(
            f"{a}/v1/zones/{uuid.uuid4()}",
            json={"name": "n"},
            headers=bearer(token) | {"Prefer": "wait=20"},
        )
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "API.1004"
        unknown_job = await http.get(f"{a}/v1/api-jobs/{uuid.uuid4()}", headers=bearer(token))
        assert unknown_job.status_code == 404
        logout = await http.delete(f"{a}/v1/sessions/current", headers=bearer(token))
        assert logout.status_code == 204
        revoked = await http.post(f"{a}/v1/zones", json={"name": "z"}, headers=bearer(token))
        assert revoked.status_code == 401


async def test_a_tenant_cannot_touch_another_tenants_resources(
    frontends: list[Proc], db: Database
) -> None:
    a = frontends[0].url
    await make_account(db, "alice", "alice-pw")
    await make_account(db, "bob", "bob-pw")
    async with httpx.AsyncClient(timeout=30) as http:
        alice = await login(http, a, "alice", "alice-pw")
        bob = await login(http, a, "bob", "bob-pw")
        wait = {"Prefer": "wait=20"}
        resp = await http.post(f"{a}/v1/zones", json={"name": "az"}, headers=bearer(alice) | wait)
        zone = resp.json()["inventory"]
        job = resp.headers.get("Location")
        zone_url = f"{a}/v1/zones/{zone['uuid']}"
        as_bob = bearer(bob) | wait
        attempts: list[Callable[[], Awaitable[httpx.Response]]] = [
            lambda: http.put(zone_url, json={"name": "x"}, headers=as_bob),
            lambda: http.delete(zone_url, headers=as_bob),
            lambda: http.post(
                f"{a}/v1/clusters", json={"name": "c", "zoneUuid": zone["uuid"]}, headers=as_bob
            ),
        ]
        for attempt in attempts:
            resp = await attempt()
            assert resp.status_code in (400, 404), resp.text
            assert "az" not in resp.text  # learns nothing about it
        if job:
            assert (await http.get(f"{a}{job}", headers=bearer(bob))).status_code == 404
        # and alice's zone is unchanged
        resp = await http.put(f"{a}/v1/zones/{zone['uuid']}", json={}, headers=bearer(alice) | wait)
        assert resp.json()["inventory"]["name"] == "az"


async def test_a_job_whose_message_was_lost_is_published_again(
    frontends: list[Proc], db: Database
) -> None:
    """A frontend that died between committing the job and publishing it: the job row is
    all there is; the sweeper on the partition's owner publishes it again."""
    from sqlalchemy import update  # noqa: PLC0415

    from mgmt.core.api import ApiJobRow, JobState  # noqa: PLC0415

    a = frontends[0].url
    async with httpx.AsyncClient(timeout=30) as http:
        token = await login(http, a, "admin", ADMIN_PASSWORD)
        resp = await http.post(
            f"{a}/v1/zones", json={"name": "lost"}, headers=bearer(token) | {"Prefer": "wait=20"}
        )
        assert resp.status_code == 200
        job_uuid = resp.headers["Location"].rsplit("/", 1)[-1]
    # simulate the lost publish: a job left Pending long ago (its zone exists; a create
    # is idempotent on its resource UUID, so running it again changes nothing)
    async with db.session() as s, s.begin():
        row = (
            await s.execute(
                update(ApiJobRow)
                .where(ApiJobRow.api == "CreateZone")
                .values(state=JobState.PENDING, updated_at=datetime(2000, 1, 1, tzinfo=UTC))
                .returning(ApiJobRow.uuid)
            )
        ).scalar_one()
    assert job_uuid == row

    async def finished() -> bool:
        async with db.session() as s:
            job = await s.get(ApiJobRow, row)
        return job is not None and job.state == JobState.SUCCEEDED

    await eventually(finished, timeout=60, interval=0.5)


async def test_a_job_no_node_finishes_fails_instead_of_hanging(
    frontends: list[Proc], db: Database
) -> None:
    """A job whose message was dead-lettered (or lost for good) is failed with SYS.1001 by
    the partition owner's sweeper after the job timeout: nothing stays Running forever."""
    from sqlalchemy import update  # noqa: PLC0415

    from mgmt.core.api import ApiJobRow, JobState  # noqa: PLC0415

    a = frontends[0].url
    async with httpx.AsyncClient(timeout=30) as http:
        token = await login(http, a, "admin", ADMIN_PASSWORD)
        resp = await http.post(
            f"{a}/v1/zones", json={"name": "old"}, headers=bearer(token) | {"Prefer": "wait=20"}
        )
        job = resp.headers["Location"].rsplit("/", 1)[-1]
        async with db.session() as s, s.begin():
            await s.execute(
                update(ApiJobRow)
                .where(ApiJobRow.uuid == job)
                .values(state=JobState.RUNNING, created_at=datetime(2000, 1, 1, tzinfo=UTC))
            )

        async def failed() -> httpx.Response | None:
            r = await http.get(f"{a}/v1/api-jobs/{job}", headers=bearer(token))
            return r if r.status_code == 503 else None

        resp = await eventually(failed, timeout=30, interval=0.5)
        assert resp.json()["error"]["code"] == "SYS.1001"
