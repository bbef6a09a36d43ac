"""Database time, migrations against the models, dedupe, and lease membership (SQLite).

The tests taking ``any_db`` run on PostgreSQL too, as integration tests:
tests/integration/frameworks/test_db_postgres.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mgmt.app import metadata
from mgmt.core.db import Database, first_time
from mgmt.core.db.migrate import current_revision, head_revision, upgrade
from mgmt.core.membership import Membership
from tests.helpers.eventually import eventually


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/z.db")
    await upgrade(db)
    yield db
    await db.close()


@pytest.fixture
async def any_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/a.db")
    await upgrade(db)
    yield db
    await db.close()


async def _schema_diff(db: Database) -> list[Any]:
    async with db.engine.connect() as conn:
        return await conn.run_sync(
            lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), metadata()
            )
        )


async def test_migrations_match_the_models(any_db: Database) -> None:
    db = any_db
    assert await current_revision(db) == head_revision()
    assert await _schema_diff(db) == []
    await upgrade(db)  # a second upgrade is a no-op
    assert await current_revision(db) == head_revision()


async def test_database_time_and_dedupe(any_db: Database) -> None:
    db = any_db
    now = await db.now()
    assert now.tzinfo is not None
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)
    async with db.session() as s, s.begin():
        assert await first_time(s, "m-1") is True
    async with db.session() as s, s.begin():
        assert await first_time(s, "m-1") is False
        assert await first_time(s, "m-2") is True


class Recorder:
    def __init__(self) -> None:
        self.members: frozenset[str] = frozenset()
        self.fenced = 0

    async def on_members(self, members: frozenset[str]) -> None:
        self.members = members

    async def on_fence(self) -> None:
        self.fenced += 1


def _member(db: Database, node: str, rec: Recorder, interval: float = 0.2) -> Membership:
    return Membership(
        db, node, interval=interval, misses=3, on_members=rec.on_members, on_fence=rec.on_fence
    )


async def test_members_see_each_other_and_expire_the_silent(sqlite_db: Database) -> None:
    ra, rb = Recorder(), Recorder()
    a, b = _member(sqlite_db, "a", ra), _member(sqlite_db, "b", rb)
    await a.start()
    await b.start()
    await eventually(lambda: ra.members == {"a", "b"} and rb.members == {"a", "b"}, timeout=5)
    await b.stop(leave=False)  # b stops renewing without leaving: it must be expired
    await eventually(lambda: ra.members == {"a"}, timeout=0.2 * 3 + 2)
    await a.stop()


class FailingDb:
    """Our own Database, made to fail on demand (the database going away)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.down = False

    async def now(self) -> datetime:
        if self.down:
            raise ConnectionRefusedError("database is down")
        return await self._db.now()

    def session(self) -> Any:
        if self.down:
            raise ConnectionRefusedError("database is down")
        return self._db.session()


async def test_a_node_that_cannot_renew_fences_itself_before_its_lease_ends(
    sqlite_db: Database,
) -> None:
    rec = Recorder()
    flaky = FailingDb(sqlite_db)
    m = _member(flaky, "solo", rec)  # type: ignore[arg-type]
    await m.start()
    try:
        await eventually(lambda: m.members == {"solo"}, timeout=5)
        flaky.down = True
        cut = asyncio.get_running_loop().time()
        await eventually(lambda: rec.fenced == 1, timeout=2)
        elapsed = asyncio.get_running_loop().time() - cut
        assert elapsed < 0.2 * 3, "fenced before the lease the others see ran out"
        assert m.fenced and m.members == frozenset()
        flaky.down = False
        await eventually(lambda: not m.fenced and m.members == {"solo"}, timeout=5)
        assert rec.members == {"solo"}, "the runtime hears it is a member again"
    finally:
        await m.stop()
