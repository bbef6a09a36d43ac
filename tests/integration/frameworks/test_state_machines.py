"""State machines on real ``zcloud mgmt`` processes: an operation whose node is SIGKILLed
never leaves its resource in a transitional state.

The diag state machine runs start/stop as the 5-step counter flow; the diag ``KillSwitch``
kills the node running it at a step boundary, inside a step after its effect, in the middle
of a rollback, or after the run's final write but before the resource was released. The
node that takes the partition over ends the run (resumed or rolled back, as the flow says),
and the resource is in the operation's success state or back where it started, held by
nothing, with the flow's counters exact.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from mgmt.bench.cluster import LocalCluster, Proc
from mgmt.bench.failover import wait_settled
from mgmt.core.api.spec import http_status
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.core.errors import ErrorCode, ZCloudError
from mgmt.core.flow import FlowState
from mgmt.diag import CreateDiagStateful, RunDiagStateOperation
from mgmt.diag.flows import STEPS, counters_of
from mgmt.diag.models import DiagStateful
from mgmt.diag.states import DIAG_STATES, DiagState
from tests.helpers.eventually import eventually
from tests.integration.conftest import PARTITIONS

# before the first step, between steps, after a step's effect but before its progress was
# written, and after the run's final write (the run is over, the resource not released)
KILL_POINTS = ["before:read-amount", "after:s2", "effect:s3", "after:s5"]


async def _two_nodes(cluster: LocalCluster) -> list[Proc]:
    nodes = [cluster.mgmt(f"node{i}", ZCLOUD_TEST_HOOKS="1").start() for i in range(2)]
    for node in nodes:
        await node.wait_ready()
    await wait_settled(nodes, PARTITIONS)
    return nodes


async def _restart_dead(nodes: list[Proc]) -> None:
    for node in nodes:
        if not node.alive:
            node.start()
            await node.wait_ready()
    await wait_settled(nodes, PARTITIONS)


async def _resource(client_bus: Bus, state: DiagState) -> str:
    resource = str(uuid.uuid4())
    await client_bus.call(CreateDiagStateful(resourceUuid=resource, state=state))
    return resource


async def _row(db: Database, resource: str) -> DiagStateful:
    async with db.session() as s:
        row = (
            await s.execute(select(DiagStateful).where(DiagStateful.uuid == resource))
        ).scalar_one()
    return row


async def _assert_stable(db: Database, resource: str, expected: DiagState, why: object) -> None:
    row = await _row(db, resource)
    assert not DIAG_STATES.is_transitional(row.state), (why, row.state)
    assert (row.state, row.op_holder, row.op_name, row.op_from) == (expected, None, None, None), why


async def _assert_no_transitional_left(db: Database) -> None:
    async with db.session() as s:
        stuck = (
            await s.execute(
                select(DiagStateful.uuid, DiagStateful.state, DiagStateful.op_holder).where(
                    DiagStateful.state.in_([str(t) for t in DIAG_STATES.transitional])
                    | DiagStateful.op_holder.is_not(None)
                )
            )
        ).all()
    assert not stuck, f"resources left held or transitional: {stuck}"


@pytest.mark.parametrize("mode", ["resume", "rollback"])
async def test_an_operation_killed_mid_flow_ends_in_a_stable_state(
    cluster: LocalCluster, client_bus: Bus, db: Database, mode: str
) -> None:
    nodes = await _two_nodes(cluster)
    for point in KILL_POINTS:
        resource = await _resource(client_bus, DiagState.STOPPED)
        reply = await client_bus.call(
            RunDiagStateOperation(
                resourceUuid=resource, operation="start", killAt=point, onInterrupt=mode
            ),
            timeout=60,
        )
        assert sum(not n.alive for n in nodes) == 1, f"{point}: the hook killed no node"
        # a run killed after its last step succeeded has nothing left to roll back
        completed = mode == "resume" or point == "after:s5"
        expected = DiagState.RUNNING if completed else DiagState.STOPPED
        assert reply.flowState == (FlowState.SUCCEEDED if completed else FlowState.ROLLED_BACK)
        assert reply.state == expected, (point, reply)
        await _assert_stable(db, resource, expected, point)
        counters = await counters_of(db, resource)
        if completed:
            assert counters == dict.fromkeys(STEPS, 1), (point, counters)
        else:
            assert all(v == 0 for v in counters.values()), (point, counters)
        await _restart_dead(nodes)
    await _assert_no_transitional_left(db)


async def test_a_failing_operation_killed_mid_rollback_returns_where_it_started(
    cluster: LocalCluster, client_bus: Bus, db: Database
) -> None:
    nodes = await _two_nodes(cluster)
    # stop fails at s4; its node dies before s2 is undone; the new owner finishes the undo
    resource = await _resource(client_bus, DiagState.RUNNING)
    reply = await client_bus.call(
        RunDiagStateOperation(
            resourceUuid=resource, operation="stop", failAt="s4", killAt="rollback:s2"
        ),
        timeout=60,
    )
    assert sum(not n.alive for n in nodes) == 1, "the hook killed no node"
    assert (reply.flowState, reply.state) == (FlowState.ROLLED_BACK, DiagState.RUNNING)
    await _assert_stable(db, resource, DiagState.RUNNING, "killed mid-rollback")
    assert all(v == 0 for v in (await counters_of(db, resource)).values())
    await _restart_dead(nodes)

    # the same failure with no kill
    reply = await client_bus.call(
        RunDiagStateOperation(resourceUuid=resource, operation="stop", failAt="s2"), timeout=60
    )
    assert (reply.flowState, reply.state) == (FlowState.ROLLED_BACK, DiagState.RUNNING)
    await _assert_stable(db, resource, DiagState.RUNNING, "failed")
    await _assert_no_transitional_left(db)


def _conflict(err: ErrorCode) -> ErrorCode:
    current: ErrorCode | None = err
    while current is not None and current.code != "STATE.1001":
        current = current.cause
    assert current is not None, err
    return current


async def test_an_illegal_operation_is_refused_with_the_state_and_what_it_allows(
    cluster: LocalCluster, client_bus: Bus, db: Database
) -> None:
    await _two_nodes(cluster)
    resource = await _resource(client_bus, DiagState.STOPPED)
    with pytest.raises(ZCloudError) as refused:
        await client_bus.call(RunDiagStateOperation(resourceUuid=resource, operation="stop"))
    assert http_status(refused.value.error) == 409
    assert _conflict(refused.value.error).extra == {
        "state": "Stopped",
        "allowedOperations": ["start"],
    }
    await _assert_stable(db, resource, DiagState.STOPPED, "refused")
    # and a legal one goes through, on whichever node owns the resource
    reply = await client_bus.call(
        RunDiagStateOperation(resourceUuid=resource, operation="start"), timeout=60
    )
    assert reply.state == DiagState.RUNNING
    row = await eventually(lambda: _row(db, resource), timeout=5)
    assert row.state == DiagState.RUNNING
