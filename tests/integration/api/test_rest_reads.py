"""Reads, queries and ZQL through real HTTP on PostgreSQL, with two tenants: each sees only
its own, by every read API, nested conditions included; bad queries are 400s naming the
token; a fuzz of query strings never gets a 5xx."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mgmt.bench.cluster import LocalCluster
from mgmt.bench.failover import wait_settled
from tests.helpers.eventually import eventually
from tests.integration.api.test_identity import Api
from tests.integration.conftest import PARTITIONS

ADMIN_PASSWORD = "admin-pw-reads"


@pytest.fixture
async def tenants(cluster: LocalCluster) -> AsyncIterator[dict[str, Any]]:
    env = {"ZCLOUD_ADMIN_PASSWORD": ADMIN_PASSWORD}
    node = cluster.mgmt("node0", **env).start()
    await node.wait_ready()
    await wait_settled([node], PARTITIONS)
    api = cluster.api("api0", **env).start()
    await api.wait_ready()
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, api.url, "admin", ADMIN_PASSWORD)
        out: dict[str, Any] = {"admin": admin, "http": http, "url": api.url}
        for name in ("alpha", "beta"):
            await admin.ok(
                "POST", "/v1/accounts", json={"name": name, "password": f"{name}-pw-123"}
            )
            tenant = await Api.login(http, api.url, name, f"{name}-pw-123")
            zone = (await tenant.ok("POST", "/v1/zones", json={"name": f"{name}-zone"}))[
                "inventory"
            ]
            for i in range(2):
                await tenant.ok(
                    "POST",
                    "/v1/clusters",
                    json={"name": f"{name}-c{i}", "zoneUuid": zone["uuid"]},
                )
            out[name] = tenant
            out[f"{name}-zone"] = zone
        yield out


async def get(api: Api, path: str, **params: Any) -> httpx.Response:
    return await api.http.get(
        f"{api.base}{path}", params=params, headers={"Authorization": f"Bearer {api.token}"}
    )


async def test_each_tenant_reads_only_its_own(tenants: dict[str, Any]) -> None:
    alpha, admin = tenants["alpha"], tenants["admin"]
    beta_zone = tenants["beta-zone"]
    mine = (await get(alpha, "/v1/zones")).json()["inventories"]
    assert [z["name"] for z in mine] == ["alpha-zone"]
    probes = [
        await get(alpha, "/v1/zones", q="name=beta-zone"),
        await get(alpha, "/v1/zones", q="clusters.name=beta-c0"),
        await get(alpha, "/v1/clusters", q="zone.name=beta-zone"),
        await get(alpha, "/v1/zql", zql="query zone where name='beta-zone'"),
        await get(alpha, "/v1/zql", zql="query cluster where zone.name like 'beta%'"),
    ]
    for resp in probes:
        assert resp.status_code == 200, resp.text
        assert resp.json().get("inventories") == [], resp.text
    assert (await get(alpha, f"/v1/zones/{beta_zone['uuid']}")).status_code == 404
    counted = await get(alpha, "/v1/zql", zql="count cluster")
    assert counted.json()["total"] == 2
    accounts = (await get(alpha, "/v1/accounts")).json()["inventories"]
    assert [a["name"] for a in accounts] == ["alpha"]
    # the admin sees everyone's
    every = (await get(admin, "/v1/clusters", replyWithCount="true")).json()
    assert every["total"] == 4
    # every call is audited; only admins read the audit log
    assert (await get(alpha, "/v1/audits")).status_code == 404

    async def audited() -> list[dict[str, Any]]:
        found = await get(admin, "/v1/audits", q="action=CreateCluster", sort="+id")
        rows: list[dict[str, Any]] = found.json()["inventories"]
        return rows if len(rows) == 4 else []

    rows = await eventually(audited, timeout=10, interval=0.2)
    assert {r["status"] for r in rows} == {200}
    assert all(r["jobUuid"] and r["resourceUuid"] and r["accountUuid"] for r in rows)

    async def reads_audited() -> bool:  # rows arrive in batches (every 200 ms)
        probe = await get(admin, "/v1/audits", q="action=QueryZone", replyWithCount="true")
        return bool(probe.json()["total"] >= 3)

    await eventually(reads_audited, timeout=10, interval=0.2)


async def test_query_features(tenants: dict[str, Any]) -> None:
    alpha = tenants["alpha"]
    zone = tenants["alpha-zone"]
    page = (
        await get(alpha, "/v1/clusters", sort="-name", limit="1", start="0", replyWithCount="true")
    ).json()
    assert [c["name"] for c in page["inventories"]] == ["alpha-c1"]
    assert page["total"] == 2
    only = (await get(alpha, "/v1/clusters", fields="name,zoneUuid", sort="+name")).json()
    assert only["inventories"] == [
        {"name": "alpha-c0", "zoneUuid": zone["uuid"]},
        {"name": "alpha-c1", "zoneUuid": zone["uuid"]},
    ]
    assert (await get(alpha, "/v1/clusters", count="true")).json() == {"total": 2}
    grouped = (await get(alpha, "/v1/clusters", groupBy="hypervisorType")).json()
    assert grouped["groups"] == [{"value": "KVM", "count": 2}]
    both = await alpha.http.get(
        f"{alpha.base}/v1/clusters",
        params=[("q", "name~=alpha-%"), ("q", "name!=alpha-c0"), ("q", "zone.state=Enabled")],
        headers={"Authorization": f"Bearer {alpha.token}"},
    )
    assert [c["name"] for c in both.json()["inventories"]] == ["alpha-c1"]
    one = (await get(alpha, f"/v1/zones/{zone['uuid']}")).json()["inventory"]
    assert one["name"] == "alpha-zone"
    zql = (
        await get(
            alpha,
            "/v1/zql",
            zql="query cluster where (name='alpha-c0' or name='alpha-c1') and not state='Disabled' "
            "order by name desc limit 1 return with (total)",
        )
    ).json()
    assert [c["name"] for c in zql["inventories"]] == ["alpha-c1"]
    assert zql["total"] == 2
    injected = await get(alpha, "/v1/zones", q="name=x' OR '1'='1")
    assert injected.status_code == 200
    assert injected.json()["inventories"] == []


BAD_QUERIES: list[tuple[dict[str, str], str | None]] = [
    ({"q": "colour=red"}, "colour"),
    ({"q": "clusters.colour=red"}, "colour"),
    ({"sort": "-colour"}, "colour"),
    ({"fields": "name,nope"}, "nope"),
    ({"limit": "20000"}, None),
    ({"zql": "query zone where"}, None),
    ({"zql": "query spaceship"}, "spaceship"),
]


async def test_bad_queries_are_400_naming_the_token_and_a_fuzz_gets_no_5xx(
    tenants: dict[str, Any],
) -> None:
    alpha = tenants["alpha"]
    for params, token in BAD_QUERIES:
        path = "/v1/zql" if "zql" in params else "/v1/zones"
        resp = await get(alpha, path, **params)
        assert resp.status_code == 400, (params, resp.text)
        if token is not None:
            assert token in resp.text
    await _fuzz(alpha)


async def _fuzz(alpha: Api) -> None:
    rng = random.Random(20261125)
    atoms = [
        "name", "state", "uuid", "clusters", "zone", ".", "=", "!=", ">", "<=", "?=", "!?=",
        "~=", "!~=", " is null", " not null", "%", "_", "'", '"', ",", "(", ")", "__systemTag__",
        "__userTag__", "1e309", "-1", "true", "\\", "\x00", "é", "query", "count", "sum", "where",
        "and", "or", "not", "in", "like", "order by", "limit", "offset", "zone", "cluster",
        "return with (total)", " ", "group by",
    ]  # fmt: skip
    for i in range(300):
        text = "".join(rng.choice(atoms) for _ in range(rng.randint(1, 9)))
        if i % 2:
            resp = await get(alpha, "/v1/zones", q=text)
        else:
            resp = await get(alpha, "/v1/zql", zql=text)
        assert resp.status_code < 500, (text, resp.status_code, resp.text)
