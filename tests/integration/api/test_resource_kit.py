"""A resource type declared with the kit alone (``tests/fixtures/widgets.py``) gets the
whole REST surface, through real HTTP on 2 frontends and 2 nodes (PostgreSQL, RabbitMQ):
create/get/update/delete, ``q=`` and ZQL on its fields and on its relation to zones in both
directions, tags, sharing, cascade from its zone, its quota and tenant isolation. The
generated create matrix of ``test_create_uuids`` covers it too (``WIDGET_ENV``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from mgmt.bench.cluster import LocalCluster
from tests.fixtures.widgets import WidgetBase
from tests.integration.api.test_identity import ADMIN_PASSWORD, Api, start_apis

WIDGET_ENV = {"ZCLOUD_MODULES": "tests.fixtures.widgets:MODULE"}


async def create_widget_table(pg_url: str) -> None:
    """The test type's table (a real service's would come with its migrations)."""
    engine = create_async_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(WidgetBase.metadata.create_all)
    finally:
        await engine.dispose()


@pytest.fixture
async def widget_apis(cluster: LocalCluster, pg_url: str) -> AsyncIterator[list[str]]:
    await create_widget_table(pg_url)
    yield await start_apis(cluster, **WIDGET_ENV)


async def test_a_declared_type_gets_the_rest_surface(widget_apis: list[str]) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, widget_apis[0], "admin", ADMIN_PASSWORD)
        for name in ("kit-a", "kit-b"):
            await admin.ok("POST", "/v1/accounts", json={"name": name, "password": f"{name}-pw1"})
        a = await Api.login(http, widget_apis[0], "kit-a", "kit-a-pw1")
        b = await Api.login(http, widget_apis[1], "kit-b", "kit-b-pw1")
        zone = (await a.ok("POST", "/v1/zones", json={"name": "kz"}))["inventory"]

        made = await a.ok(
            "POST",
            "/v1/widgets",
            json={"name": "w1", "zoneUuid": zone["uuid"], "size": 3, "userTags": ["blue"]},
        )
        widget = made["inventory"]
        assert (widget["zoneUuid"], widget["size"], widget["name"]) == (zone["uuid"], 3, "w1")
        assert (await a.ok("GET", f"/v1/widgets/{widget['uuid']}"))["inventory"] == widget
        moved = await a.ok("PUT", f"/v1/widgets/{widget['uuid']}", json={"size": 7})
        assert moved["inventory"]["size"] == 7 and moved["inventory"]["name"] == "w1"

        # queries: its fields, its relation up (zone) and down (zone → widgets), tags, ZQL
        for q in ("size>5", "zone.name=kz", "__userTag__=blue", "name~=w%"):
            found = await a.ok("GET", "/v1/widgets", params={"q": q})
            assert [w["uuid"] for w in found["inventories"]] == [widget["uuid"]], q
        zones = await a.ok("GET", "/v1/zones", params={"q": "widgets.size>=7"})
        assert [z["uuid"] for z in zones["inventories"]] == [zone["uuid"]]
        zql = await a.ok("GET", "/v1/zql", params={"zql": "count widget where zone.name = 'kz'"})
        assert zql["total"] == 1, zql

        # a parent must be one the caller sees; other tenants see nothing
        bad = await b.call("POST", "/v1/widgets", json={"name": "x", "zoneUuid": zone["uuid"]})
        assert bad.status_code == 400 and bad.json()["error"]["extra"]["field"] == "zoneUuid"
        assert (await b.call("GET", f"/v1/widgets/{widget['uuid']}")).status_code == 404
        assert (await b.ok("GET", "/v1/widgets"))["inventories"] == []
        hidden = await b.call("PUT", f"/v1/widgets/{widget['uuid']}", json={"size": 1})
        assert hidden.status_code == 404

        # sharing gives B read access, and nothing more
        b_account = (await b.ok("GET", "/v1/accounts"))["inventories"][0]["uuid"]
        await a.ok(
            "POST",
            "/v1/resource-shares",
            json={
                "resourceUuid": widget["uuid"],
                "resourceType": "Widget",
                "toAccountUuids": [b_account],
            },
        )
        assert (await b.ok("GET", f"/v1/widgets/{widget['uuid']}"))["inventory"]["size"] == 7
        assert (await b.call("DELETE", f"/v1/widgets/{widget['uuid']}")).status_code == 404

        # its quota (5): the 5th more is refused, and a delete gives one back
        for i in range(4):
            await a.ok("POST", "/v1/widgets", json={"name": f"q{i}", "zoneUuid": zone["uuid"]})
        over = await a.call("POST", "/v1/widgets", json={"name": "q5", "zoneUuid": zone["uuid"]})
        assert over.status_code == 429, over.text
        gone = await a.ok("DELETE", f"/v1/widgets/{widget['uuid']}")
        assert gone["deleted"] == ["Widget"]
        again = await a.ok("POST", "/v1/widgets", json={"name": "q5", "zoneUuid": zone["uuid"]})

        # the cascade from its zone: its widgets go first
        deleted = (await a.ok("DELETE", f"/v1/zones/{zone['uuid']}?deleteMode=Enforcing"))[
            "deleted"
        ]
        assert deleted.index("Widget") < deleted.index("Zone"), deleted
        left = await a.call("GET", f"/v1/widgets/{again['inventory']['uuid']}")
        assert left.status_code == 404
        assert (await a.ok("GET", "/v1/widgets"))["inventories"] == []


async def test_the_openapi_document_describes_it(widget_apis: list[str]) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        spec = (await http.get(f"{widget_apis[0]}/openapi.json")).json()
    assert {"post"} <= set(spec["paths"]["/v1/widgets"])
    assert {"get", "put", "delete"} <= set(spec["paths"]["/v1/widgets/{uuid}"])
    body = spec["components"]["schemas"]["CreateWidgetBody"]
    assert body.get("examples"), body
    for name, field in body["properties"].items():
        assert field.get("description"), name
