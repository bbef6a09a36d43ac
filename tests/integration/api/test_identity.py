"""Identity through real HTTP (2 frontends, 2 nodes, PostgreSQL, RabbitMQ): accounts, quota
races, users and policies, access-key signatures, session expiry, secrets never stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.bench.failover import wait_settled
from mgmt.core.api import ApiJobRow
from mgmt.core.db import Database
from mgmt.core.quota import QuotaRow
from mgmt.identity.keys import signature
from mgmt.identity.models import AccountRow, SessionRow
from mgmt.zone.models import ZoneRow
from tests.helpers.eventually import eventually
from tests.integration.conftest import PARTITIONS

ADMIN_PASSWORD = "admin-pw-for-tests"
WAIT = {"Prefer": "wait=30"}


async def start_apis(cluster: LocalCluster, **extra_env: str) -> list[str]:
    """2 nodes, settled, then 2 frontends; the frontends' URLs. A simulator agent runs
    beside them: Simulator hosts are served by it, and their replies come back through
    the first frontend."""
    env = {
        "ZCLOUD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ZCLOUD_SECRET_KEY": "test-deployment-key",
        **extra_env,
    }
    # ports are chosen when a process is declared: the nodes can name the first frontend
    # as their callback URL before it starts
    frontends: list[Proc] = [cluster.api(f"api{i}", **env) for i in range(2)]
    sim = cluster.sim().start()
    node_env = {
        "ZCLOUD_CALLBACK_BASE_URL": frontends[0].url,
        "ZCLOUD_SIMULATOR_URL": sim.url,
        **env,
    }
    nodes = [cluster.mgmt(f"node{i}", **node_env).start() for i in range(2)]
    for node in nodes:
        await node.wait_ready()
    await sim.wait_ready("/health")
    await wait_settled(nodes, PARTITIONS)
    for api in frontends:
        api.start()
    for api in frontends:
        await api.wait_ready()
    return [p.url for p in frontends]


@pytest.fixture
async def apis(cluster: LocalCluster) -> AsyncIterator[list[str]]:
    yield await start_apis(cluster)


class Api:
    def __init__(self, http: httpx.AsyncClient, base: str, token: str = "") -> None:
        self.http, self.base, self.token = http, base, token

    @classmethod
    async def login(
        cls, http: httpx.AsyncClient, base: str, account: str, password: str, user: str = ""
    ) -> Api:
        body: dict[str, Any] = {"accountName": account, "password": password}
        if user:
            body["userName"] = user
        resp = await http.post(f"{base}/v1/sessions", json=body)
        assert resp.status_code == 200, resp.text
        return cls(http, base, resp.json()["inventory"]["token"])

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **WAIT, **kw.pop("headers", {})}
        return await self.http.request(method, f"{self.base}{path}", headers=headers, **kw)

    async def ok(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        resp = await self.call(method, path, **kw)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body


async def test_accounts_quotas_and_a_50_way_race(apis: list[str], db: Database) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, apis[0], "admin", ADMIN_PASSWORD)
        account = (
            await admin.ok(
                "POST", "/v1/accounts", json={"name": "tenant-a", "password": "pw-a-123456"}
            )
        )["inventory"]
        await admin.ok(
            "POST",
            f"/v1/accounts/{account['uuid']}/actions/update-quota",
            json={"name": "zone.num", "value": 10},
        )
        tenant = [await Api.login(http, base, "tenant-a", "pw-a-123456") for base in apis]

        async def create(i: int) -> int:
            resp = await tenant[i % 2].call("POST", "/v1/zones", json={"name": f"z{i}"})
            return resp.status_code

        codes = await asyncio.gather(*(create(i) for i in range(50)))
        assert codes.count(200) == 10, codes
        assert codes.count(429) == 40, codes
        async with db.session() as s:
            zones = (
                (
                    await s.execute(
                        select(ZoneRow).where(ZoneRow.owner_account_uuid == account["uuid"])
                    )
                )
                .scalars()
                .all()
            )
            q = await s.get(QuotaRow, (account["uuid"], "zone.num"))
        assert len(zones) == 10
        assert q is not None and q.used == 10

        # the password was hashed before anything was stored: not in the job, not in the row
        async with db.session() as s:
            stored = (
                await s.execute(select(ApiJobRow.message).where(ApiJobRow.api == "CreateAccount"))
            ).scalar_one()
            row = await s.get(AccountRow, account["uuid"])
        assert "pw-a-123456" not in stored
        assert row is not None and row.password_hash.startswith("scrypt$")

        # deleting the account takes its zones and gives nothing back to anyone else
        deleted = await admin.ok("DELETE", f"/v1/accounts/{account['uuid']}")
        assert deleted["deleted"][-1] == "Account"
        assert "Zone" in deleted["deleted"]
        async with db.session() as s:
            left = (
                (
                    await s.execute(
                        select(ZoneRow).where(ZoneRow.owner_account_uuid == account["uuid"])
                    )
                )
                .scalars()
                .all()
            )
        assert left == []
        relogin = await http.post(
            f"{apis[0]}/v1/sessions", json={"accountName": "tenant-a", "password": "pw-a-123456"}
        )
        assert relogin.status_code == 401


async def test_users_act_only_as_their_policies_allow(apis: list[str]) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, apis[0], "admin", ADMIN_PASSWORD)
        await admin.ok("POST", "/v1/accounts", json={"name": "tenant-b", "password": "pw-b-123456"})
        owner = await Api.login(http, apis[1], "tenant-b", "pw-b-123456")
        zone = (await owner.ok("POST", "/v1/zones", json={"name": "bz"}))["inventory"]
        user = (
            await owner.ok("POST", "/v1/users", json={"name": "ops", "password": "ops-pw-1234"})
        )["inventory"]
        group = (await owner.ok("POST", "/v1/user-groups", json={"name": "operators"}))["inventory"]
        await owner.ok(
            "POST",
            f"/v1/user-groups/{group['uuid']}/actions/add-user",
            json={"userUuid": user["uuid"]},
        )
        policy = (
            await owner.ok(
                "POST",
                "/v1/policies",
                json={
                    "name": "zone-editor",
                    "statements": [
                        {"effect": "Allow", "actions": ["UpdateZone", "Query*"]},
                        {"effect": "Deny", "actions": ["UpdateZone"], "resources": ["nope-*"]},
                    ],
                },
            )
        )["inventory"]
        ops = await Api.login(http, apis[0], "tenant-b", "ops-pw-1234", user="ops")
        assert (
            await ops.call("PUT", f"/v1/zones/{zone['uuid']}", json={"name": "x"})
        ).status_code == 403
        await owner.ok(
            "POST",
            f"/v1/policies/{policy['uuid']}/actions/attach",
            json={"principalUuid": group["uuid"]},
        )
        renamed = await ops.ok("PUT", f"/v1/zones/{zone['uuid']}", json={"name": "by-ops"})
        assert renamed["inventory"]["name"] == "by-ops"
        assert (await ops.call("POST", "/v1/zones", json={"name": "no"})).status_code == 403
        assert (await ops.call("DELETE", f"/v1/zones/{zone['uuid']}")).status_code == 403
        # bad principal: 400 naming the field
        bad = await owner.call(
            "POST", f"/v1/policies/{policy['uuid']}/actions/attach", json={"principalUuid": "x"}
        )
        assert bad.status_code == 400
        assert bad.json()["error"]["extra"]["field"] == "principalUuid"


async def test_access_keys_sign_requests_and_sessions_expire(apis: list[str], db: Database) -> None:
    base = apis[0]
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, base, "admin", ADMIN_PASSWORD)
        await admin.ok("POST", "/v1/accounts", json={"name": "tenant-c", "password": "pw-c-123456"})
        owner = await Api.login(http, base, "tenant-c", "pw-c-123456")
        created = await owner.ok("POST", "/v1/access-keys", json={})
        key_id, secret = created["inventory"]["keyId"], created["keySecret"]
        key_uuid = created["inventory"]["uuid"]

        async def signed(when: datetime, sig_secret: str = secret) -> httpx.Response:
            date = format_datetime(when, usegmt=True)
            sig = signature(sig_secret, "POST", "/v1/zones", date)
            return await http.post(
                f"{base}/v1/zones",
                json={"name": "signed"},
                headers={"Date": date, "Authorization": f"ZCloud {key_id}:{sig}", **WAIT},
            )

        now = datetime.now(UTC)
        good = await signed(now)
        assert good.status_code == 200, good.text
        assert (await signed(now, "wrong-secret")).status_code == 401
        stale = await signed(now - timedelta(minutes=20))
        assert stale.status_code == 401
        assert "15 minutes" in stale.json()["error"]["details"]
        await owner.ok("DELETE", f"/v1/access-keys/{key_uuid}")
        assert (await signed(datetime.now(UTC))).status_code == 401

        # an expired session is refused
        async with db.session() as s, s.begin():
            await s.execute(update(SessionRow).values(expires_at=datetime(2001, 1, 1, tzinfo=UTC)))

        # (frontends cache a session's answer for up to 2 s)
        async def refused() -> bool:
            expired = await owner.call("POST", "/v1/zones", json={"name": "late"})
            return expired.status_code == 401

        await eventually(refused, timeout=10, interval=0.5)


async def test_global_config_through_the_api(apis: list[str]) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, apis[0], "admin", ADMIN_PASSWORD)
        path = "/v1/global-configs/identity.session.timeout"
        updated = await admin.ok("PUT", path, json={"value": "600"})
        assert updated["inventory"]["value"] == "600"
        assert updated["inventory"]["version"] == 2
        bad = await admin.call("PUT", path, json={"value": "-5"})
        assert bad.status_code == 400
        assert "GCONF.1001" in bad.text
        missing = await admin.call("PUT", "/v1/global-configs/nope.nothing", json={"value": "1"})
        assert missing.status_code == 404
        listed = await admin.ok("GET", "/v1/global-configs", params={"q": "category=identity"})
        assert {c["name"] for c in listed["inventories"]} >= {"session.timeout"}
        await admin.ok("POST", "/v1/accounts", json={"name": "tenant-g", "password": "pw-g-123456"})
        tenant = await Api.login(http, apis[1], "tenant-g", "pw-g-123456")
        assert (await tenant.call("PUT", path, json={"value": "900"})).status_code == 403
        one = await tenant.ok("GET", "/v1/global-configs/identity.session.timeout")
        assert one["inventory"]["value"] == "600"

        # both frontends apply it: a new session now lives 600 s
        async def short_sessions() -> bool:
            for base in apis:
                resp = await http.post(
                    f"{base}/v1/sessions",
                    json={"accountName": "tenant-g", "password": "pw-g-123456"},
                )
                expires = datetime.fromisoformat(resp.json()["inventory"]["expiresAt"])
                if expires - datetime.now(UTC) > timedelta(seconds=700):
                    return False
            return True

        await eventually(short_sessions, timeout=10, interval=0.5)
