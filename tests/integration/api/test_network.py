"""The network service through REST on 2 frontends and 2 nodes (PostgreSQL, RabbitMQ):
L2 networks of every type, cluster attachments, L3 networks, IP ranges, IPAM and VIPs,
offerings, tenancy through sharing, the cascade from a zone; and the races: 300 VIPs on
a /24 and 100 Vxlan networks on a pool of 50 VNIs, created at once."""

from __future__ import annotations

import asyncio
import uuid as uuidlib
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mgmt.bench.cluster import LocalCluster
from mgmt.core.db import Database
from mgmt.network.models import UsedIpRow, VniRow
from tests.helpers.eventually import eventually
from tests.integration.api.test_identity import ADMIN_PASSWORD, Api, start_apis


@pytest.fixture
async def net_apis(cluster: LocalCluster) -> list[str]:
    return await start_apis(cluster)


async def _send(api: Api, method: str, path: str, **kw: Any) -> httpx.Response:
    """One request, sent again if the connection broke or the frontend answered "briefly
    unavailable, retry" (``SYS.1007``: its database connections ran out under load; a write
    names its job with ``X-Job-UUID``, so sending it again is the same request, never a
    second create)."""

    async def attempt() -> httpx.Response | None:
        try:
            resp = await api.call(method, path, **kw)
        except httpx.TransportError:
            return None
        if resp.status_code == 503 and "SYS.1007" in resp.text:
            return None
        return resp

    sent: httpx.Response = await eventually(attempt, timeout=120, interval=0.5)
    return sent


async def done(api: Api, method: str, path: str, *, wait: bool = True, **kw: Any) -> httpx.Response:
    """The final answer of a write: waited for (``Prefer: wait``), then the job polled.
    ``wait=False`` only queues the job before polling (so a race has every create in
    flight at once, not only as many as there are connections)."""
    headers = {"X-Job-UUID": str(uuidlib.uuid4()), **kw.pop("headers", {})}
    if not wait:
        headers["Prefer"] = "wait=0"
    resp = await _send(api, method, path, headers=headers, **kw)
    if resp.status_code != 202:
        return resp
    location = resp.headers["Location"]

    async def finished() -> httpx.Response | None:
        job = await _send(api, "GET", location)
        return None if job.status_code == 202 else job

    result: httpx.Response = await eventually(finished, timeout=180, interval=0.5)
    return result


async def ok(api: Api, method: str, path: str, **kw: Any) -> dict[str, Any]:
    resp = await done(api, method, path, **kw)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def _zone_l2_l3(admin: Api, name: str) -> tuple[str, str, str]:
    zone = (await ok(admin, "POST", "/v1/zones", json={"name": f"{name}-zone"}))["inventory"]
    l2 = (
        await ok(
            admin,
            "POST",
            "/v1/l2-networks/no-vlan",
            json={"name": f"{name}-l2", "zoneUuid": zone["uuid"], "physicalInterface": "eth0"},
        )
    )["inventory"]
    l3 = (
        await ok(
            admin,
            "POST",
            "/v1/l3-networks",
            json={"name": f"{name}-l3", "l2NetworkUuid": l2["uuid"], "dns": ["8.8.8.8"]},
        )
    )["inventory"]
    return zone["uuid"], l2["uuid"], l3["uuid"]


