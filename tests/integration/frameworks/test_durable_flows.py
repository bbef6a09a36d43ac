"""Durable flows on real ``zcloud mgmt`` processes: SIGKILL at every step boundary.

A test hook (the diag plugin's ``KillSwitch`` flow observer, or the step itself for
``effect:``) kills the node running the flow; the node that takes the partition over
finishes the run. Afterwards the counters the flow moved are exact: all 1 when it completed,
all 0 when it was rolled back; never applied twice, never leaked.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.bench.failover import wait_settled
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.core.flow import FlowRunRow, FlowState, GcJobRow, GcState
from mgmt.core.tags import CreateSystemTag
from mgmt.diag import RunDiagFlow
from mgmt.diag.flows import STEPS, counters_of
from tests.helpers.eventually import eventually
from tests.integration.conftest import PARTITIONS

# every boundary: before the first step, after each step, and inside a step after its
# effect committed but before the engine recorded it
KILL_POINTS = [
    "before:read-amount",
    *(f"after:{s}" for s in ("read-amount", *STEPS[:-1])),
    "effect:s3",
]


#: The kill hook works only on a node that opted in (a production node ignores killAt).
HOOKS = {"ZCLOUD_TEST_HOOKS": "1"}


async def _three_nodes(cluster: LocalCluster) -> list[Proc]:
    nodes = [cluster.mgmt(f"node{i}", **HOOKS).start() for i in range(3)]
    for node in nodes:
        await node.wait_ready()
    await wait_settled(nodes, PARTITIONS)
    return nodes


async def _restart_dead(nodes: list[Proc]) -> None:
    for node in nodes:
        if not node.alive:
            node.start()
            await node.wait_ready()


@pytest.mark.parametrize("mode", ["resume", "rollback"])
async def test_a_flow_killed_at_each_step_boundary_finishes_exactly(
    cluster: LocalCluster, client_bus: Bus, db: Database, mode: str
) -> None:
    nodes = await _three_nodes(cluster)
    for point in KILL_POINTS:
        resource = str(uuid.uuid4())
        reply = await client_bus.call(
            RunDiagFlow(resourceUuid=resource, killAt=point, onInterrupt=mode), timeout=60
        )
        assert sum(not n.alive for n in nodes) == 1, f"{point}: the hook killed no node"
        expected = 1 if mode == "resume" else 0
        if mode == "rollback":
            assert reply.state == FlowState.ROLLED_BACK, (point, reply)
            assert reply.error is not None and "FLOW.1003" in reply.error
        else:
            assert reply.state == FlowState.SUCCEEDED, (point, reply)
        counters = await counters_of(db, resource)
        if expected:
            assert counters == dict.fromkeys(STEPS, 1), (point, counters)
        else:  # steps that never ran have no counter row; the others are back to 0
            assert all(v == 0 for v in counters.values()), (point, counters)
        await _assert_no_run_left_active(db)
        await _restart_dead(nodes)
    await wait_settled(nodes, PARTITIONS)


@pytest.mark.parametrize("point", ["before:s1", "after:s2", "effect:s3"])
async def test_a_node_without_test_hooks_ignores_kill_requests(
    cluster: LocalCluster, client_bus: Bus, db: Database, point: str
) -> None:
    node = cluster.mgmt("node0").start()  # no ZCLOUD_TEST_HOOKS
    await node.wait_ready()
    await wait_settled([node], PARTITIONS)
    resource = str(uuid.uuid4())
    reply = await client_bus.call(RunDiagFlow(resourceUuid=resource, killAt=point), timeout=60)
    assert node.alive, f"{point}: a node without ZCLOUD_TEST_HOOKS was killed"
    assert reply.state == FlowState.SUCCEEDED and reply.node == "node0", reply
    assert await counters_of(db, resource) == dict.fromkeys(STEPS, 1)
    assert "diag.kill_hook_disabled" in node.log_path.read_text()


async def _assert_no_run_left_active(db: Database) -> None:
    async with db.session() as s:
        active = (
            await s.execute(
                select(FlowRunRow.uuid, FlowRunRow.state).where(
                    FlowRunRow.state.in_([FlowState.RUNNING, FlowState.ROLLING_BACK])
                )
            )
        ).all()
    assert not active, f"runs left in a transitional state: {active}"


async def test_a_failing_rollback_is_retried_by_the_gc_queue_until_it_succeeds(
    cluster: LocalCluster, client_bus: Bus, db: Database
) -> None:
    await _three_nodes(cluster)
    resource = str(uuid.uuid4())
    reply = await client_bus.call(
        RunDiagFlow(resourceUuid=resource, failAt="s5", rollbackFailures={"s2": 3}), timeout=60
    )
    assert reply.state == FlowState.ROLLED_BACK
    # s2's undo failed in the flow: its counter is still applied, the job is queued
    assert reply.counters["s2"] == 1
    assert all(reply.counters[s] == 0 for s in ("s1", "s3", "s4"))

    async def gc_done() -> bool:
        async with db.session() as s:
            job = (await s.execute(select(GcJobRow))).scalar_one()
        return job.state == GcState.DONE

    await eventually(gc_done, timeout=30, interval=0.3)
    assert await counters_of(db, resource) == dict.fromkeys(STEPS[:4], 0)
    async with db.session() as s:
        job = (await s.execute(select(GcJobRow))).scalar_one()
    assert job.attempts >= 2  # failed at least once in the queue, then succeeded


async def test_a_system_tag_changes_what_the_flow_does(
    cluster: LocalCluster, client_bus: Bus, db: Database
) -> None:
    await _three_nodes(cluster)
    resource = str(uuid.uuid4())
    await client_bus.call(
        CreateSystemTag(
            resourceUuid=resource, resourceType="DiagResource", tag="diagCounterStep::7"
        )
    )
    reply = await client_bus.call(RunDiagFlow(resourceUuid=resource), timeout=60)
    assert reply.counters == dict.fromkeys(STEPS, 7)
