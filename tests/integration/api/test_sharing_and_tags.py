"""Sharing and tags through real HTTP: a shared or public resource becomes readable (not
writable) by others; only its owner tags it; tags are queryable and go with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mgmt.bench.cluster import LocalCluster
from mgmt.bench.failover import wait_settled
from tests.integration.api.test_identity import Api
from tests.integration.conftest import PARTITIONS

ADMIN_PASSWORD = "admin-pw-share"


@pytest.fixture
async def three(cluster: LocalCluster) -> AsyncIterator[dict[str, Any]]:
    env = {"ZCLOUD_ADMIN_PASSWORD": ADMIN_PASSWORD}
    node = cluster.mgmt("node0", **env).start()
    await node.wait_ready()
    await wait_settled([node], PARTITIONS)
    api = cluster.api("api0", **env).start()
    await api.wait_ready()
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, api.url, "admin", ADMIN_PASSWORD)
        out: dict[str, Any] = {}
        for name in ("owner", "friend", "stranger"):
            acct = await admin.ok(
                "POST", "/v1/accounts", json={"name": name, "password": f"{name}-pw-1"}
            )
            out[f"{name}-uuid"] = acct["inventory"]["uuid"]
            out[name] = await Api.login(http, api.url, name, f"{name}-pw-1")
        yield out


async def test_sharing_makes_a_resource_readable_not_writable(three: dict[str, Any]) -> None:
    owner, friend, stranger = three["owner"], three["friend"], three["stranger"]
    zone = (await owner.ok("POST", "/v1/zones", json={"name": "shared-zone"}))["inventory"]
    path = f"/v1/zones/{zone['uuid']}"
    assert (await friend.call("GET", path)).status_code == 404
    # only the owner shares it
    refused = await friend.call(
        "POST",
        "/v1/resource-shares",
        json={"resourceUuid": zone["uuid"], "resourceType": "Zone", "public": True},
    )
    assert refused.status_code == 404
    await owner.ok(
        "POST",
        "/v1/resource-shares",
        json={
            "resourceUuid": zone["uuid"],
            "resourceType": "Zone",
            "toAccountUuids": [three["friend-uuid"]],
        },
    )
    assert (await friend.ok("GET", path))["inventory"]["name"] == "shared-zone"
    listed = await friend.ok("GET", "/v1/zones", params={"q": "name=shared-zone"})
    assert len(listed["inventories"]) == 1
    assert (await stranger.call("GET", path)).status_code == 404
    # shared is read-only for the friend
    assert (await friend.call("PUT", path, json={"name": "mine"})).status_code == 404
    # public: everyone reads it
    await owner.ok(
        "POST",
        "/v1/resource-shares",
        json={"resourceUuid": zone["uuid"], "resourceType": "Zone", "public": True},
    )
    assert (await stranger.ok("GET", path))["inventory"]["uuid"] == zone["uuid"]
    zql = await stranger.ok("GET", "/v1/zql", params={"zql": "query zone where name='shared-zone'"})
    assert len(zql["inventories"]) == 1
    # revoked: gone again
    await owner.ok(
        "POST", f"/v1/resource-shares/{zone['uuid']}/actions/revoke", json={"resourceType": "Zone"}
    )
    assert (await stranger.call("GET", path)).status_code == 404
    assert (await friend.call("GET", path)).status_code == 404


async def test_owners_tag_their_resources_and_tags_are_queryable(three: dict[str, Any]) -> None:
    owner, stranger = three["owner"], three["stranger"]
    zone = (await owner.ok("POST", "/v1/zones", json={"name": "tagged"}))["inventory"]
    tag = await owner.ok(
        "POST",
        "/v1/user-tags",
        json={"resourceUuid": zone["uuid"], "resourceType": "Zone", "tag": "team-blue"},
    )
    refused = await stranger.call(
        "POST",
        "/v1/user-tags",
        json={"resourceUuid": zone["uuid"], "resourceType": "Zone", "tag": "mine-now"},
    )
    assert refused.status_code == 404
    assert refused.json()["error"]["extra"]["field"] == "resourceUuid"
    bad = await owner.call(
        "POST",
        "/v1/system-tags",
        json={"resourceUuid": zone["uuid"], "resourceType": "Zone", "tag": "nope::x"},
    )
    assert bad.status_code == 400
    found = await owner.ok("GET", "/v1/zones", params={"q": "__userTag__=team-blue"})
    assert [z["uuid"] for z in found["inventories"]] == [zone["uuid"]]
    assert (await stranger.ok("GET", "/v1/tags"))["inventories"] == []
    # system tag values can be matched whole, never probed by pattern (sensitive values)
    probe = await owner.call("GET", "/v1/zones", params={"q": "__systemTag__~=pass%"})
    assert probe.status_code == 400
    assert "whole values" in probe.text
    zql_probe = await owner.call(
        "GET", "/v1/zql", params={"zql": "query zone where __systemTag__ like 'pass%'"}
    )
    assert zql_probe.status_code == 400
    assert "whole values" in zql_probe.text
    mine = await owner.ok("GET", "/v1/tags", params={"q": f"resourceUuid={zone['uuid']}"})
    assert [t["tag"] for t in mine["inventories"]] == ["team-blue"]
    assert (
        await stranger.call("DELETE", f"/v1/tags/{tag['inventory']['uuid']}")
    ).status_code == 404
    await owner.ok("DELETE", f"/v1/tags/{tag['inventory']['uuid']}")
    gone = await owner.ok("GET", "/v1/zones", params={"q": "__userTag__=team-blue"})
    assert gone["inventories"] == []


async def test_tags_given_on_create_go_on_the_new_resource(three: dict[str, Any]) -> None:
    owner = three["owner"]
    zone = (
        await owner.ok("POST", "/v1/zones", json={"name": "with-tags", "userTags": ["a", "b"]})
    )["inventory"]
    found = await owner.ok("GET", "/v1/zones", params={"q": "__userTag__=b"})
    assert [z["uuid"] for z in found["inventories"]] == [zone["uuid"]]
    refused = await owner.call(
        "POST", "/v1/zones", json={"name": "bad-tags", "systemTags": ["nope::x"]}
    )
    assert refused.status_code == 400, refused.text
    assert "TAG.1002" in refused.text
    none = await owner.ok("GET", "/v1/zones", params={"q": "name=bad-tags"})
    assert none["inventories"] == []  # refused before it was created
