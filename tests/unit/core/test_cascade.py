"""Cascade graph and flow on SQLite with the diag resource types."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.cascade import CascadeCtx, CascadeGraph, DeleteMode, cascade_flow
from mgmt.core.db import Database
from mgmt.core.db.migrate import upgrade
from mgmt.core.flow import FlowEngine, FlowFailed, FlowMetrics, FlowRegistry, MemoryFlowStore
from mgmt.diag.cascade import TYPES, DiagResourceType
from mgmt.diag.models import DiagDeleted, DiagResource


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/c.db")
    await upgrade(database)
    yield database
    await database.close()


def graph(db: Database) -> CascadeGraph:
    return CascadeGraph([DiagResourceType(t, db) for t in TYPES])


async def populate(db: Database, veto: str | None = None) -> None:
    rows = [
        ("z", "DiagZone", None, None),
        ("c", "DiagCluster", "z", None),
        ("h1", "DiagHost", "c", None),
        ("h2", "DiagHost", "c", None),
        ("v", "DiagVm", "h1", None),
        ("n", "DiagNic", "v", "c"),
        ("other", "DiagZone", None, None),
    ]
    async with db.session() as s, s.begin():
        for uuid, type_, parent, other in rows:
            s.add(
                DiagResource(
                    uuid=uuid,
                    type=type_,
                    parent_uuid=parent,
                    other_parent_uuid=other,
                    veto_reason="busy" if uuid == veto else None,
                )
            )


async def test_types_are_ordered_parents_first_and_cycles_refused(db: Database) -> None:
    g = graph(db)
    assert g.order.index("DiagZone") < g.order.index("DiagCluster") < g.order.index("DiagHost")
    assert g.order.index("DiagVm") < g.order.index("DiagNic")

    class Loop:
        def __init__(self, name: str, parent: str) -> None:
            self.type_name = name
            self.parents: Sequence[str] = (parent,)

        async def dependents_of(self, s: AsyncSession, t: str, u: Sequence[str]) -> list[str]:
            return []

        async def check(self, s: AsyncSession, u: Sequence[str]) -> str | None:
            return None

        async def delete(self, s: AsyncSession, u: Sequence[str], *, force: bool) -> None:
            return None

        async def cleanup(self, u: Sequence[str]) -> None:
            return None

    with pytest.raises(ValueError, match="cycle"):
        CascadeGraph([Loop("A", "B"), Loop("B", "A")])
    with pytest.raises(ValueError, match="undeclared"):
        CascadeGraph([Loop("A", "Nowhere")])


async def test_the_plan_covers_every_dependent_once_in_delete_order(db: Database) -> None:
    await populate(db)
    async with db.session() as s:
        plan = await graph(db).plan(s, "DiagZone", ["z"])
    assert plan == [
        ("DiagNic", ["n"]),
        ("DiagVm", ["v"]),
        ("DiagHost", ["h1", "h2"]),
        ("DiagCluster", ["c"]),
        ("DiagZone", ["z"]),
    ]
    async with db.session() as s:
        assert await graph(db).plan(s, "DiagHost", ["h2"]) == [("DiagHost", ["h2"])]


async def run(db: Database, mode: DeleteMode) -> CascadeCtx:
    flows = FlowRegistry()
    engine = FlowEngine(MemoryFlowStore(), flows, node_id="n", partitions=4, metrics=FlowMetrics())
    flow = flows.add(cascade_flow(db, graph(db), engine))
    return await engine.run(
        flow, CascadeCtx(rootType="DiagZone", rootUuids=["z"], mode=mode), resource_uuid="z"
    )


async def remaining(db: Database) -> list[str]:
    async with db.session() as s:
        return sorted((await s.execute(select(DiagResource.uuid))).scalars())


async def test_permissive_veto_changes_nothing_and_enforcing_removes_all(db: Database) -> None:
    await populate(db, veto="v")
    with pytest.raises(FlowFailed) as failed:
        await run(db, DeleteMode.PERMISSIVE)
    assert failed.value.error.cause is not None
    assert failed.value.error.cause.code == "CASCADE.1001"
    assert "DiagVm v: busy" in failed.value.error.cause.details
    assert await remaining(db) == ["c", "h1", "h2", "n", "other", "v", "z"]

    await run(db, DeleteMode.ENFORCING)
    assert await remaining(db) == ["other"]
    async with db.session() as s:
        order = (await s.execute(select(DiagDeleted.type).order_by(DiagDeleted.id))).scalars()
        assert list(order) == [
            "DiagNic",
            "DiagVm",
            "DiagHost",
            "DiagHost",
            "DiagCluster",
            "DiagZone",
        ]