async def _l2_types(admin: Api, zone: str) -> str:
    # L2 kinds, one API each: a Vlan needs its id; a VxlanPool its ranges; a field of
    # another kind is a 400 naming it
    bad = await admin.call("POST", "/v1/l2-networks/vlan", json={"name": "v", "zoneUuid": zone})
    assert bad.status_code == 400 and "vlan" in bad.text, bad.text
    for vlan_id in (0, 4095):
        body = {"name": "v", "zoneUuid": zone, "vlan": vlan_id}
        assert (await admin.call("POST", "/v1/l2-networks/vlan", json=body)).status_code == 400
    foreign = {"name": "n", "zoneUuid": zone, "vlan": 7}
    refused = await admin.call("POST", "/v1/l2-networks/no-vlan", json=foreign)
    assert refused.status_code == 400 and "vlan" in refused.text, refused.text
    not_uuid = await admin.call(
        "POST", "/v1/l2-networks/no-vlan", json={"name": "n", "zoneUuid": "z"}
    )
    assert not_uuid.status_code == 400 and "zoneUuid" in not_uuid.text, not_uuid.text
    vlan = await ok(
        admin, "POST", "/v1/l2-networks/vlan", json={"name": "v100", "zoneUuid": zone, "vlan": 100}
    )
    assert vlan["inventory"]["vlan"] == 100 and vlan["inventory"]["type"] == "Vlan"
    overlapping = {"name": "p", "zoneUuid": zone, "vniRanges": [{"startVni": 5, "endVni": 9}] * 2}
    refused = await admin.call("POST", "/v1/l2-networks/vxlan-pool", json=overlapping)
    assert refused.status_code == 400 and "overlap" in refused.text, refused.text
    pool = (
        await ok(
            admin,
            "POST",
            "/v1/l2-networks/vxlan-pool",
            json={"name": "pool", "zoneUuid": zone, "vniRanges": [{"startVni": 10, "endVni": 11}]},
        )
    )["inventory"]
    assert pool["type"] == "VxlanPool"
    vx = {"zoneUuid": zone, "poolUuid": pool["uuid"]}
    path = "/v1/l2-networks/vxlan"
    fixed = await ok(admin, "POST", path, json={**vx, "name": "x1", "vni": 11})
    assert (fixed["inventory"]["vni"], fixed["inventory"]["type"]) == (11, "Vxlan")
    taken = await done(admin, "POST", path, json={**vx, "name": "x2", "vni": 11})
    assert taken.status_code == 409, taken.text
    outside = await done(admin, "POST", path, json={**vx, "name": "x", "vni": 9})
    assert outside.status_code == 400, outside.text
    free = await ok(admin, "POST", path, json={**vx, "name": "x3"})
    assert free["inventory"]["vni"] == 10
    full = await done(admin, "POST", path, json={**vx, "name": "x4"})
    assert full.status_code == 409 and "no free VNI" in full.text, full.text
    not_a_pool = await done(
        admin, "POST", path, json={**vx, "name": "x5", "poolUuid": vlan["inventory"]["uuid"]}
    )
    assert not_a_pool.status_code == 404 and "poolUuid" in not_a_pool.text, not_a_pool.text

    return str(pool["uuid"])


async def _attachments(admin: Api, admin2: Api, zone: str, l2: str, pool: str) -> None:
    # attach and detach clusters; a pool's attachment carries the VTEP CIDR
    cluster = (await ok(admin, "POST", "/v1/clusters", json={"name": "c1", "zoneUuid": zone}))[
        "inventory"
    ]["uuid"]
    attach = f"/v1/l2-networks/{l2}/actions/attach-cluster"
    attached = await ok(admin, "POST", attach, json={"clusterUuid": cluster})
    assert attached["inventory"]["attachedClusterUuids"] == [cluster]
    again = await ok(admin2, "POST", attach, json={"clusterUuid": cluster})
    assert again["inventory"]["attachedClusterUuids"] == [cluster]
    found = await ok(admin, "GET", "/v1/l2-networks", params={"q": f"uuid={l2}"})
    assert found["inventories"][0]["attachedClusterUuids"] == [cluster]
    # a VTEP network is a pool's alone: on a NoVlan network it is a 409 naming the kind
    cidr_on_plain = await done(
        admin, "POST", attach, json={"clusterUuid": cluster, "vtepCidr": "172.16.0.0/16"}
    )
    assert cidr_on_plain.status_code == 409 and "NoVlan" in cidr_on_plain.text, cidr_on_plain.text
    vtep = await ok(
        admin,
        "POST",
        f"/v1/l2-networks/{pool}/actions/attach-cluster",
        json={"clusterUuid": cluster, "vtepCidr": "172.16.0.0/16"},
    )
    assert vtep["inventory"]["attachedCidrs"] == {cluster: "172.16.0.0/16"}
    detached = await ok(
        admin,
        "POST",
        f"/v1/l2-networks/{l2}/actions/detach-cluster",
        json={"clusterUuid": cluster},
    )
    assert detached["inventory"]["attachedClusterUuids"] == []


