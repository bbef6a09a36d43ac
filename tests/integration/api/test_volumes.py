"""Volumes through REST (2 frontends, 2 nodes, PostgreSQL, RabbitMQ, a real simulator
agent): the root volume a VM create records and its delete removes, queried both ways;
data volumes created, attached to Running and Stopped VMs, detached, grown and deleted,
with the illegal transitions (409 naming the status or the VM's state, 400 naming the
field); a simulator fault at each agent step of create, attach and resize leaving primary
storage capacity, quotas and rows exactly as before; a tenant's volumes on shared
infrastructure, invisible to another tenant; capacity exact after a VM with a data volume
is destroyed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mgmt.bench.cluster import LocalCluster
from mgmt.core.counters import CounterRow, reserve
from mgmt.core.db import Database
from mgmt.core.quota import QuotaRow
from mgmt.core.resource import ResourceUuidRow
from mgmt.volume.models import VolumeRow
from tests.integration.api.test_identity import Api
from tests.integration.api.test_vms import IMAGE_SIZE, VMS, Env, GiB, make_env

VOLUMES = "/v1/volumes"


@pytest.fixture
async def env(cluster: LocalCluster) -> AsyncIterator[Env]:
    async with httpx.AsyncClient(timeout=90) as http:
        yield await make_env(cluster, http, hosts=2, memory=8 * GiB, cidr="10.40.0.0/27")


async def held(db: Database) -> dict[str, Any]:
    """What volumes hold, everywhere: counters, quotas, volume rows and UUID claims."""
    async with db.session() as s:
        counters = {
            (r.owner_uuid, r.name): r.available
            for r in (await s.execute(select(CounterRow))).scalars()
        }
        quotas = {
            (r.account_uuid, r.name): r.used
            for r in (await s.execute(select(QuotaRow))).scalars()
            if r.used
        }
        volumes = {
            r.uuid: (r.type, r.state, r.size, r.vm_instance_uuid, r.primary_storage_uuid)
            for r in (await s.execute(select(VolumeRow))).scalars()
        }
        claims = int(
            await s.scalar(
                select(func.count())
                .select_from(ResourceUuidRow)
                .where(ResourceUuidRow.resource_type == "Volume")
            )
            or 0
        )
    return {"counters": counters, "quotas": quotas, "volumes": volumes, "claims": claims}


def used(before: dict[str, Any], after: dict[str, Any]) -> dict[tuple[str, str], int]:
    """The counters that moved, by how much was taken."""
    return {
        k: before["counters"][k] - v
        for k, v in after["counters"].items()
        if k in before["counters"] and before["counters"][k] != v
    }


async def action(api: Api, volume: str, name: str, **body: Any) -> httpx.Response:
    return await api.call("POST", f"{VOLUMES}/{volume}/actions/{name}", json=body)


async def sim_host(env: Env, host: str) -> dict[str, Any]:
    got: dict[str, Any] = (await env.http.get(f"{env.sim.url}/sim/hosts/{host}")).json()
    return got


async def test_a_vm_has_its_root_volume_queryable_both_ways(env: Env, db: Database) -> None:
    before = await held(db)
    vm = (await env.admin.ok("POST", VMS, json=env.body(name="rv1")))["inventory"]
    [root] = vm["allVolumes"]
    assert (root["type"], root["status"], root["deviceId"]) == ("Root", "Ready", 0)
    assert (root["size"], root["vmInstanceUuid"]) == (IMAGE_SIZE, vm["uuid"])
    assert root["uuid"] == vm["rootVolumeUuid"] and root["primaryStorageUuid"]
    got = (await env.other.ok("GET", f"{VOLUMES}/{root['uuid']}"))["inventory"]
    assert got == root
    by_vm = await env.other.ok("GET", VOLUMES, params={"q": "vmInstance.name=rv1"})
    assert [v["uuid"] for v in by_vm["inventories"]] == [root["uuid"]]
    by_size = await env.admin.ok("GET", VMS, params={"q": f"allVolumes.size>={IMAGE_SIZE}"})
    assert [v["uuid"] for v in by_size["inventories"]] == [vm["uuid"]]
    assert (await env.admin.ok("GET", VMS, params={"q": "allVolumes.type=Data"}))[
        "inventories"
    ] == []
    # a root volume goes with its VM only: 409 naming what it is
    refused = await env.admin.call("DELETE", f"{VOLUMES}/{root['uuid']}")
    assert refused.status_code == 409 and "type" in refused.text, refused.text
    await env.admin.ok("DELETE", f"{VMS}/{vm['uuid']}")
    assert (await env.admin.call("GET", f"{VOLUMES}/{root['uuid']}")).status_code == 404
    assert await held(db) == before


async def test_data_volume_lifecycle_and_illegal_transitions(env: Env, db: Database) -> None:
    before = await held(db)
    vm = (await env.admin.ok("POST", VMS, json=env.body(name="dv1")))["inventory"]
    with_vm = await held(db)
    made = await env.admin.ok("POST", VOLUMES, json={"name": "d1", "diskSize": GiB})
    vol = made["inventory"]
    assert (vol["type"], vol["status"], vol["state"]) == ("Data", "NotInstantiated", "Enabled")
    assert vol["primaryStorageUuid"] is None and vol["vmInstanceUuid"] is None
    assert used(with_vm, await held(db)) == {}  # nothing on storage yet
    # NotInstantiated: nothing to grow; 409 with the status and what it may do
    refused = await action(env.admin, vol["uuid"], "resize", size=2 * GiB)
    assert refused.status_code == 409, refused.text
    extra = refused.json()["error"]["extra"]
    assert extra["state"] == "NotInstantiated"
    assert sorted(extra["allowedOperations"]) == ["attach", "delete", "instantiate"]

    attached = (await action(env.admin, vol["uuid"], "attach", vmInstanceUuid=vm["uuid"])).json()
    inv = attached["inventory"]
    assert (inv["status"], inv["vmInstanceUuid"], inv["deviceId"]) == ("Ready", vm["uuid"], 1)
    assert inv["primaryStorageUuid"] == vm["allVolumes"][0]["primaryStorageUuid"]
    taken = used(with_vm, await held(db))
    assert sorted(taken.values()) == [GiB, GiB], taken  # the storage and its host share
    sim = await sim_host(env, vm["hostUuid"])
    assert sim["volumes"] == {vol["uuid"]: GiB} and sim["plugged"] == {vol["uuid"]: vm["uuid"]}
    shown = (await env.admin.ok("GET", f"{VMS}/{vm['uuid']}"))["inventory"]["allVolumes"]
    assert [(v["type"], v["deviceId"]) for v in shown] == [("Root", 0), ("Data", 1)]

    again = await action(env.admin, vol["uuid"], "attach", vmInstanceUuid=vm["uuid"])
    assert again.status_code == 409 and "vmInstanceUuid" in again.text, again.text
    smaller = await action(env.admin, vol["uuid"], "resize", size=GiB)
    assert smaller.status_code == 400 and "size" in smaller.text, smaller.text
    grown = (await action(env.admin, vol["uuid"], "resize", size=2 * GiB)).json()["inventory"]
    assert (grown["size"], grown["status"]) == (2 * GiB, "Ready")
    assert sorted(used(with_vm, await held(db)).values()) == [2 * GiB, 2 * GiB]
    assert (await sim_host(env, vm["hostUuid"]))["volumes"] == {vol["uuid"]: 2 * GiB}

    detached = (await action(env.admin, vol["uuid"], "detach")).json()["inventory"]
    assert (detached["vmInstanceUuid"], detached["deviceId"]) == (None, None)
    assert (await sim_host(env, vm["hostUuid"]))["plugged"] == {}
    twice = await action(env.admin, vol["uuid"], "detach")
    assert twice.status_code == 409 and "not attached" in twice.text, twice.text
    await _paused_stopped_destroyed(env, db, vm, vol, before)


async def _paused_stopped_destroyed(
    env: Env, db: Database, vm: dict[str, Any], vol: dict[str, Any], before: dict[str, Any]
) -> None:
    # a Paused VM: 409 naming its state; a Stopped one takes it (no agent call)
    await env.action(vm["uuid"], "pause")
    paused = await action(env.admin, vol["uuid"], "attach", vmInstanceUuid=vm["uuid"])
    assert paused.status_code == 409, paused.text
    assert paused.json()["error"]["extra"]["state"] == "Paused"
    await env.action(vm["uuid"], "resume")
    await env.action(vm["uuid"], "stop")
    onto = await action(env.admin, vol["uuid"], "attach", vmInstanceUuid=vm["uuid"])
    assert onto.json()["inventory"]["vmInstanceUuid"] == vm["uuid"], onto.text

    # the VM destroyed: its data volume is detached and stays, with its capacity
    await env.admin.ok("DELETE", f"{VMS}/{vm['uuid']}")
    left = (await env.admin.ok("GET", f"{VOLUMES}/{vol['uuid']}"))["inventory"]
    assert (left["vmInstanceUuid"], left["status"]) == (None, "Ready")
    assert sorted(used(before, await held(db)).values()) == [2 * GiB, 2 * GiB]
    await env.admin.ok("DELETE", f"{VOLUMES}/{vol['uuid']}")
    assert (await env.admin.call("GET", f"{VOLUMES}/{vol['uuid']}")).status_code == 404
    assert await held(db) == before
    assert (await sim_host(env, vm["lastHostUuid"] or vm["hostUuid"]))["volumes"] == {}


async def _storage(env: Env) -> str:
    found = await env.admin.ok("GET", "/v1/primary-storage", params={"q": "name=vl"})
    uuid: str = found["inventories"][0]["uuid"]
    return uuid


async def test_create_on_a_named_storage_and_a_disk_offering(env: Env, db: Database) -> None:
    before = await held(db)
    ps = await _storage(env)
    offering = await env.admin.ok(
        "POST", "/v1/disk-offerings", json={"name": "do", "diskSize": 3 * GiB}
    )
    body = {"name": "d2", "diskOfferingUuid": offering["inventory"]["uuid"]}
    vol = (await env.admin.ok("POST", VOLUMES, json={**body, "primaryStorageUuid": ps}))[
        "inventory"
    ]
    assert (vol["status"], vol["size"], vol["primaryStorageUuid"]) == ("Ready", 3 * GiB, ps)
    assert vol["installPath"] and vol["diskOfferingUuid"] == offering["inventory"]["uuid"]
    assert sorted(used(before, await held(db)).values()) == [3 * GiB, 3 * GiB]
    refused = await env.admin.call("POST", VOLUMES, json={"name": "d3"})
    assert refused.status_code == 400 and "diskOfferingUuid" in refused.text, refused.text
    await env.admin.ok("DELETE", f"{VOLUMES}/{vol['uuid']}")
    counters = (await held(db))["counters"]
    assert counters == before["counters"]
    await env.admin.ok("DELETE", f"/v1/disk-offerings/{offering['inventory']['uuid']}")


FAULTS: list[dict[str, Any]] = [
    {"command": "CreateVolume", "action": "fail", "error": "disk full"},
    {"command": "CreateVolume", "action": "hang", "times": 1},
    {"command": "AttachVolume", "action": "fail", "error": "no such bus"},
]


async def test_a_fault_at_each_agent_step_leaves_nothing_behind(env: Env, db: Database) -> None:
    vm = (await env.admin.ok("POST", VMS, json=env.body(name="fv")))["inventory"]
    host = vm["hostUuid"]
    vol = (await env.admin.ok("POST", VOLUMES, json={"name": "f1", "diskSize": GiB}))["inventory"]
    before = await held(db)
    for fault in FAULTS:
        await env.clear_faults(host)
        await env.fault(host, **fault)
        resp = await action(env.admin, vol["uuid"], "attach", vmInstanceUuid=vm["uuid"])
        assert resp.status_code >= 500, (fault, resp.text)
        assert await held(db) == before, fault
        got = (await env.admin.ok("GET", f"{VOLUMES}/{vol['uuid']}"))["inventory"]
        assert (got["status"], got["vmInstanceUuid"]) == ("NotInstantiated", None), fault
    await env.clear_faults(host)
    # the compensation deleted what CreateVolume made before AttachVolume failed
    assert vol["uuid"] not in (await sim_host(env, host))["volumes"]
    await _no_room(env, db, vm)

    # a create on a named storage: CreateVolume fails, no volume and no claim is left
    ps = await _storage(env)
    for h in env.hosts.values():
        await env.fault(h, command="CreateVolume", action="fail", error="disk full")
    failed = await env.admin.call(
        "POST", VOLUMES, json={"name": "f2", "diskSize": GiB, "primaryStorageUuid": ps}
    )
    assert failed.status_code >= 500 and "disk full" in failed.text, failed.text
    assert await held(db) == before
    for h in env.hosts.values():
        await env.clear_faults(h)

    # a resize whose agent fails: the size and capacity stay
    await action(env.admin, vol["uuid"], "attach", vmInstanceUuid=vm["uuid"])
    attached = await held(db)
    await env.fault(host, command="ResizeVolume", action="fail", error="no room")
    refused = await action(env.admin, vol["uuid"], "resize", size=4 * GiB)
    assert refused.status_code >= 500 and "no room" in refused.text, refused.text
    assert await held(db) == attached
    got = (await env.admin.ok("GET", f"{VOLUMES}/{vol['uuid']}"))["inventory"]
    assert (got["size"], got["status"]) == (GiB, "Ready")
    await env.clear_faults(host)
    await env.admin.ok("DELETE", f"{VOLUMES}/{vol['uuid']}")
    await env.admin.ok("DELETE", f"{VMS}/{vm['uuid']}")


async def _no_room(env: Env, db: Database, vm: dict[str, Any]) -> None:
    """``reserve-volume-capacity`` and ``reserve-snapshot-capacity`` finding no room (a
    host's disk is 2 TiB): 409 naming capacity, everything as before."""
    before = await held(db)
    big = (await env.admin.ok("POST", VOLUMES, json={"name": "big", "diskSize": 3 << 40}))[
        "inventory"
    ]
    with_big = await held(db)
    refused = await action(env.admin, big["uuid"], "attach", vmInstanceUuid=vm["uuid"])
    assert refused.status_code == 409 and "capacity" in refused.text, refused.text
    assert await held(db) == with_big
    await env.admin.ok("DELETE", f"{VOLUMES}/{big['uuid']}")
    half = (await env.admin.ok("POST", VOLUMES, json={"name": "half", "diskSize": 3 << 39}))[
        "inventory"
    ]
    await action(env.admin, half["uuid"], "attach", vmInstanceUuid=vm["uuid"])
    with_half = await held(db)
    snap = await env.admin.call("POST", SNAPSHOTS, json={"name": "h", "volumeUuid": half["uuid"]})
    assert snap.status_code == 409 and "capacity" in snap.text, snap.text
    assert await held(db) == with_half
    await env.admin.ok("DELETE", f"{VOLUMES}/{half['uuid']}")
    assert await held(db) == before


async def test_a_tenant_uses_volumes_on_shared_infrastructure(env: Env, db: Database) -> None:
    for kind, uuid in (("Image", env.image), ("L3Network", env.l3)):
        share = {"resourceUuid": uuid, "resourceType": kind, "public": True}
        await env.admin.ok("POST", "/v1/resource-shares", json=share)
    account = await env.admin.ok(
        "POST", "/v1/accounts", json={"name": "wt", "password": "wt-pw-123456"}
    )
    owner = account["inventory"]["uuid"]
    tenant = await Api.login(env.http, env.admin.base, "wt", "wt-pw-123456")
    await env.admin.ok("POST", "/v1/accounts", json={"name": "wu", "password": "wu-pw-123456"})
    stranger = await Api.login(env.http, env.admin.base, "wu", "wu-pw-123456")
    before = await held(db)

    # the storage is not shared with it: a 400 naming it
    ps = await _storage(env)
    refused = await tenant.call(
        "POST", VOLUMES, json={"name": "t0", "diskSize": GiB, "primaryStorageUuid": ps}
    )
    assert refused.status_code == 400 and "primaryStorageUuid" in refused.text, refused.text
    vm = (
        await tenant.ok(
            "POST", VMS, json=env.body(instanceOfferingUuid=None, cpuNum=1, memorySize=GiB)
        )
    )["inventory"]
    vol = (await tenant.ok("POST", VOLUMES, json={"name": "t1", "diskSize": GiB}))["inventory"]
    assert vol["ownerAccountUuid"] == owner
    quotas = (await held(db))["quotas"]
    assert quotas[(owner, "volume.data.num")] == 1
    assert quotas[(owner, "volume.capacity")] == GiB
    await env.admin.ok(
        "POST",
        f"/v1/accounts/{owner}/actions/update-quota",
        json={"name": "volume.data.num", "value": 1},
    )
    over = await tenant.call("POST", VOLUMES, json={"name": "t2", "diskSize": GiB})
    assert over.status_code == 429, over.text
    attached = await action(tenant, vol["uuid"], "attach", vmInstanceUuid=vm["uuid"])
    assert attached.status_code == 200, attached.text
    # growing past volume.capacity: 429, the volume and its capacity as they were
    await env.admin.ok(
        "POST",
        f"/v1/accounts/{owner}/actions/update-quota",
        json={"name": "volume.capacity", "value": GiB + GiB // 2},
    )
    at_one = await held(db)
    grown = await action(tenant, vol["uuid"], "resize", size=2 * GiB)
    assert grown.status_code == 429, grown.text
    assert await held(db) == at_one

    # another account sees none of it and can touch none of it
    assert (await stranger.call("GET", f"{VOLUMES}/{vol['uuid']}")).status_code == 404
    assert (await stranger.ok("GET", VOLUMES))["inventories"] == []
    assert (await action(stranger, vol["uuid"], "detach")).status_code == 404
    assert (await stranger.call("DELETE", f"{VOLUMES}/{vol['uuid']}")).status_code == 404
    mine = (await stranger.ok("POST", VOLUMES, json={"name": "s1", "diskSize": GiB}))["inventory"]
    into = await action(stranger, mine["uuid"], "attach", vmInstanceUuid=vm["uuid"])
    assert into.status_code == 400 and "vmInstanceUuid" in into.text, into.text
    zql = f"query volume where vmInstance.uuid='{vm['uuid']}'"
    assert (await stranger.ok("GET", "/v1/zql", params={"zql": zql}))["inventories"] == []
    found = await tenant.ok("GET", VOLUMES, params={"q": f"vmInstance.uuid={vm['uuid']}"})
    assert sorted(v["type"] for v in found["inventories"]) == ["Data", "Root"]

    await stranger.ok("DELETE", f"{VOLUMES}/{mine['uuid']}")
    await tenant.ok("DELETE", f"{VMS}/{vm['uuid']}")
    await tenant.ok("DELETE", f"{VOLUMES}/{vol['uuid']}")
    after = await held(db)
    assert after["counters"] == before["counters"] and after["volumes"] == before["volumes"]
    assert {k: v for k, v in after["quotas"].items() if k[0] == owner} == {}


SNAPSHOTS = "/v1/volume-snapshots"


async def _recalculated(env: Env, ps: str) -> dict[str, int]:
    got = await env.admin.ok("POST", f"/v1/counters/{ps}/actions/recalculate", json={})
    return {c["name"]: c["drift"] for c in got["inventories"]}


async def test_snapshots_revert_delete_and_capacity_exact_after_destroy(
    env: Env, db: Database
) -> None:
    ps = await _storage(env)
    before = await held(db)
    vm = (await env.admin.ok("POST", VMS, json=env.body(name="sv")))["inventory"]
    vol = (await env.admin.ok("POST", VOLUMES, json={"name": "s1", "diskSize": GiB}))["inventory"]
    # a NotInstantiated volume has no bits: its snapshot is empty, holds nothing and
    # has nothing to revert to (409)
    early = (await env.admin.ok("POST", SNAPSHOTS, json={"name": "x", "volumeUuid": vol["uuid"]}))[
        "inventory"
    ]
    assert (early["size"], early["status"], early["primaryStorageUuid"]) == (0, "Ready", None)
    empty = await env.admin.call("POST", f"{SNAPSHOTS}/{early['uuid']}/actions/revert", json={})
    assert empty.status_code == 409, empty.text
    await env.admin.ok("DELETE", f"{SNAPSHOTS}/{early['uuid']}")
    await action(env.admin, vol["uuid"], "attach", vmInstanceUuid=vm["uuid"])
    ready = await held(db)

    snap = (
        await env.admin.ok("POST", SNAPSHOTS, json={"name": "d-snap", "volumeUuid": vol["uuid"]})
    )["inventory"]
    assert (snap["status"], snap["volumeType"], snap["size"]) == ("Ready", "Data", GiB)
    assert snap["primaryStorageUuid"] == ps and snap["installPath"]
    root = vm["rootVolumeUuid"]
    rsnap = (await env.admin.ok("POST", SNAPSHOTS, json={"name": "r-snap", "volumeUuid": root}))[
        "inventory"
    ]
    assert (rsnap["volumeType"], rsnap["size"]) == ("Root", IMAGE_SIZE)
    taken = used(ready, await held(db))
    assert sorted(taken.values()) == [GiB + IMAGE_SIZE] * 2, taken
    admin_quota = (await held(db))["quotas"]
    assert any(k[1] == "snapshot.volume.num" and v == 2 for k, v in admin_quota.items())
    found = await env.admin.ok("GET", SNAPSHOTS, params={"q": f"volume.uuid={vol['uuid']}"})
    assert [s["uuid"] for s in found["inventories"]] == [snap["uuid"]]
    assert set((await _recalculated(env, ps)).values()) == {0}

    # revert: the VM must be Stopped (409 naming its state)
    refused = await env.admin.call("POST", f"{SNAPSHOTS}/{snap['uuid']}/actions/revert", json={})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["extra"]["state"] == "Running"
    await env.action(vm["uuid"], "stop")
    reverted = await env.admin.ok("POST", f"{SNAPSHOTS}/{snap['uuid']}/actions/revert", json={})
    assert reverted["inventory"]["status"] == "Ready"

    # a fault taking a snapshot: nothing left behind
    host = vm["hostUuid"]
    await env.fault(host, command="CreateSnapshot", action="fail", error="no snap")
    with_two = await held(db)
    failed = await env.admin.call("POST", SNAPSHOTS, json={"name": "f", "volumeUuid": root})
    assert failed.status_code >= 500 and "no snap" in failed.text, failed.text
    assert await held(db) == with_two
    await env.clear_faults(host)

    # the VM destroyed: its root volume's snapshot goes with it, the data volume and its
    # snapshot stay; the volume deleted: its snapshot and every byte come back
    await env.admin.ok("DELETE", f"{VMS}/{vm['uuid']}")
    assert (await env.admin.call("GET", f"{SNAPSHOTS}/{rsnap['uuid']}")).status_code == 404
    assert (await env.admin.ok("GET", f"{SNAPSHOTS}/{snap['uuid']}"))["inventory"]["size"] == GiB
    assert sorted(used(before, await held(db)).values()) == [2 * GiB] * 2
    await env.admin.ok("DELETE", f"{VOLUMES}/{vol['uuid']}")
    assert (await env.admin.call("GET", f"{SNAPSHOTS}/{snap['uuid']}")).status_code == 404
    assert await held(db) == before
    assert set((await _recalculated(env, ps)).values()) == {0}


async def test_recalculate_counts_volumes_and_snapshots_so_a_leak_is_drift(
    env: Env, db: Database
) -> None:
    ps = await _storage(env)
    vm = (await env.admin.ok("POST", VMS, json=env.body(name="lv")))["inventory"]
    vol = (await env.admin.ok("POST", VOLUMES, json={"name": "l1", "diskSize": GiB}))["inventory"]
    await action(env.admin, vol["uuid"], "attach", vmInstanceUuid=vm["uuid"])
    await env.admin.ok("POST", SNAPSHOTS, json={"name": "l-snap", "volumeUuid": vol["uuid"]})
    exact = await held(db)
    assert set((await _recalculated(env, ps)).values()) == {0}
    # a reservation no volume or snapshot names (what an expunge that forgot it leaves)
    async with db.session() as s, s.begin():
        await reserve(s, ps, "primaryStorage.capacity", 5 * GiB, "leaked/by-a-bug")
    drift = await _recalculated(env, ps)
    assert drift["primaryStorage.capacity"] == 5 * GiB, drift
    assert (await held(db))["counters"] == exact["counters"]
    await env.admin.ok("DELETE", f"{VMS}/{vm['uuid']}")
    await env.admin.ok("DELETE", f"{VOLUMES}/{vol['uuid']}")
    assert set((await _recalculated(env, ps)).values()) == {0}


IMAGES = "/v1/images"
FROM_VOLUME = "/v1/images/from-volume"


async def test_images_from_a_root_volume_and_a_snapshot(env: Env, db: Database) -> None:
    found = await env.admin.ok("GET", "/v1/backup-storage", params={"q": "name=vbs"})
    bs = found["inventories"][0]["uuid"]
    images_before = len((await env.admin.ok("GET", IMAGES))["inventories"])
    before = await held(db)
    vm = (await env.admin.ok("POST", VMS, json=env.body(name="iv")))["inventory"]
    root = vm["rootVolumeUuid"]
    vol = (await env.admin.ok("POST", VOLUMES, json={"name": "i1", "diskSize": GiB}))["inventory"]
    empty = await env.admin.ok(
        "POST",
        FROM_VOLUME,
        json={"name": "e", "volumeUuid": vol["uuid"], "backupStorageUuids": [bs]},
    )
    assert (empty["inventory"]["size"], empty["inventory"]["status"]) == (0, "Ready")
    assert empty["inventory"]["mediaType"] == "DataVolumeTemplate"
    await action(env.admin, vol["uuid"], "attach", vmInstanceUuid=vm["uuid"])
    snap = (await env.admin.ok("POST", SNAPSHOTS, json={"name": "is", "volumeUuid": vol["uuid"]}))[
        "inventory"
    ]
    ready = await held(db)

    # a fault uploading: the image is removed, nothing is left
    await env.fault(vm["hostUuid"], command="UploadVolume", action="fail", error="bs gone")
    failed = await env.admin.call(
        "POST", FROM_VOLUME, json={"name": "f", "volumeUuid": root, "backupStorageUuids": [bs]}
    )
    assert failed.status_code >= 500 and "bs gone" in failed.text, failed.text
    assert await held(db) == ready
    assert len((await env.admin.ok("GET", IMAGES))["inventories"]) == images_before + 1
    await env.clear_faults(vm["hostUuid"])

    tpl = (
        await env.admin.ok(
            "POST", FROM_VOLUME, json={"name": "t", "volumeUuid": root, "backupStorageUuids": [bs]}
        )
    )["inventory"]
    assert (tpl["mediaType"], tpl["size"], tpl["status"]) == (
        "RootVolumeTemplate",
        IMAGE_SIZE,
        "Ready",
    )
    assert tpl["url"] == f"volume://{root}" and tpl["md5Sum"]
    of_snap = (
        await env.admin.ok(
            "POST",
            FROM_VOLUME,
            json={"name": "s", "volumeSnapshotUuid": snap["uuid"], "backupStorageUuids": [bs]},
        )
    )["inventory"]
    assert (of_snap["mediaType"], of_snap["size"]) == ("DataVolumeTemplate", GiB)
    taken = used(ready, await held(db))
    assert taken == {(bs, "backupStorage.capacity"): IMAGE_SIZE + GiB}, taken
    both = await env.admin.call("POST", FROM_VOLUME, json={"name": "b", "backupStorageUuids": [bs]})
    assert both.status_code == 400 and "volumeUuid" in both.text, both.text

    for image in (empty["inventory"], tpl, of_snap):
        await env.admin.ok("DELETE", f"{IMAGES}/{image['uuid']}")
    await env.admin.ok("DELETE", f"{VMS}/{vm['uuid']}")
    await env.admin.ok("DELETE", f"{VOLUMES}/{vol['uuid']}")
    assert await held(db) == before
