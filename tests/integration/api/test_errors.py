"""Errors the router and the body parser answer by themselves (an unknown route, a wrong
method, a body that is not JSON) come back as ``{"error": ErrorCode}`` like every other
error, through real HTTP on a frontend and a management node (PostgreSQL, RabbitMQ); and
``/docs`` is served, assets included, from the frontend alone."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mgmt.bench.cluster import LocalCluster
from mgmt.bench.failover import wait_settled
from tests.integration.api.test_identity import Api
from tests.integration.conftest import PARTITIONS

ADMIN_PASSWORD = "admin-pw-errors"


@pytest.fixture
async def admin(cluster: LocalCluster) -> AsyncIterator[Api]:
    env = {"ZCLOUD_ADMIN_PASSWORD": ADMIN_PASSWORD}
    node = cluster.mgmt("node0", **env).start()
    await node.wait_ready()
    await wait_settled([node], PARTITIONS)
    api = cluster.api("api0", **env).start()
    await api.wait_ready()
    async with httpx.AsyncClient(timeout=60) as http:
        yield await Api.login(http, api.url, "admin", ADMIN_PASSWORD)


def error_of(resp: httpx.Response) -> dict[str, Any]:
    assert resp.headers["content-type"] == "application/json", resp.text
    body = resp.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert {"code", "description", "details", "extra", "cause"} <= set(err), err
    return err


async def test_unknown_route_is_an_error_code(admin: Api) -> None:
    resp = await admin.call("GET", "/v1/no-such-collection")
    assert resp.status_code == 404
    assert error_of(resp)["code"] == "API.1004"
    resp = await admin.http.get(f"{admin.base}/not/an/api")  # outside /v1, no session
    assert resp.status_code == 404
    assert error_of(resp)["code"] == "API.1004"


async def test_wrong_method_lists_every_method_of_the_path(admin: Api) -> None:
    resp = await admin.call("PATCH", "/v1/zones")
    assert resp.status_code == 405
    assert error_of(resp)["code"] == "API.1005"
    # GET (a query) and POST (a create) are two routes: Allow names both, as the document does
    assert resp.headers["allow"] == "GET, POST"
    doc = (await admin.http.get(f"{admin.base}/openapi.json")).json()
    some_uuid = "/v1/zones/00000000-0000-0000-0000-000000000000"
    resp = await admin.call("POST", some_uuid)
    assert resp.status_code == 405
    allowed = {m.strip().lower() for m in resp.headers["allow"].split(",")}
    assert allowed == set(doc["paths"]["/v1/zones/{uuid}"]), resp.headers["allow"]


async def test_malformed_json_names_where_it_breaks(admin: Api) -> None:
    body = b'{"name": "z1",\n  "description": oops}'
    resp = await admin.call(
        "POST", "/v1/zones", content=body, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    err = error_of(resp)
    assert err["code"] == "API.1000"
    assert err["extra"] == {"field": "body", "line": 2, "column": 18, "position": 32}
    assert "line 2, column 18" in err["details"], err


async def test_empty_query_parameters_mean_absent(admin: Api) -> None:
    resp = await admin.call("GET", "/v1/zones", params={"sort": "", "fields": "", "groupBy": ""})
    assert resp.status_code == 200, resp.text
    resp = await admin.call("GET", "/v1/zones", params={"sort": "-nosuchfield"})
    assert resp.status_code == 400
    assert error_of(resp)["extra"]["field"] == "sort"


async def test_docs_load_with_no_external_url(admin: Api) -> None:
    page = await admin.http.get(f"{admin.base}/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs, page.text
    assert not re.search(r"(?:https?:)?//", page.text), "the page names another host"
    for ref in refs:
        asset = await admin.http.get(f"{admin.base}{ref}")
        assert asset.status_code == 200, ref
        assert asset.content, ref
    init = await admin.http.get(f"{admin.base}/docs/init.js")
    assert '"/openapi.json"' in init.text
    assert "validatorUrl: null" in init.text  # else Swagger UI fetches a badge from its site