async def _l3_and_ranges(admin: Api, zone: str, l3: str) -> dict[str, Any]:
    # L3: DNS actions, queries through the relation to its L2 and zone
    dns = f"/v1/l3-networks/{l3}/actions"
    await ok(admin, "POST", f"{dns}/add-dns", json={"dns": "1.1.1.1"})
    got = await ok(admin, "POST", f"{dns}/remove-dns", json={"dns": "8.8.8.8"})
    assert got["inventory"]["dns"] == ["1.1.1.1"]
    assert got["inventory"]["zoneUuid"] == zone
    by_l2 = await ok(admin, "GET", "/v1/l3-networks", params={"q": "l2Network.name=n1-l2"})
    assert [x["uuid"] for x in by_l2["inventories"]] == [l3]

    # IP ranges: two shapes; an overlap is a 409 naming the other range
    r1 = (
        await ok(
            admin,
            "POST",
            "/v1/ip-ranges",
            json={
                "name": "r1",
                "l3NetworkUuid": l3,
                "startIp": "10.1.0.1",
                "endIp": "10.1.0.5",
                "netmask": "255.255.255.0",
                "gateway": "10.1.0.1",
            },
        )
    )["inventory"]
    assert (r1["networkCidr"], r1["gateway"]) == ("10.1.0.0/24", "10.1.0.1")
    overlap = await done(
        admin,
        "POST",
        "/v1/ip-ranges/by-cidr",
        json={"name": "r2", "l3NetworkUuid": l3, "networkCidr": "10.1.0.0/24"},
    )
    assert overlap.status_code == 409, overlap.text
    assert r1["uuid"] in overlap.text
    bad_range = await admin.call(
        "POST",
        "/v1/ip-ranges/by-cidr",
        json={"name": "r", "l3NetworkUuid": l3, "networkCidr": "10.2.0.0/24", "gateway": "1"},
    )
    assert bad_range.status_code == 400
    # the gateway 10.1.0.1 is never given out: 4 addresses
    cap = await ok(admin, "GET", f"/v1/l3-networks/{l3}/ip-capacity")
    assert cap == {"total": 4, "available": 4, "used": 0}
    free_ips = await ok(admin, "GET", f"/v1/l3-networks/{l3}/free-ips", params={"limit": 2})
    assert [f["ip"] for f in free_ips["inventories"]] == ["10.1.0.2", "10.1.0.3"]
    bad_limit = await admin.call("GET", f"/v1/l3-networks/{l3}/free-ips?limit=0")
    assert bad_limit.status_code == 400 and "limit" in bad_limit.text

    return dict(r1)


