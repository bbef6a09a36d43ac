"""Where flow runs live: ``DbFlowStore`` (durable) and ``MemoryFlowStore`` (persistence off).

The engine writes a run after every step and waits for the write before the next step.
``DbFlowStore`` group-commits: writes from concurrent flows that arrive while a commit is in
flight go together in the next transaction (one statement on PostgreSQL), so durability
costs one commit per batch, not per step. Every write is fenced by the run's ``epoch``: a
node whose run was taken over gets ``FlowFenced`` instead of overwriting the new owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from mgmt.core.db import Database
from mgmt.core.db.batch import GroupCommit
from mgmt.core.db.driver import column_arrays, driver_connection
from mgmt.core.errors import ErrorCode
from mgmt.core.flow.models import ACTIVE_STATES, FlowRunRow, GcJobRow, GcKind, GcState
from mgmt.core.logging import get_logger

log = get_logger(__name__)


class FlowFenced(Exception):
    """This process no longer owns the run (another node took it over)."""


@dataclass
class FlowRecord:
    """A flow run as the engine holds it; what is persisted after every step."""

    uuid: str
    name: str
    resource_uuid: str
    partition: int
    state: str
    ctx: str
    owner: str | None
    parent_uuid: str | None = None
    position: int = 0
    epoch: int = 1
    results: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    error: ErrorCode | None = None
    deadline_at: datetime | None = None

    def snapshot(self) -> FlowRecord:
        """A copy safe to hand to a writer while the engine goes on mutating this one."""
        return replace(self, results=list(self.results), history=list(self.history))

    def row_values(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            "epoch": self.epoch,
            "state": self.state,
            "position": self.position,
            "ctx": self.ctx,
            "results": orjson.dumps(self.results).decode(),
            "history": orjson.dumps(self.history).decode(),
            "error": self.error.model_dump_json() if self.error else None,
            "owner": self.owner,
        }

    @classmethod
    def from_row(cls, row: FlowRunRow) -> FlowRecord:
        return cls(
            uuid=row.uuid,
            name=row.name,
            resource_uuid=row.resource_uuid,
            partition=row.partition,
            state=row.state,
            ctx=row.ctx,
            owner=row.owner,
            parent_uuid=row.parent_uuid,
            position=row.position,
            epoch=row.epoch,
            results=orjson.loads(row.results),
            history=orjson.loads(row.history),
            error=ErrorCode.model_validate_json(row.error) if row.error else None,
            deadline_at=row.deadline_at,
        )


@dataclass(frozen=True)
class GcJob:
    uuid: str
    flow_uuid: str
    flow_name: str
    step: str
    resource_uuid: str
    partition: int
    ctx: str
    result: str
    attempts: int = 0
    kind: str = GcKind.ROLLBACK


class FlowStore(Protocol):
    """Persistence of flow runs (owned by the flow engine)."""

    async def create(self, rec: FlowRecord) -> bool:
        """Store a new run; False if a run with this uuid exists already."""
        ...

    async def save(self, rec: FlowRecord) -> None:
        """Persist progress; raises ``FlowFenced`` if ``rec.epoch`` is no longer current."""
        ...

    async def load(self, uuid: str) -> FlowRecord | None: ...

    async def claim(self, uuid: str, owner: str, epoch: int) -> FlowRecord | None:
        """Take a run over if its epoch is still ``epoch``; the claimed record or None."""
        ...

    async def active_on(self, partitions: Iterable[int]) -> list[FlowRecord]:
        """Top-level runs not yet final on these partitions (take-over candidates)."""
        ...

    async def add_gc(self, job: GcJob) -> None:
        """Queue ``job``; a job whose uuid is queued already is left as it is (a step that
        ran again after a take-over queues the same job)."""
        ...

    async def close(self) -> None: ...


class MemoryFlowStore:
    """Persistence off: for flows that need none and to measure what persistence costs."""

    def __init__(self) -> None:
        self._runs: dict[str, FlowRecord] = {}
        self.gc: list[GcJob] = []

    async def create(self, rec: FlowRecord) -> bool:
        if rec.uuid in self._runs:
            return False
        self._runs[rec.uuid] = rec.snapshot()
        return True

    async def save(self, rec: FlowRecord) -> None:
        current = self._runs.get(rec.uuid)
        if current is None or current.epoch != rec.epoch:
            raise FlowFenced(rec.uuid)
        self._runs[rec.uuid] = rec.snapshot()

    async def load(self, uuid: str) -> FlowRecord | None:
        rec = self._runs.get(uuid)
        return rec.snapshot() if rec else None

    async def claim(self, uuid: str, owner: str, epoch: int) -> FlowRecord | None:
        rec = self._runs.get(uuid)
        if rec is None or rec.epoch != epoch:
            return None
        rec.epoch += 1
        rec.owner = owner
        return rec.snapshot()

    async def active_on(self, partitions: Iterable[int]) -> list[FlowRecord]:
        wanted = set(partitions)
        return [
            r.snapshot()
            for r in self._runs.values()
            if r.partition in wanted and r.state in ACTIVE_STATES and r.parent_uuid is None
        ]

    async def add_gc(self, job: GcJob) -> None:
        if all(j.uuid != job.uuid for j in self.gc):
            self.gc.append(job)

    async def close(self) -> None:
        return None


# PostgreSQL, one statement each per batch: rows arrive as arrays of column values, unnested
# into rows. Creates skip runs that exist (a redelivered message); updates join on
# (uuid, epoch), and RETURNING says which runs were still ours.
_PG_BATCH_INSERT = """
    INSERT INTO flow_run (uuid, epoch, state, position, ctx, results, history, error, owner,
                          name, resource_uuid, partition, parent_uuid, deadline_at,
                          created_at, updated_at)
    SELECT v.*, clock_timestamp(), clock_timestamp()
    FROM unnest($1::text[], $2::int[], $3::text[], $4::int[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::int[],
                $13::text[], $14::timestamptz[])
        AS v(uuid, epoch, state, position, ctx, results, history, error, owner, name,
             resource_uuid, partition, parent_uuid, deadline_at)
    ON CONFLICT (uuid) DO NOTHING
    RETURNING uuid
"""
_PG_BATCH_UPDATE = """
    UPDATE flow_run AS f SET
        state = v.state, position = v.position, ctx = v.ctx, results = v.results,
        history = v.history, error = v.error, owner = v.owner, updated_at = clock_timestamp()
    FROM unnest($1::text[], $2::int[], $3::text[], $4::int[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::text[])
        AS v(uuid, epoch, state, position, ctx, results, history, error, owner)
    WHERE f.uuid = v.uuid AND f.epoch = v.epoch
    RETURNING f.uuid
"""
_COLUMNS = ("uuid", "epoch", "state", "position", "ctx", "results", "history", "error", "owner")
_CREATE_COLUMNS = (*_COLUMNS, "name", "resource_uuid", "partition", "parent_uuid", "deadline_at")


@dataclass(frozen=True)
class _Write:
    rec: FlowRecord
    create: bool


class DbFlowStore:
    """Durable runs in ``flow_run``; creates and saves are group-committed (one statement
    each per batch)."""

    def __init__(self, db: Database, *, max_batch: int = 512, writers: int = 2) -> None:
        self._db = db
        self._writes: GroupCommit[_Write, bool] = GroupCommit(
            self._write, name="flow-store-writer", max_batch=max_batch, writers=writers
        )

    # -- reads go straight to the database ------------------------------------------------

    async def load(self, uuid: str) -> FlowRecord | None:
        async with self._db.session() as s:
            row = (await s.execute(select(FlowRunRow).where(FlowRunRow.uuid == uuid))).scalar()
        return FlowRecord.from_row(row) if row else None

    async def claim(self, uuid: str, owner: str, epoch: int) -> FlowRecord | None:
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                update(FlowRunRow)
                .where(FlowRunRow.uuid == uuid, FlowRunRow.epoch == epoch)
                .values(owner=owner, epoch=epoch + 1)
            )
        if getattr(result, "rowcount", 0) != 1:
            return None
        return await self.load(uuid)

    async def active_on(self, partitions: Iterable[int]) -> list[FlowRecord]:
        wanted = sorted(partitions)
        if not wanted:
            return []
        async with self._db.session() as s:
            rows = (
                await s.execute(
                    select(FlowRunRow)
                    .where(
                        FlowRunRow.partition.in_(wanted),
                        FlowRunRow.state.in_([str(x) for x in ACTIVE_STATES]),
                        FlowRunRow.parent_uuid.is_(None),
                    )
                    .limit(1000)
                )
            ).scalars()
            return [FlowRecord.from_row(r) for r in rows]

    async def add_gc(self, job: GcJob) -> None:
        now = await self._db.now()
        insert = postgresql.insert if self._db.is_postgres else sqlite.insert
        values = {
            "uuid": job.uuid,
            "flow_uuid": job.flow_uuid,
            "flow_name": job.flow_name,
            "step": job.step,
            "kind": job.kind,
            "resource_uuid": job.resource_uuid,
            "partition": job.partition,
            "ctx": job.ctx,
            "result": job.result,
            "state": GcState.PENDING,
            "attempts": job.attempts,
            "next_at": now + timedelta(seconds=1),
            "created_at": now,
        }
        async with self._db.session() as s, s.begin():
            await s.execute(
                insert(GcJobRow).values(**values).on_conflict_do_nothing(index_elements=["uuid"])
            )

    # -- creates and saves: group commit --------------------------------------------------

    async def create(self, rec: FlowRecord) -> bool:
        """True if stored (False: the run existed)."""
        return await self._writes.submit(_Write(rec.snapshot(), create=True))

    async def save(self, rec: FlowRecord) -> None:
        if not await self._writes.submit(_Write(rec.snapshot(), create=False)):
            raise FlowFenced(rec.uuid)

    async def close(self) -> None:
        await self._writes.close()

    async def _write(self, batch: Sequence[_Write]) -> list[bool]:
        """Per write: a create stored (False: it existed); a save still ours (False: fenced)."""
        creates = [w.rec for w in batch if w.create]
        saves = [w.rec for w in batch if not w.create]
        async with self._db.engine.connect() as conn:
            if self._db.is_postgres:
                ok = await _pg_write(conn, creates, saves)
            else:
                ok = await _sqlite_write(conn, creates, saves)
                await conn.commit()
        return [(w.rec.uuid, w.rec.epoch, w.create) in ok for w in batch]


async def _pg_write(
    conn: AsyncConnection, creates: Sequence[FlowRecord], saves: Sequence[FlowRecord]
) -> set[tuple[str, int, bool]]:
    # the driver's own connection: this is the hot path of every durable flow, and one
    # prepared statement with array parameters per batch beats the ORM's per-row overhead
    ok: set[tuple[str, int, bool]] = set()
    async with driver_connection(conn) as raw, raw.transaction():
        if creates:
            rows = [r.row_values() | _create_extra(r) for r in creates]
            params = column_arrays(rows, _CREATE_COLUMNS)
            stored = {rec["uuid"] for rec in await raw.fetch(_PG_BATCH_INSERT, *params)}
            ok.update((r.uuid, r.epoch, True) for r in creates if r.uuid in stored)
        if saves:
            rows = [r.row_values() for r in saves]
            params = column_arrays(rows, _COLUMNS)
            ours = {rec["uuid"] for rec in await raw.fetch(_PG_BATCH_UPDATE, *params)}
            ok.update((r.uuid, r.epoch, False) for r in saves if r.uuid in ours)
    return ok


def _create_extra(rec: FlowRecord) -> dict[str, Any]:
    return {
        "name": rec.name,
        "resource_uuid": rec.resource_uuid,
        "partition": rec.partition,
        "parent_uuid": rec.parent_uuid,
        "deadline_at": rec.deadline_at,
    }


async def _sqlite_write(
    conn: AsyncConnection, creates: Sequence[FlowRecord], saves: Sequence[FlowRecord]
) -> set[tuple[str, int, bool]]:
    ok: set[tuple[str, int, bool]] = set()
    now = datetime.now(UTC)
    for rec in creates:
        values = rec.row_values() | _create_extra(rec) | {"created_at": now, "updated_at": now}
        stmt = (
            sqlite.insert(FlowRunRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["uuid"])
        )
        if getattr(await conn.execute(stmt), "rowcount", 0):
            ok.add((rec.uuid, rec.epoch, True))
    ours = await _sqlite_update(conn, saves)
    ok.update((u, e, False) for u, e in ours)
    return ok


async def _sqlite_update(conn: AsyncConnection, recs: Sequence[FlowRecord]) -> set[tuple[str, int]]:
    ours: set[tuple[str, int]] = set()
    now = datetime.now(UTC)
    for rec in recs:
        values = rec.row_values()
        result = await conn.execute(
            update(FlowRunRow)
            .where(FlowRunRow.uuid == rec.uuid, FlowRunRow.epoch == rec.epoch)
            .values(
                **{k: v for k, v in values.items() if k not in ("uuid", "epoch")},
                updated_at=now,
            )
        )
        if getattr(result, "rowcount", 0) == 1:
            ours.add((rec.uuid, rec.epoch))
    return ours
