"""Primary and backup storage through REST (2 frontends, 2 nodes, PostgreSQL, RabbitMQ, a
real simulator agent): the three primary storage types, LocalStorage capacity as the sum
of its hosts' disks and following them, NFS mounted by the cluster's hosts, a fault at
each connect step leaving nothing, the detach veto of a plugin, the cascade from the
zone, admin-only tenancy, and the primary storage host filter on real hosts."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mgmt.allocator import AllocationSpec, HostCandidate
from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.core.counters import CounterRow, ReservationRow
from mgmt.core.db import Database
from mgmt.core.resource import ResourceUuidRow
from mgmt.storage.filter import PrimaryStorageFilter
from mgmt.storage.models import BackupStorageRow, PrimaryStorageClusterRefRow, PrimaryStorageRow
from tests.integration.api.test_identity import ADMIN_PASSWORD, Api, start_apis

GiB = 1 << 30
SIM_DISK = 2 << 40  # what every simulated host reports as its local disk
SIM_MOUNT = 10 << 40  # what a simulated NFS/SharedMountPoint mount reports
SIM_BS = 20 << 40  # a simulated ImageStore's size
AGENT_TIMEOUT = "3"
VETO = {"ZCLOUD_PLUGINS": "tests.fixtures.storage:volumes_in_use"}


@dataclass
class Env:
    admin: Api
    other: Api
    sim: Proc
    nodes: list[Proc]
    http: httpx.AsyncClient
    zone_uuid: str
    cluster_uuid: str

    async def fault(self, kind: str, uuid: str, **fault: Any) -> None:
        resp = await self.http.post(f"{self.sim.url}/sim/{kind}/{uuid}/faults", json=fault)
        resp.raise_for_status()

    async def sim_host(self, uuid: str) -> dict[str, Any]:
        resp = await self.http.get(f"{self.sim.url}/sim/hosts/{uuid}")
        resp.raise_for_status()
        got: dict[str, Any] = resp.json()
        return got

    async def add_host(self, ip: str, cluster: str | None = None) -> dict[str, Any]:
        body = {"clusterUuid": cluster or self.cluster_uuid, "name": f"h-{ip}", "managementIp": ip}
        inv: dict[str, Any] = (await self.admin.ok("POST", "/v1/hosts", json=body))["inventory"]
        return inv

    async def add_ps(self, variant: str, name: str, url: str, **more: Any) -> httpx.Response:
        body = {"zoneUuid": self.zone_uuid, "name": name, "url": url, **more}
        return await self.admin.call("POST", f"/v1/primary-storage/{variant}", json=body)

    async def ps(self, uuid: str) -> dict[str, Any]:
        inv: dict[str, Any] = (await self.other.ok("GET", f"/v1/primary-storage/{uuid}"))[
            "inventory"
        ]
        return inv

    async def action(self, path: str, action: str, **body: Any) -> httpx.Response:
        return await self.admin.call("POST", f"{path}/actions/{action}", json=body)


async def make_env(cluster: LocalCluster, http: httpx.AsyncClient, **env: str) -> Env:
    apis = await start_apis(
        cluster, ZCLOUD_AGENT_TIMEOUT=AGENT_TIMEOUT, ZCLOUD_AGENT_POLL_AFTER="1", **env
    )
    sim = next(p for p in cluster.procs if p.name == "sim")
    nodes = [p for p in cluster.procs if p.name.startswith("node")]
    admin = await Api.login(http, apis[0], "admin", ADMIN_PASSWORD)
    other = await Api.login(http, apis[1], "admin", ADMIN_PASSWORD)
    zone = (await admin.ok("POST", "/v1/zones", json={"name": "sz"}))["inventory"]
    made = await admin.ok(
        "POST",
        "/v1/clusters",
        json={"name": "sc", "zoneUuid": zone["uuid"], "hypervisorType": "Simulator"},
    )
    return Env(admin, other, sim, nodes, http, zone["uuid"], made["inventory"]["uuid"])


@pytest.fixture
async def env(cluster: LocalCluster) -> AsyncIterator[Env]:
    async with httpx.AsyncClient(timeout=60) as http:
        yield await make_env(cluster, http, **VETO)


async def _counter(db: Database, owner: str, name: str) -> tuple[int, int] | None:
    async with db.session() as s:
        row = await s.get(CounterRow, (owner, name))
        return (row.total, row.available) if row is not None else None


async def _left_behind(db: Database, uuid: str) -> dict[str, int]:
    async with db.session() as s:

        async def count(q: Any) -> int:
            return int(await s.scalar(q) or 0)

        return {
            "ps": await count(select(func.count()).where(PrimaryStorageRow.uuid == uuid)),
            "bs": await count(select(func.count()).where(BackupStorageRow.uuid == uuid)),
            "refs": await count(
                select(func.count()).where(PrimaryStorageClusterRefRow.primary_storage_uuid == uuid)
            ),
            "counters": await count(select(func.count()).where(CounterRow.owner_uuid == uuid)),
            "reservations": await count(
                select(func.count()).where(ReservationRow.owner_uuid == uuid)
            ),
            "claim": await count(select(func.count()).where(ResourceUuidRow.uuid == uuid)),
        }


NOTHING = {"ps": 0, "bs": 0, "refs": 0, "counters": 0, "reservations": 0, "claim": 0}


async def test_local_storage_capacity_is_its_hosts_disks_and_follows_them(
    env: Env, db: Database
) -> None:
    h1 = await env.add_host("127.0.20.1")
    h2 = await env.add_host("127.0.20.2")
    resp = await env.add_ps("local", "local-1", "/var/lib/zcloud/local")
    assert resp.status_code == 200, resp.text
    ps = resp.json()["inventory"]
    assert (ps["type"], ps["state"], ps["status"]) == ("LocalStorage", "Enabled", "Connected")
    assert ps["totalCapacity"] == ps["availableCapacity"] == 0
    assert ps["attachedClusterUuids"] == [] and ps["zoneUuid"] == env.zone_uuid
    path = f"/v1/primary-storage/{ps['uuid']}"

    attached = await env.action(path, "attach-cluster", clusterUuid=env.cluster_uuid)
    assert attached.status_code == 200, attached.text
    inv = attached.json()["inventory"]
    assert inv["attachedClusterUuids"] == [env.cluster_uuid]
    assert inv["totalCapacity"] == inv["availableCapacity"] == 2 * SIM_DISK
    assert inv["totalPhysicalCapacity"] == 2 * SIM_DISK
    assert await _counter(db, ps["uuid"], "primaryStorage.capacity") == (2 * SIM_DISK,) * 2
    for h in (h1, h2):  # its share on each host: what a volume there reserves too
        assert await _counter(db, ps["uuid"], f"primaryStorage.host/{h['uuid']}") == (
            SIM_DISK,
            SIM_DISK,
        )

    # a host added to the cluster joins the capacity; one deleted leaves it
    await env.add_host("127.0.20.3")
    assert (await env.ps(ps["uuid"]))["totalCapacity"] == 3 * SIM_DISK
    await env.admin.ok("DELETE", f"/v1/hosts/{h1['uuid']}")
    assert (await env.ps(ps["uuid"]))["totalCapacity"] == 2 * SIM_DISK
    assert await _counter(db, ps["uuid"], f"primaryStorage.host/{h1['uuid']}") is None
    # the counter's source agrees: a recalculation finds no drift
    again = await env.admin.ok("POST", f"/v1/counters/{ps['uuid']}/actions/recalculate", json={})
    assert again["inventories"][0]["total"] == 2 * SIM_DISK, again

    # queries, update, change-state
    found = await env.admin.ok(
        "GET", "/v1/primary-storage", params={"q": ["zone.name=sz", "type=LocalStorage"]}
    )
    assert [p["uuid"] for p in found["inventories"]] == [ps["uuid"]]
    renamed = await env.admin.ok("PUT", path, json={"name": "local-renamed"})
    assert renamed["inventory"]["name"] == "local-renamed"
    off = await env.action(path, "change-state", stateEvent="disable")
    assert off.json()["inventory"]["state"] == "Disabled"
    on = await env.action(path, "change-state", stateEvent="enable")
    assert on.json()["inventory"]["state"] == "Enabled"

    # the host filter, called directly with candidates made from the real hosts
    await _filter_checks(env, db, ps["uuid"], h2["uuid"])

    detached = await env.action(path, "detach-cluster", clusterUuid=env.cluster_uuid)
    assert detached.status_code == 200, detached.text
    assert detached.json()["inventory"]["attachedClusterUuids"] == []
    assert detached.json()["inventory"]["totalCapacity"] == 0


async def _filter_checks(env: Env, db: Database, ps_uuid: str, host_uuid: str) -> None:
    host = (await env.admin.ok("GET", f"/v1/hosts/{host_uuid}"))["inventory"]
    other_cluster = await env.admin.ok(
        "POST",
        "/v1/clusters",
        json={"name": "bare", "zoneUuid": env.zone_uuid, "hypervisorType": "Simulator"},
    )
    bare = await env.add_host("127.0.20.9", other_cluster["inventory"]["uuid"])

    def candidate(h: dict[str, Any]) -> HostCandidate:
        return HostCandidate(
            uuid=h["uuid"],
            name=h["name"],
            zone_uuid=h["zoneUuid"],
            cluster_uuid=h["clusterUuid"],
            hypervisor_type=h["hypervisorType"],
            state=h["state"],
            status=h["status"],
            architecture=h["architecture"],
            cpu_num=h["cpuNum"],
            total_cpu=h["totalCpuCapacity"],
            available_cpu=h["availableCpuCapacity"],
            total_memory=h["totalMemoryCapacity"],
            available_memory=h["availableMemoryCapacity"],
        )

    hosts = [candidate(host), candidate(bare)]
    f = PrimaryStorageFilter()

    async def reject(**spec: Any) -> dict[str, str]:
        async with db.session() as s:
            out = await f.reject(
                s, AllocationSpec(account_uuid="a", cpu_num=1, memory_size=GiB, **spec), hosts
            )
        return dict(out)

    small = await reject(root_disk_size=10 * GiB, data_disk_sizes=(GiB,))
    assert set(small) == {bare["uuid"]}
    assert "no primary storage is attached" in small[bare["uuid"]]
    # more than the host's share of the LocalStorage (its own disk): refused, named
    big = await reject(root_disk_size=SIM_DISK + 1)
    assert set(big) == {host["uuid"], bare["uuid"]}
    assert ps_uuid in big[host["uuid"]] and "disk" in big[host["uuid"]], big
    # another storage asked for: this one does not count
    other = await reject(root_disk_size=GiB, primary_storage_uuid=str(uuidlib.uuid4()))
    assert set(other) == {host["uuid"], bare["uuid"]}
    # a disabled storage is no candidate
    await env.action(f"/v1/primary-storage/{ps_uuid}", "change-state", stateEvent="disable")
    off = await reject(root_disk_size=GiB)
    assert "not Enabled and Connected" in off[host["uuid"]]
    await env.action(f"/v1/primary-storage/{ps_uuid}", "change-state", stateEvent="enable")


async def test_nfs_and_shared_mount_point_are_mounted_by_the_cluster_hosts(
    env: Env, db: Database
) -> None:
    h1 = await env.add_host("127.0.21.1")
    h2 = await env.add_host("127.0.21.2")
    for variant, url, kind in (
        ("nfs", "127.0.0.1:/export/z", "NFS"),
        ("shared-mount-point", "/mnt/shared", "SharedMountPoint"),
    ):
        resp = await env.add_ps(variant, f"{variant}-1", url)
        assert resp.status_code == 200, resp.text
        ps = resp.json()["inventory"]
        assert (ps["type"], ps["status"], ps["totalCapacity"]) == (kind, "Disconnected", 0)
        path = f"/v1/primary-storage/{ps['uuid']}"
        attached = await env.action(path, "attach-cluster", clusterUuid=env.cluster_uuid)
        assert attached.status_code == 200, attached.text
        inv = attached.json()["inventory"]
        assert inv["status"] == "Connected"
        assert inv["totalCapacity"] == inv["availableCapacity"] == SIM_MOUNT
        for h in (h1, h2):
            assert ps["uuid"] in (await env.sim_host(h["uuid"]))["mounts"]
        detached = await env.action(path, "detach-cluster", clusterUuid=env.cluster_uuid)
        assert detached.status_code == 200, detached.text
        for h in (h1, h2):
            assert ps["uuid"] not in (await env.sim_host(h["uuid"]))["mounts"]

    # a host failing to mount fails the attach with its reason; nothing is left attached
    # and the host that had mounted it unmounted it
    resp = await env.add_ps("nfs", "nfs-broken", "127.0.0.1:/export/b")
    ps = resp.json()["inventory"]
    await env.fault(
        "hosts", h2["uuid"], command="MountPrimaryStorage", action="fail", error="export gone"
    )
    path = f"/v1/primary-storage/{ps['uuid']}"
    failed = await env.action(path, "attach-cluster", clusterUuid=env.cluster_uuid)
    assert failed.status_code == 503, failed.text
    assert "export gone" in failed.text
    inv = await env.ps(ps["uuid"])
    assert (inv["attachedClusterUuids"], inv["status"], inv["totalCapacity"]) == (
        [],
        "Disconnected",
        0,
    )
    assert ps["uuid"] not in (await env.sim_host(h1["uuid"]))["mounts"]
    async with db.session() as s:
        held = await s.scalar(select(func.count()).where(ReservationRow.owner_uuid == ps["uuid"]))
    assert held == 0

    # a host that never answers: both attempts time out (agent timeout 3 s), same outcome
    await env.http.delete(f"{env.sim.url}/sim/hosts/{h2['uuid']}/faults")
    await env.fault(
        "hosts", h2["uuid"], command="MountPrimaryStorage", action="hang", seconds=8, times=2
    )
    hung = await env.action(path, "attach-cluster", clusterUuid=env.cluster_uuid)
    assert hung.status_code == 503, hung.text
    assert "SYS.110" in hung.text and "MountPrimaryStorage" in hung.text, hung.text
    assert (await env.ps(ps["uuid"]))["attachedClusterUuids"] == []
    assert ps["uuid"] not in (await env.sim_host(h1["uuid"]))["mounts"]
    await env.http.delete(f"{env.sim.url}/sim/hosts/{h2['uuid']}/faults")

    # a host joining a cluster with a shared storage mounts it in its handshake; one that
    # cannot is not added (nothing is left mounted on it)
    joined = (await env.add_ps("nfs", "nfs-join", "127.0.0.1:/export/j")).json()["inventory"]
    path = f"/v1/primary-storage/{joined['uuid']}"
    assert (await env.action(path, "attach-cluster", clusterUuid=env.cluster_uuid)).is_success
    h3 = await env.add_host("127.0.21.3")
    assert joined["uuid"] in (await env.sim_host(h3["uuid"]))["mounts"]
    bad = str(uuidlib.uuid4())
    await env.fault("hosts", bad, command="MountPrimaryStorage", action="fail", error="no route")
    body = {"clusterUuid": env.cluster_uuid, "name": "h4", "managementIp": "127.0.21.4"}
    refused = await env.admin.call("POST", "/v1/hosts", json={**body, "resourceUuid": bad})
    assert refused.status_code == 503 and "no route" in refused.text, refused.text
    assert (await env.admin.call("GET", f"/v1/hosts/{bad}")).status_code == 404
    # deleting the storage unmounts it from every host that mounted it
    await env.admin.ok("DELETE", path)
    for h in (h1, h2, h3):
        assert joined["uuid"] not in (await env.sim_host(h["uuid"]))["mounts"]


async def test_detach_is_refused_while_a_check_names_volumes_in_use(env: Env) -> None:
    await env.add_host("127.0.22.1")
    ps = (await env.add_ps("local", "pinned-local", "/var/lib/zcloud/p")).json()["inventory"]
    path = f"/v1/primary-storage/{ps['uuid']}"
    assert (await env.action(path, "attach-cluster", clusterUuid=env.cluster_uuid)).is_success
    refused = await env.action(path, "detach-cluster", clusterUuid=env.cluster_uuid)
    assert refused.status_code == 409, refused.text
    err = refused.json()["error"]
    assert "vol-1" in err["details"] and "in use" in err["details"]
    assert err["extra"]["reasons"], err
    assert (await env.ps(ps["uuid"]))["attachedClusterUuids"] == [env.cluster_uuid]


async def test_a_fault_at_backup_storage_connect_leaves_nothing(env: Env, db: Database) -> None:
    for action in ("fail", "hang"):
        bs = str(uuidlib.uuid4())
        await env.fault(
            "backup-storage",
            bs,
            command="ConnectBackupStorage",
            action=action,
            error="disk unreadable",
            seconds=10,
        )
        body = {"resourceUuid": bs, "name": "bs", "url": "/zs", "hostname": "127.0.0.1"}
        resp = await env.admin.call("POST", "/v1/backup-storage/image-store", json=body)
        assert resp.status_code == 503, resp.text
        if action == "fail":
            assert "disk unreadable" in resp.text
        else:
            assert "SYS.110" in resp.text and "ConnectBackupStorage" in resp.text
        assert await _left_behind(db, bs) == NOTHING
        await env.http.delete(f"{env.sim.url}/sim/backup-storage/{bs}/faults")
        ok = await env.admin.call("POST", "/v1/backup-storage/image-store", json=body)
        assert ok.status_code == 200, ok.text
        inv = ok.json()["inventory"]
        assert (inv["status"], inv["totalCapacity"], inv["availableCapacity"]) == (
            "Connected",
            SIM_BS,
            SIM_BS,
        )
        path = f"/v1/backup-storage/{bs}"
        # reconnect failing: Disconnected, then mended
        await env.fault(
            "backup-storage", bs, command="ConnectBackupStorage", action="fail", times=1
        )
        assert (await env.action(path, "reconnect")).status_code == 503
        assert (await env.other.ok("GET", path))["inventory"]["status"] == "Disconnected"
        assert (await env.action(path, "reconnect")).json()["inventory"]["status"] == "Connected"
        zone = await env.action(path, "attach-zone", zoneUuid=env.zone_uuid)
        assert zone.json()["inventory"]["attachedZoneUuids"] == [env.zone_uuid]
        off = await env.action(path, "change-state", stateEvent="disable")
        assert off.json()["inventory"]["state"] == "Disabled"
        gone = await env.action(path, "detach-zone", zoneUuid=env.zone_uuid)
        assert gone.json()["inventory"]["attachedZoneUuids"] == []
        await env.admin.ok("DELETE", path)
        assert await _left_behind(db, bs) == NOTHING


async def test_storage_is_admin_only_and_goes_with_its_zone(env: Env, db: Database) -> None:
    await env.admin.ok("POST", "/v1/accounts", json={"name": "st", "password": "st-pw-123456"})
    tenant = await Api.login(env.http, env.admin.base, "st", "st-pw-123456")
    body = {"zoneUuid": env.zone_uuid, "name": "t", "url": "/t"}
    assert (await tenant.call("POST", "/v1/primary-storage/local", json=body)).status_code == 403
    assert (await tenant.call("GET", "/v1/primary-storage")).status_code == 404
    assert (await tenant.call("GET", "/v1/backup-storage")).status_code == 404
    bad = await env.add_ps("nfs", "bad", "not-an-export")
    assert bad.status_code == 400 and "url" in bad.text, bad.text

    host = await env.add_host("127.0.23.1")
    made = []
    for variant, url in (("local", "/l"), ("nfs", "127.0.0.1:/e"), ("shared-mount-point", "/s")):
        ps = (await env.add_ps(variant, variant, url)).json()["inventory"]
        await env.action(
            f"/v1/primary-storage/{ps['uuid']}", "attach-cluster", clusterUuid=env.cluster_uuid
        )
        made.append(ps["uuid"])
    assert len((await env.sim_host(host["uuid"]))["mounts"]) == 2
    deleted = await env.admin.ok("DELETE", f"/v1/zones/{env.zone_uuid}")
    order = deleted["deleted"]
    assert "PrimaryStorage" in order and order.index("PrimaryStorage") < order.index("Zone")
    for uuid in made:
        assert await _left_behind(db, uuid) == NOTHING
    # the shared ones were unmounted from the host before their rows went
    assert len((await env.sim_host(host["uuid"]))["mounts"]) == 0
