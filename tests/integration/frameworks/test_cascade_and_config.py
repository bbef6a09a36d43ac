"""Cascades, global config and plugin loading on real ``zcloud mgmt`` processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.bench.failover import wait_settled
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.core.errors import ErrorCode, ZCloudError
from mgmt.core.gconfig import UpdateGlobalConfig
from mgmt.core.tags import CreateUserTag, TagRow
from mgmt.diag import CreateDiagResource, DeleteDiagResource
from mgmt.diag.models import DiagDeleted, DiagResource
from tests.helpers.eventually import eventually
from tests.integration.conftest import PARTITIONS


async def _nodes(cluster: LocalCluster, n: int) -> list[Proc]:
    nodes = [cluster.mgmt(f"node{i}").start() for i in range(n)]
    for node in nodes:
        await node.wait_ready()
    await wait_settled(nodes, PARTITIONS)
    return nodes


async def _tree(bus: Bus, *, veto_on: str | None = None) -> dict[str, str]:
    """zone > cluster > host > vm, and a nic on the vm and the cluster; each tagged."""
    ids = {t: str(uuid.uuid4()) for t in ("zone", "cluster", "host", "vm", "nic")}
    parents = {"cluster": "zone", "host": "cluster", "vm": "host", "nic": "vm"}
    for key in ("zone", "cluster", "host", "vm", "nic"):
        await bus.call(
            CreateDiagResource(
                resourceUuid=ids[key],
                type=f"Diag{key.capitalize()}",
                parentUuid=ids[parents[key]] if key in parents else None,
                otherParentUuid=ids["cluster"] if key == "nic" else None,
                vetoReason="has running work" if key == veto_on else None,
            )
        )
        await bus.call(
            CreateUserTag(resourceUuid=ids[key], resourceType="DiagResource", tag=f"t-{key}")
        )
    return ids


async def _count(db: Database, model: type[DiagResource] | type[TagRow], ids: list[str]) -> int:
    column = model.uuid if model is DiagResource else TagRow.resource_uuid
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).where(column.in_(ids))) or 0)


async def test_cascade_deletes_leaves_first_and_root_last(
    cluster: LocalCluster, client_bus: Bus, db: Database
) -> None:
    await _nodes(cluster, 2)
    ids = await _tree(client_bus)
    reply = await client_bus.call(
        DeleteDiagResource(resourceUuid=ids["zone"], type="DiagZone"), timeout=60
    )
    assert reply.deleted == ["DiagNic", "DiagVm", "DiagHost", "DiagCluster", "DiagZone"]
    async with db.session() as s:
        log = (await s.execute(select(DiagDeleted).order_by(DiagDeleted.id))).scalars().all()
    assert [r.type for r in log] == reply.deleted
    assert all(r.cleaned for r in log)  # the cleanup phase ran for every type
    assert await _count(db, DiagResource, list(ids.values())) == 0
    assert await _count(db, TagRow, list(ids.values())) == 0  # tags went with them


async def test_a_permissive_veto_stops_everything_with_its_reason(
    cluster: LocalCluster, client_bus: Bus, db: Database
) -> None:
    await _nodes(cluster, 2)
    ids = await _tree(client_bus, veto_on="host")
    with pytest.raises(ZCloudError) as refused:
        await client_bus.call(DeleteDiagResource(resourceUuid=ids["zone"], type="DiagZone"))
    chain: list[ErrorCode] = []
    err: ErrorCode | None = refused.value.error
    while err is not None:
        chain.append(err)
        err = err.cause
    veto = next(e for e in chain if e.code == "CASCADE.1001")
    assert "has running work" in veto.details
    assert ids["host"] in veto.details
    assert await _count(db, DiagResource, list(ids.values())) == 5  # nothing changed
    assert await _count(db, TagRow, list(ids.values())) == 5

    # Enforcing: no checks, nothing left behind
    reply = await client_bus.call(
        DeleteDiagResource(resourceUuid=ids["zone"], type="DiagZone", deleteMode="Enforcing")
    )
    assert reply.deleted[-1] == "DiagZone"
    assert await _count(db, DiagResource, list(ids.values())) == 0
    assert await _count(db, TagRow, list(ids.values())) == 0


async def _applied_version(node: Proc, config: str) -> int:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{node.url}/metrics", timeout=5)).text
    for line in text.splitlines():
        if line.startswith(f'zcloud_global_config_version{{config="{config}"}}'):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


async def test_two_nodes_apply_a_global_config_change_within_5_s(
    cluster: LocalCluster, client_bus: Bus
) -> None:
    nodes = await _nodes(cluster, 2)
    name = "diag.counterStepDelayMs"
    assert [await _applied_version(n, name) for n in nodes] == [1, 1]
    reply = await client_bus.call(
        UpdateGlobalConfig(category="diag", name="counterStepDelayMs", value="25")
    )
    assert reply.inventory.version == 2
    loop = asyncio.get_running_loop()
    started = loop.time()
    for node in nodes:

        async def applied(n: Proc = node) -> bool:
            return await _applied_version(n, name) == 2

        await eventually(applied, timeout=5, interval=0.1)
    assert loop.time() - started <= 5
    with pytest.raises(ZCloudError) as bad:
        await client_bus.call(
            UpdateGlobalConfig(category="diag", name="counterStepDelayMs", value="-1")
        )
    assert "GCONF.1001" in str(bad.value.error.model_dump())


def test_a_bad_plugin_fails_start_up_and_says_which(cluster: LocalCluster) -> None:
    env = cluster.env(ZCLOUD_NODE_ID="bad", ZCLOUD_PLUGINS="tests.fixtures.plugins:broken")
    done = subprocess.run(
        [sys.executable, "-m", "mgmt.cli", "mgmt"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "plugin 'broken-observer'" in output
    assert "flow.observer" in output
    assert "after_step (missing)" in output