async def _vips(admin: Api, admin2: Api, db: Database, l3: str, r1: dict[str, Any]) -> None:
    # VIPs: static IP by requiredIp or by system tag; taken 409, outside 400
    vip = (
        await ok(
            admin,
            "POST",
            "/v1/vips",
            json={"name": "v1", "l3NetworkUuid": l3, "requiredIp": "10.1.0.3"},
        )
    )["inventory"]
    assert (vip["ip"], vip["ipRangeUuid"], vip["gateway"]) == (
        "10.1.0.3",
        r1["uuid"],
        "10.1.0.1",
    )
    tag = f"staticIp::{l3}::10.1.0.3"
    taken_ip = await done(
        admin2,
        "POST",
        "/v1/vips",
        json={"name": "v2", "l3NetworkUuid": l3, "systemTags": [tag]},
    )
    assert taken_ip.status_code == 409, taken_ip.text
    for ip in ("10.1.0.9", "10.1.0.1"):  # outside every range; the gateway
        outside_ip = await done(
            admin, "POST", "/v1/vips", json={"name": "v", "l3NetworkUuid": l3, "requiredIp": ip}
        )
        assert outside_ip.status_code == 400, outside_ip.text
    tagged = await ok(
        admin,
        "POST",
        "/v1/vips",
        json={"name": "v3", "l3NetworkUuid": l3, "systemTags": [f"staticIp::{l3}::10.1.0.4"]},
    )
    assert tagged["inventory"]["ip"] == "10.1.0.4"
    # a redelivered create (same job) answers with the same address
    job = {"X-Job-UUID": str(uuidlib.uuid4())}
    body = {"name": "v4", "l3NetworkUuid": l3}
    first = await ok(admin, "POST", "/v1/vips", json=body, headers=job)
    second = await ok(admin2, "POST", "/v1/vips", json=body, headers=job)
    assert first == second
    # a released address can be taken again
    await ok(admin, "DELETE", f"/v1/vips/{vip['uuid']}")
    reused = await ok(
        admin,
        "POST",
        "/v1/vips",
        json={"name": "v5", "l3NetworkUuid": l3, "requiredIp": "10.1.0.3"},
    )
    assert reused["inventory"]["ip"] == "10.1.0.3"
    assert await ok(admin, "GET", f"/v1/l3-networks/{l3}/ip-capacity") == {
        "total": 4,
        "available": 1,
        "used": 3,
    }
    renamed = await ok(admin, "PUT", f"/v1/vips/{reused['inventory']['uuid']}", json={"name": "r"})
    assert renamed["inventory"]["ip"] == "10.1.0.3"

    # Permissive delete of the L3 is vetoed, naming the VIPs; Enforcing frees it all
    holders = [tagged["inventory"]["uuid"], first["inventory"]["uuid"]]
    veto = await done(admin, "DELETE", f"/v1/l3-networks/{l3}?deleteMode=Permissive")
    assert veto.status_code == 409, veto.text
    assert all(h in veto.text for h in holders), veto.text
    gone = await ok(admin, "DELETE", f"/v1/l3-networks/{l3}?deleteMode=Enforcing")
    assert gone["deleted"].index("Vip") < gone["deleted"].index("IpRange")
    assert gone["deleted"].index("IpRange") < gone["deleted"].index("L3Network")
    async with db.session() as s:
        left = await s.scalar(
            select(func.count()).select_from(UsedIpRow).where(UsedIpRow.l3_network_uuid == l3)
        )
    assert left == 0
    assert (await admin.call("GET", f"/v1/vips/{holders[0]}")).status_code == 404


async def _offerings(admin: Api) -> None:
    # offerings
    small = await ok(
        admin,
        "POST",
        "/v1/instance-offerings",
        json={"name": "small", "cpuNum": 2, "memorySize": 2 << 30},
    )
    assert small["inventory"]["allocatorStrategy"] == "DefaultHostAllocatorStrategy"
    disk = await ok(admin, "POST", "/v1/disk-offerings", json={"name": "d", "diskSize": 1 << 30})
    assert disk["inventory"]["diskSize"] == 1 << 30
    q = await ok(admin, "GET", "/v1/instance-offerings", params={"q": "cpuNum>=2"})
    assert [o["uuid"] for o in q["inventories"]] == [small["inventory"]["uuid"]]
    off = await ok(
        admin,
        "PUT",
        f"/v1/disk-offerings/{disk['inventory']['uuid']}",
        json={"state": "Disabled"},
    )
    assert off["inventory"]["state"] == "Disabled"
    await ok(admin, "DELETE", f"/v1/disk-offerings/{disk['inventory']['uuid']}")


async def _zone_cascade(admin: Api, db: Database, zone: str, l2: str) -> None:
    # the cascade from the zone, dependents first
    l3b = (await ok(admin, "POST", "/v1/l3-networks", json={"name": "b", "l2NetworkUuid": l2}))[
        "inventory"
    ]["uuid"]
    await ok(
        admin,
        "POST",
        "/v1/ip-ranges/by-cidr",
        json={"name": "rb", "l3NetworkUuid": l3b, "networkCidr": "10.9.0.0/29"},
    )
    await ok(admin, "POST", "/v1/vips", json={"name": "vb", "l3NetworkUuid": l3b})
    deleted = (await ok(admin, "DELETE", f"/v1/zones/{zone}?deleteMode=Enforcing"))["deleted"]
    order = ["Vip", "IpRange", "L3Network", "L2Network", "Zone"]
    assert [t for t in deleted if t in order] == order, deleted
    assert (await ok(admin, "GET", "/v1/l2-networks"))["inventories"] == []
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(UsedIpRow)) == 0
        assert await s.scalar(select(func.count()).select_from(VniRow)) == 0


