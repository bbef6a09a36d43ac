"""The allocator's flow step on real processes (3 ``zcloud mgmt`` nodes, PostgreSQL,
RabbitMQ): the node running ``DiagAllocate`` is SIGKILLed after the allocation committed
but before the step was recorded; the node taking the run over re-runs the step (finds
its allocation, takes nothing more) or rolls it back (gives it back once); a failing later
step rolls the allocation back."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from mgmt.bench.cluster import LocalCluster
from mgmt.bench.failover import wait_settled
from mgmt.core.bus import Bus
from mgmt.core.counters import ReservationRow, ReservationState, define_counter, get_counter
from mgmt.core.db import Database, utcnow
from mgmt.core.flow import FlowState
from mgmt.diag import RunDiagAllocate
from mgmt.host.models import HostRow
from mgmt.zone.models import ClusterRow, ZoneRow
from tests.integration.conftest import PARTITIONS
from tests.integration.frameworks.test_counters import _nodes

GiB = 1 << 30


async def _host(db: Database) -> str:
    """A connected host of 4 CPUs and 8 GiB, in a zone and cluster of its own."""
    now = utcnow()
    common = {"description": "", "owner_account_uuid": "", "created_at": now, "updated_at": now}
    zone, cluster, host = (str(uuid.uuid4()) for _ in range(3))
    async with db.session() as s, s.begin():
        s.add(ZoneRow(uuid=zone, name="tz", **common))
        await s.flush()
        s.add(
            ClusterRow(
                uuid=cluster, name="tc", zone_uuid=zone, hypervisor_type="Simulator", **common
            )
        )
        await s.flush()
        s.add(
            HostRow(
                uuid=host,
                name="th",
                zone_uuid=zone,
                cluster_uuid=cluster,
                management_ip=f"ip-{host}",
                hypervisor_type="Simulator",
                host_state="Enabled",
                state="Connected",
                cpu_num=4,
                **common,
            )
        )
        for name, total in (("host.cpu", 4), ("host.memory", 8 * GiB)):
            await define_counter(s, host, name, total, partition=0, owner_type="Host")
    return host


async def _available(db: Database, host: str) -> tuple[int, int]:
    async with db.session() as s:
        cpu = await get_counter(s, host, "host.cpu")
        mem = await get_counter(s, host, "host.memory")
    assert cpu is not None and mem is not None
    return cpu.available, mem.available


async def test_an_allocate_step_re_run_after_a_sigkill_allocates_nothing_more(
    cluster: LocalCluster, client_bus: Bus, db: Database
) -> None:
    nodes = await _nodes(cluster, 3, ZCLOUD_TEST_HOOKS="1")
    # (how the flow is interrupted, where it fails) -> vCPUs held at the end
    for mode, fail_at, held in (
        ("resume", None, 2),
        ("rollback", None, 0),
        ("resume", "after-allocate", 0),
    ):
        host = await _host(db)  # the only Enabled host: the earlier cases' are disabled
        kill = None if fail_at else "effect:allocate"
        reply = await client_bus.call(
            RunDiagAllocate(
                resourceUuid=str(uuid.uuid4()),
                cpuNum=2,
                memorySize=GiB,
                killAt=kill,
                failAt=fail_at,
                onInterrupt=mode,
            ),
            timeout=60,
        )
        case = (mode, fail_at, reply)
        if kill:
            assert sum(not n.alive for n in nodes) == 1, f"{case}: the hook killed no node"
        assert reply.state == (FlowState.SUCCEEDED if held else FlowState.ROLLED_BACK), case
        if held:
            assert reply.hostUuid == host, case
        assert await _available(db, host) == (4 - held, 8 * GiB - (GiB if held else 0)), case
        async with db.session() as s:  # one reservation per counter, whatever happened
            rows = (
                await s.execute(select(ReservationRow).where(ReservationRow.owner_uuid == host))
            ).scalars()
            state = ReservationState.RESERVED if held else ReservationState.RELEASED
            assert sorted((r.name, r.state) for r in rows) == [
                ("host.cpu", state),
                ("host.memory", state),
            ], case
        # so that the next case's new host is the only one the allocator may choose
        async with db.session() as s, s.begin():
            await s.execute(
                update(HostRow).where(HostRow.uuid == host).values(host_state="Disabled")
            )
        for node in nodes:
            if not node.alive:
                node.start()
                await node.wait_ready()
    await wait_settled(nodes, PARTITIONS)
