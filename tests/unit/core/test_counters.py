"""The counters framework's SQL paths on SQLite (the all-in-one): reserve, release,
resize, recalculate, the checker's reporting and the ``ReserveCounter`` flow step."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api import ApiRequest, http_status
from mgmt.core.counters import (
    CounterCodes,
    CounterMetrics,
    CounterRow,
    CounterService,
    CounterSources,
    Limit,
    Measure,
    RecalculateCounters,
    ReservationRow,
    ReservationState,
    ReserveCounter,
    counters_of,
    define_counter,
    get_counter,
    purge_released,
    recalculate,
    release,
    remove_counters,
    reserve,
    set_total,
)
from mgmt.core.db import Database, utcnow
from mgmt.core.db.migrate import upgrade
from mgmt.core.errors import Codes, PermanentError, error
from mgmt.core.flow import (
    FlowDef,
    FlowEngine,
    FlowFailed,
    FlowMetrics,
    FlowRegistry,
    Interrupt,
    MemoryFlowStore,
    Step,
)

CPU = "host.cpu"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/c.db")
    await upgrade(database)
    yield database
    await database.close()


async def _define(db: Database, total: int, name: str = CPU) -> str:
    owner = str(uuid.uuid4())
    async with db.session() as s, s.begin():
        assert await define_counter(s, owner, name, total, partition=3, owner_type="Host")
    return owner


async def _available(db: Database, owner: str, name: str = CPU) -> int:
    async with db.session() as s:
        row = await get_counter(s, owner, name)
    assert row is not None
    return row.available


async def _live(db: Database, owner: str) -> int:
    async with db.session() as s:
        n = await s.scalar(
            select(func.count()).where(
                ReservationRow.owner_uuid == owner,
                ReservationRow.state == ReservationState.RESERVED,
            )
        )
    return int(n or 0)


async def test_a_reservation_takes_capacity_once_per_id(db: Database) -> None:
    owner = await _define(db, 10)
    async with db.session() as s, s.begin():
        first = await reserve(s, owner, CPU, 4, "r1")
    async with db.session() as s, s.begin():
        again = await reserve(s, owner, CPU, 4, "r1")
    assert first.fresh and not again.fresh
    assert (again.state, again.amount) == (ReservationState.RESERVED, 4)
    assert await _available(db, owner) == 6
    assert await _live(db, owner) == 1


async def test_a_release_gives_back_exactly_once_and_a_late_reserve_takes_nothing(
    db: Database,
) -> None:
    owner = await _define(db, 10)
    async with db.session() as s, s.begin():
        await reserve(s, owner, CPU, 4, "r1")
    outcomes = []
    for _ in range(3):
        async with db.session() as s, s.begin():
            outcomes.append((await release(s, "r1")).released)
    assert outcomes == [True, False, False]
    assert await _available(db, owner) == 10
    async with db.session() as s, s.begin():  # a redelivered reserve after its release
        late = await reserve(s, owner, CPU, 4, "r1")
    assert (late.fresh, late.state) == (False, ReservationState.RELEASED)
    assert await _available(db, owner) == 10


async def test_releasing_an_id_that_never_reserved_blocks_a_later_reserve(
    db: Database,
) -> None:
    owner = await _define(db, 10)
    async with db.session() as s, s.begin():  # the rollback of a step interrupted early
        out = await release(s, "never")
    assert not out.released
    async with db.session() as s, s.begin():  # the presumed-dead node finishing the step
        late = await reserve(s, owner, CPU, 3, "never")
    assert not late.fresh
    assert await _available(db, owner) == 10


async def test_not_enough_capacity_is_a_409_saying_used_available_and_asked(
    db: Database,
) -> None:
    owner = await _define(db, 10)
    async with db.session() as s, s.begin():
        await reserve(s, owner, CPU, 7, "r1")
    with pytest.raises(PermanentError) as refused:
        async with db.session() as s, s.begin():
            await reserve(s, owner, CPU, 4, "r2")
    err = refused.value.error
    assert err.code == CounterCodes.INSUFFICIENT[0]
    assert http_status(err) == 409
    assert {k: err.extra[k] for k in ("used", "available", "asked", "total")} == {
        "used": 7,
        "available": 3,
        "asked": 4,
        "total": 10,
    }


async def test_a_refused_reserve_leaves_nothing_even_if_the_caller_commits(
    db: Database,
) -> None:
    owner = await _define(db, 2)
    async with db.session() as s, s.begin():
        with pytest.raises(PermanentError):
            await reserve(s, owner, CPU, 3, "big")
    async with db.session() as s:
        assert await s.get(ReservationRow, "big") is None
    async with db.session() as s, s.begin():  # the same id may try again later
        assert (await reserve(s, owner, CPU, 2, "big")).fresh


async def test_an_id_reused_for_another_reservation_is_refused(db: Database) -> None:
    owner = await _define(db, 10)
    async with db.session() as s, s.begin():
        await reserve(s, owner, CPU, 1, "r1")
    with pytest.raises(PermanentError) as refused:
        async with db.session() as s, s.begin():
            await reserve(s, owner, CPU, 2, "r1")
    assert refused.value.error.code == CounterCodes.RESERVATION_CONFLICT[0]
    assert http_status(refused.value.error) == 409


async def test_unknown_counters_and_bad_amounts(db: Database) -> None:
    owner = await _define(db, 10)
    with pytest.raises(PermanentError) as missing:
        async with db.session() as s, s.begin():
            await reserve(s, owner, "host.memory", 1, "m1")
    assert http_status(missing.value.error) == 404
    async with db.session() as s:
        assert await s.get(ReservationRow, "m1") is None
    for bad in (0, -1):
        with pytest.raises(PermanentError) as invalid:
            async with db.session() as s, s.begin():
                await reserve(s, owner, CPU, bad, "b")
        assert http_status(invalid.value.error) == 400


async def test_concurrent_reservations_never_overcommit(db: Database) -> None:
    owner = await _define(db, 10)

    async def one(i: int) -> bool:
        try:
            async with db.session() as s, s.begin():
                await reserve(s, owner, CPU, 1, f"c{i}")
        except PermanentError:
            return False
        return True

    outcomes = await asyncio.gather(*(one(i) for i in range(30)))
    assert sum(outcomes) == 10
    assert await _available(db, owner) == 0
    assert await _live(db, owner) == 10


async def test_defining_twice_keeps_the_counter_and_resizing_keeps_what_is_reserved(
    db: Database,
) -> None:
    owner = await _define(db, 10)
    async with db.session() as s, s.begin():
        assert not await define_counter(s, owner, CPU, 99, partition=3)
        await reserve(s, owner, CPU, 4, "r1")
    async with db.session() as s, s.begin():
        row = await set_total(s, owner, CPU, 6)
    assert (row.total, row.available) == (6, 2)
    async with db.session() as s, s.begin():
        row = await set_total(s, owner, CPU, 3)  # below what is held: negative available
    assert row.available == -1
    with pytest.raises(PermanentError):
        async with db.session() as s, s.begin():
            await set_total(s, owner, "nope", 3)


async def _corrupt(db: Database, owner: str, available: int, name: str = CPU) -> None:
    async with db.session() as s, s.begin():
        await s.execute(
            update(CounterRow)
            .where(CounterRow.owner_uuid == owner, CounterRow.name == name)
            .values(available=available)
        )


async def test_recalculate_restores_the_counter_from_its_live_reservations(
    db: Database,
) -> None:
    owner = await _define(db, 10)
    async with db.session() as s, s.begin():
        await define_counter(s, owner, "host.memory", 100, partition=3)
        await reserve(s, owner, CPU, 3, "a")
        await reserve(s, owner, CPU, 2, "b")
        await reserve(s, owner, "host.memory", 40, "c")
        await release(s, "b")
    await _corrupt(db, owner, 9)  # 1 used, where 3 are
    async with db.session() as s, s.begin():
        done = await recalculate(s, owner, CounterSources())
    by_name = {r.name: r for r in done}
    assert [r.name for r in done] == ["host.cpu", "host.memory"]
    assert (by_name[CPU].available, by_name[CPU].drift) == (7, -2)
    assert by_name["host.memory"].drift == 0 and not by_name["host.memory"].changed
    assert await _available(db, owner) == 7
    async with db.session() as s, s.begin():  # right now: nothing to change
        assert all(r.drift == 0 for r in await recalculate(s, owner, CounterSources()))


class VmSum:
    """A source as a resource type would register one: total and used from its rows."""

    def __init__(self, total: int, used: int) -> None:
        self.total, self.used = total, used
        self.calls: list[tuple[str, str]] = []

    async def measure(self, session: AsyncSession, owner_uuid: str, name: str) -> Measure:
        self.calls.append((owner_uuid, name))
        return Measure(used=self.used, total=self.total)


async def test_a_registered_source_is_the_truth_for_its_counter_name(db: Database) -> None:
    owner = await _define(db, 10)
    async with db.session() as s, s.begin():
        await define_counter(s, owner, "other", 5, partition=3)
    source = VmSum(total=16, used=5)
    async with db.session() as s, s.begin():
        done = await recalculate(s, owner, CounterSources({CPU: source}), name=CPU)
    assert source.calls == [(owner, CPU)]
    assert [(r.name, r.total, r.available) for r in done] == [(CPU, 16, 11)]
    async with db.session() as s:
        assert [(c.name, c.total, c.available) for c in await counters_of(s, owner)] == [
            (CPU, 16, 11),
            ("other", 5, 5),
        ]


class _Bus:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def publish(self, event: Any) -> None:
        self.events.append(event)


async def test_the_service_reports_drift_as_an_event_and_metrics(db: Database) -> None:
    owner = await _define(db, 10)
    async with db.session() as s, s.begin():
        await reserve(s, owner, CPU, 4, "a")
    await _corrupt(db, owner, 10)  # the reservation forgotten: 4 would be over-committed
    registry = CollectorRegistry()
    bus = _Bus()
    service = CounterService(
        db,
        CounterSources(),
        CounterMetrics(registry),
        node_id="n1",
        bus=bus,  # type: ignore[arg-type]
    )
    done = await service.recalculate_owner(owner)
    assert [r.drift for r in done] == [-4]
    assert [(e.resourceUuid, e.name, e.drift, e.available) for e in bus.events] == [
        (owner, CPU, -4, 6)
    ]
    assert bus.events[0].event_topic() == "counter.drift.host.cpu"
    sample = registry.get_sample_value
    assert sample("zcloud_counter_drift_found_total", {"counter": CPU}) == 1
    assert sample("zcloud_counter_last_drift", {"counter": CPU}) == -4
    await service.recalculate_owner(owner)  # right now: no second report
    assert len(bus.events) == 1


async def test_released_reservations_are_purged_and_owners_removed(db: Database) -> None:
    owner = await _define(db, 10)
    async with db.session() as s, s.begin():
        await reserve(s, owner, CPU, 1, "old")
        await reserve(s, owner, CPU, 1, "live")
        await release(s, "old")
    async with db.session() as s, s.begin():
        assert await purge_released(s, utcnow()) == 1
    async with db.session() as s, s.begin():
        assert await s.get(ReservationRow, "live") is not None
        assert await remove_counters(s, owner) == 1
    async with db.session() as s:
        assert await s.get(ReservationRow, "live") is None


def test_the_recalculate_api_is_an_admin_action_on_the_owner() -> None:
    message: type[ApiRequest[Any]] = RecalculateCounters
    spec = message.api
    assert (spec.method, spec.path, spec.admin_only) == (
        "POST",
        "/v1/counters/{uuid}/actions/recalculate",
        True,
    )


# -- the flow step -------------------------------------------------------------------------


class VmCtx(BaseModel):
    hostUuid: str
    cpuNum: int
    failAt: str | None = None


class Fail(Step[VmCtx]):
    name = "after"

    async def run(self, ctx: VmCtx) -> Any:
        if ctx.failAt == self.name:
            raise PermanentError(error(Codes.INTERNAL, "asked to fail"))
        return None


def _engine(db: Database) -> tuple[FlowEngine, FlowDef[VmCtx]]:
    flow = FlowDef(
        "ReserveVm",
        VmCtx,
        [
            ReserveCounter(
                db, "reserve-cpu", CPU, owner=lambda c: c.hostUuid, amount=lambda c: c.cpuNum
            ),
            Fail(),
        ],
        on_interrupt=Interrupt.ROLLBACK,
    )
    registry = FlowRegistry()
    registry.add(flow)
    engine = FlowEngine(
        MemoryFlowStore(), registry, node_id="n1", partitions=8, metrics=FlowMetrics()
    )
    return engine, flow


async def test_the_step_reserves_once_per_run_and_releases_on_rollback(db: Database) -> None:
    owner = await _define(db, 8)
    engine, flow = _engine(db)
    await engine.run(flow, VmCtx(hostUuid=owner, cpuNum=3), resource_uuid=owner, flow_uuid="f1")
    # the same run again (a redelivered message) returns the outcome, reserves nothing
    await engine.run(flow, VmCtx(hostUuid=owner, cpuNum=3), resource_uuid=owner, flow_uuid="f1")
    assert await _available(db, owner) == 5
    async with db.session() as s:
        assert (await s.get(ReservationRow, "f1/reserve-cpu")) is not None
    with pytest.raises(FlowFailed):
        await engine.run(flow, VmCtx(hostUuid=owner, cpuNum=2, failAt="after"), resource_uuid=owner)
    assert await _available(db, owner) == 5  # the failed run gave its 2 back
    with pytest.raises(FlowFailed) as full:
        await engine.run(flow, VmCtx(hostUuid=owner, cpuNum=6), resource_uuid=owner)
    assert full.value.error.cause is not None
    assert full.value.error.cause.code == CounterCodes.INSUFFICIENT[0]
    assert await _available(db, owner) == 5


async def test_a_limit_over_commits_and_keeps_back_in_the_one_statement(db: Database) -> None:
    owner = await _define(db, 4)
    limit = Limit(ratio=2.0, keep=1)  # 8 may be given out, 1 of them kept back: 7
    async with db.session() as s, s.begin():
        await reserve(s, owner, CPU, 6, "l1", limit=limit)
    assert await _available(db, owner) == -2  # the counter stays exact: 6 used of 4
    with pytest.raises(PermanentError) as err:
        async with db.session() as s, s.begin():
            await reserve(s, owner, CPU, 2, "l2", limit=limit)
    assert err.value.error.code == CounterCodes.INSUFFICIENT[0]
    assert err.value.error.extra["available"] == 1 and err.value.error.extra["used"] == 6
    async with db.session() as s, s.begin():
        await reserve(s, owner, CPU, 1, "l2", limit=limit)
        # without a limit the same counter refuses anything: nothing is available
        with pytest.raises(PermanentError):
            await reserve(s, owner, CPU, 1, "l3")
    async with db.session() as s, s.begin():
        await release(s, "l1")
    assert await _available(db, owner) == 3