async def test_networks_ranges_vips_and_offerings(net_apis: list[str], db: Database) -> None:
    async with httpx.AsyncClient(timeout=120) as http:
        admin = await Api.login(http, net_apis[0], "admin", ADMIN_PASSWORD)
        admin2 = await Api.login(http, net_apis[1], "admin", ADMIN_PASSWORD)
        zone, l2, l3 = await _zone_l2_l3(admin, "n1")
        pool = await _l2_types(admin, zone)
        await _attachments(admin, admin2, zone, l2, pool)
        r1 = await _l3_and_ranges(admin, zone, l3)
        await _vips(admin, admin2, db, l3, r1)
        await _offerings(admin)
        await _zone_cascade(admin, db, zone, l2)


async def test_a_tenant_uses_a_shared_l3_for_a_vip(net_apis: list[str]) -> None:
    async with httpx.AsyncClient(timeout=120) as http:
        admin = await Api.login(http, net_apis[0], "admin", ADMIN_PASSWORD)
        tenant_uuid = (
            await ok(admin, "POST", "/v1/accounts", json={"name": "net-t", "password": "net-t-pw1"})
        )["inventory"]["uuid"]
        tenant = await Api.login(http, net_apis[1], "net-t", "net-t-pw1")
        _, l2, shared = await _zone_l2_l3(admin, "t1")
        hidden = (
            await ok(admin, "POST", "/v1/l3-networks", json={"name": "hidden", "l2NetworkUuid": l2})
        )["inventory"]["uuid"]
        for l3, cidr in ((shared, "10.5.0.0/28"), (hidden, "10.6.0.0/28")):
            await ok(
                admin,
                "POST",
                "/v1/ip-ranges/by-cidr",
                json={"name": "r", "l3NetworkUuid": l3, "networkCidr": cidr},
            )
        offering = (
            await ok(
                admin,
                "POST",
                "/v1/instance-offerings",
                json={"name": "o", "cpuNum": 1, "memorySize": 1 << 30},
            )
        )["inventory"]["uuid"]

        # infrastructure is the admin's
        made = await tenant.call("POST", "/v1/l3-networks", json={"name": "x", "l2NetworkUuid": l2})
        assert made.status_code == 403, made.text
        assert (await tenant.ok("GET", "/v1/l3-networks"))["inventories"] == []

        await ok(
            admin,
            "POST",
            "/v1/resource-shares",
            json={
                "resourceUuid": shared,
                "resourceType": "L3Network",
                "toAccountUuids": [tenant_uuid],
            },
        )
        await ok(
            admin,
            "POST",
            "/v1/resource-shares",
            json={"resourceUuid": offering, "resourceType": "InstanceOffering", "public": True},
        )
        seen = await tenant.ok("GET", "/v1/l3-networks")
        assert [x["uuid"] for x in seen["inventories"]] == [shared]
        assert (await tenant.call("GET", f"/v1/l3-networks/{hidden}")).status_code == 404
        assert (
            await tenant.call("GET", f"/v1/l3-networks/{hidden}/ip-capacity")
        ).status_code == 404
        offerings = await tenant.ok("GET", "/v1/instance-offerings")
        assert [o["uuid"] for o in offerings["inventories"]] == [offering]

        vip = await ok(tenant, "POST", "/v1/vips", json={"name": "tv", "l3NetworkUuid": shared})
        assert vip["inventory"]["ownerAccountUuid"] == tenant_uuid
        assert vip["inventory"]["ip"].startswith("10.5.0.")
        refused = await done(
            tenant, "POST", "/v1/vips", json={"name": "tv", "l3NetworkUuid": hidden}
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["extra"]["field"] == "l3NetworkUuid"
        cap = await tenant.ok("GET", f"/v1/l3-networks/{shared}/ip-capacity")
        assert cap["used"] == 1
        # shared for reading and use, not for changing
        renamed = await tenant.call("PUT", f"/v1/l3-networks/{shared}", json={"name": "mine"})
        assert renamed.status_code in (403, 404), renamed.text
        # the admin's Permissive delete of the L3 names the tenant's VIP
        veto = await done(admin, "DELETE", f"/v1/l3-networks/{shared}")
        assert veto.status_code == 409 and vip["inventory"]["uuid"] in veto.text, veto.text


async def test_300_vips_at_once_on_a_24(net_apis: list[str], db: Database) -> None:
    async with httpx.AsyncClient(timeout=180, limits=httpx.Limits(max_connections=50)) as http:
        admins = [await Api.login(http, url, "admin", ADMIN_PASSWORD) for url in net_apis]
        _, _, l3 = await _zone_l2_l3(admins[0], "race")
        await ok(
            admins[0],
            "POST",
            "/v1/ip-ranges/by-cidr",
            json={"name": "r", "l3NetworkUuid": l3, "networkCidr": "10.7.0.0/24"},
        )
        usable = (await ok(admins[0], "GET", f"/v1/l3-networks/{l3}/ip-capacity"))["total"]
        assert usable == 253  # .2 … .254: not the network, the gateway .1 or the broadcast

        answers = await asyncio.gather(
            *(
                done(
                    admins[i % 2],
                    "POST",
                    "/v1/vips",
                    json={"name": f"v{i}", "l3NetworkUuid": l3},
                    wait=False,
                )
                for i in range(300)
            )
        )
        won = [a.json()["inventory"]["ip"] for a in answers if a.status_code == 200]
        lost = [a for a in answers if a.status_code != 200]
        assert len(won) == usable, [a.text for a in lost[:3]]
        assert len(set(won)) == usable
        assert not {"10.7.0.0", "10.7.0.1", "10.7.0.255"} & set(won)
        for a in lost:
            assert a.status_code == 409, a.text
            assert a.json()["error"]["code"] == "NETWORK.1001" and "no free IP" in a.text
        assert await ok(admins[1], "GET", f"/v1/l3-networks/{l3}/ip-capacity") == {
            "total": usable,
            "available": 0,
            "used": usable,
        }
        async with db.session() as s:
            held = await s.scalar(
                select(func.count()).select_from(UsedIpRow).where(UsedIpRow.l3_network_uuid == l3)
            )
        assert held == usable


async def test_100_vxlans_at_once_on_a_pool_of_50(net_apis: list[str]) -> None:
    async with httpx.AsyncClient(timeout=180, limits=httpx.Limits(max_connections=50)) as http:
        admins = [await Api.login(http, url, "admin", ADMIN_PASSWORD) for url in net_apis]
        zone = (await ok(admins[0], "POST", "/v1/zones", json={"name": "vz"}))["inventory"]["uuid"]
        pool = (
            await ok(
                admins[0],
                "POST",
                "/v1/l2-networks/vxlan-pool",
                json={
                    "name": "pool",
                    "zoneUuid": zone,
                    "vniRanges": [
                        {"startVni": 100, "endVni": 124},
                        {"startVni": 200, "endVni": 224},
                    ],
                },
            )
        )["inventory"]["uuid"]
        answers = await asyncio.gather(
            *(
                done(
                    admins[i % 2],
                    "POST",
                    "/v1/l2-networks/vxlan",
                    json={"name": f"x{i}", "zoneUuid": zone, "poolUuid": pool},
                    wait=False,
                )
                for i in range(100)
            )
        )
        vnis = [a.json()["inventory"]["vni"] for a in answers if a.status_code == 200]
        assert len(vnis) == 50 and len(set(vnis)) == 50
        assert set(vnis) == {*range(100, 125), *range(200, 225)}
        for a in answers:
            if a.status_code != 200:
                assert a.status_code == 409 and "no free VNI" in a.text, a.text
