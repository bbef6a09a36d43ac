"""The database's fast paths on PostgreSQL: a row by key on the driver's own connection
reads exactly what the Core path reads; group commit hands each caller its own outcome;
an idle pooled connection to a restarted database is replaced, not handed out."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from mgmt.core.api import ApiJobInserts, ApiJobRow, JobState
from mgmt.core.db import Database, utcnow
from mgmt.core.db.batch import GroupCommit
from mgmt.core.db.lookup import RowByKey
from mgmt.core.db.migrate import upgrade
from mgmt.core.db.types import UtcDateTime
from mgmt.core.errors import TemporaryError, is_transient


class Shouted(TypeDecorator[str]):
    """A type that converts what it reads: the driver alone would not."""

    impl = String(32)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value).upper()


META = MetaData()
PLAIN = Table(
    "fast_plain",
    META,
    Column("uuid", String(36), primary_key=True),
    Column("name", String(64)),
    Column("size", Integer),
    Column("enabled", Boolean),
    Column("note", Text, nullable=True),
    Column("doc", JSON),
    Column("created_at", UtcDateTime),
)
CONVERTED = Table(
    "fast_converted", META, Column("uuid", String(36), primary_key=True), Column("word", Shouted)
)


async def test_a_row_by_key_on_the_driver_reads_what_core_reads(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(META.create_all)
        at = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
        await conn.execute(
            insert(PLAIN),
            [
                {"uuid": "a", "name": "n", "size": 3, "enabled": True, "note": None, "doc": [1]},
                {"uuid": "b", "name": "ü'\"", "size": -1, "enabled": False, "note": "x", "doc": {}},
            ],
        )
        await conn.execute(PLAIN.update().values(created_at=at))
        await conn.execute(insert(CONVERTED), [{"uuid": "a", "word": "quiet"}])
    fast = RowByKey(PLAIN, PLAIN.c.uuid, db.engine.dialect)
    converted = RowByKey(CONVERTED, CONVERTED.c.uuid, db.engine.dialect)
    assert fast.on_driver
    assert not converted.on_driver  # its type converts values: it stays on the Core path
    async with db.autocommit.connect() as conn:
        for key in ("a", "b"):
            row = await fast.fetch(conn, key)
            assert row is not None
            core = (await conn.execute(PLAIN.select().where(PLAIN.c.uuid == key))).one()
            for column in PLAIN.c:
                assert getattr(row, column.key) == getattr(core, column.key), column.key
            assert row.created_at.tzinfo is not None
        assert await fast.fetch(conn, "missing") is None
        assert await fast.fetch(conn, "a' OR '1'='1") is None  # a bound value, not SQL
        row = await converted.fetch(conn, "a")
        assert row is not None and row.word == "QUIET"


async def test_group_commit_answers_each_caller_and_fails_only_its_batch() -> None:
    batches: list[list[int]] = []

    async def write(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        await asyncio.sleep(0.01)
        if any(i < 0 for i in items):
            raise ValueError("negative")
        return [i * 10 for i in items]

    commit: GroupCommit[int, int] = GroupCommit(write, name="t", max_batch=8, writers=1)
    results = await asyncio.gather(*(commit.submit(i) for i in range(20)))
    assert results == [i * 10 for i in range(20)]
    assert max(len(b) for b in batches) > 1 and all(len(b) <= 8 for b in batches)
    bad = await asyncio.gather(commit.submit(-1), return_exceptions=True)
    assert isinstance(bad[0], ValueError)
    assert await commit.submit(7) == 70  # the writer carries on after a failed batch
    await commit.close()


async def _backend_of(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(admin: Database, pid: int) -> None:
    async with admin.engine.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


async def test_a_pooled_connection_whose_server_went_away(pg_url: str, db: Database) -> None:
    # idle past ping_idle: pinged at checkout, replaced, the caller never sees it
    idle = Database(pg_url, pool_size=1, ping_idle=0.1)
    try:
        gone = await _backend_of(idle)
        await _terminate(db, gone)
        await asyncio.sleep(0.3)
        assert await _backend_of(idle) != gone
    finally:
        await idle.close()
    # in steady use (no ping): the one caller that meets it gets a transient error, the
    # connection is dropped, and the next caller gets a fresh one
    busy = Database(pg_url, pool_size=1, ping_idle=3600)
    try:
        gone = await _backend_of(busy)
        await _terminate(db, gone)
        await asyncio.sleep(0.1)
        with pytest.raises(Exception) as met:
            await _backend_of(busy)
        assert is_transient(met.value)
        assert await _backend_of(busy) != gone
        # the same on the driver's own connection, which SQLAlchemy does not watch
        async with busy.engine.begin() as conn:
            await conn.run_sync(META.create_all)
        rows = RowByKey(PLAIN, PLAIN.c.uuid, busy.engine.dialect)
        await _terminate(db, await _backend_of(busy))
        await asyncio.sleep(0.1)
        with pytest.raises(TemporaryError):
            async with busy.autocommit.connect() as conn:
                await rows.fetch(conn, "a")
        async with busy.autocommit.connect() as conn:
            assert await rows.fetch(conn, "a") is None
    finally:
        await busy.close()


async def test_job_inserts_in_one_batch_the_same_job_twice_is_stored_once(db: Database) -> None:
    await upgrade(db)
    jobs = ApiJobInserts(db)
    now = utcnow()

    def job(uuid: str) -> dict[str, Any]:
        return {
            "uuid": uuid, "api": "CreateZone", "resource_uuid": f"r-{uuid}", "partition": 1,
            "account_uuid": "acct", "state": JobState.PENDING, "message": "{}",
            "webhook": None, "request_digest": None, "created_at": now, "updated_at": now,
            "expires_at": now,
        }  # fmt: skip

    try:
        wanted = [f"job-{i % 10}" for i in range(20)]  # each X-Job-UUID sent twice at once
        fresh = await asyncio.gather(*(jobs.insert(job(u)) for u in wanted))
        assert sum(fresh) == 10
        assert {u for u, f in zip(wanted, fresh, strict=True) if f} == set(wanted)
        assert not await jobs.insert(job("job-3"))  # a later retry finds it stored
        with pytest.raises(asyncpg.StringDataRightTruncationError):  # not cut short
            await jobs.insert(job("job-long") | {"api": "x" * 200})
    finally:
        await jobs.close()
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(ApiJobRow)) == 10
