"""API jobs: every write through the REST API is a job row, then a bus message.

The frontend inserts the row (with the whole message, so nothing accepted can be lost) and
publishes the message; the management node that handles it marks the job Running and then
final with the reply or the error. Any frontend answers job queries from the row. A job
whose message never reached a node (its frontend died between insert and publish, the
broker refused it) is published again by ``ApiJobSweeper``; jobs expire after retention.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Index, Integer, String, Text, delete, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.api.delivery import JobWebhooks
from mgmt.core.bus import Bus, HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.db import Base, Database, utcnow
from mgmt.core.db.batch import GroupCommit
from mgmt.core.db.driver import column_arrays, driver_connection, unnest_insert
from mgmt.core.db.types import UtcDateTime
from mgmt.core.errors import Codes, ZCloudError, error, is_transient, to_error_code
from mgmt.core.events import ResourceEvent
from mgmt.core.logging import get_logger
from mgmt.core.messages import MessageRegistry, Reply
from mgmt.core.scanner import PartitionScanner

log = get_logger(__name__)


class JobState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


FINAL = (JobState.SUCCEEDED, JobState.FAILED)


class ApiJobRow(Base):
    __tablename__ = "api_job"
    __table_args__ = (Index("ix_api_job_partition_state", "partition", "state"),)

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    api: Mapped[str] = mapped_column(String(128))
    resource_uuid: Mapped[str] = mapped_column(String(64), index=True)
    partition: Mapped[int] = mapped_column(Integer)
    account_uuid: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: sha-256 of what was asked (API, caller, path, body as sent): a reused X-Job-UUID
    #: with another request is refused rather than answered with this job
    request_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


_JOB_COLUMNS = (
    "uuid", "api", "resource_uuid", "partition", "account_uuid", "state", "message",
    "webhook", "request_digest", "created_at", "updated_at", "expires_at",
)  # fmt: skip


# one statement per batch on PostgreSQL: the rows go as one array per column
_PG_JOB_INSERT = unnest_insert(
    ApiJobRow.__table__, _JOB_COLUMNS, skip_conflicts_on="uuid", returning="uuid"
)


class ApiJobInserts:
    """Frontend side: new job rows, group-committed (one statement per batch on
    PostgreSQL). A job that exists (a retry's ``X-Job-UUID``) is left as it is."""

    def __init__(self, db: Database, *, max_batch: int = 256) -> None:
        self._db = db
        self._writes: GroupCommit[dict[str, Any], bool] = GroupCommit(
            self._write, name="api-job-writer", max_batch=max_batch
        )

    async def insert(self, values: dict[str, Any]) -> bool:
        """True if inserted, False if a job with this UUID exists."""
        return await self._writes.submit(values)

    async def close(self) -> None:
        await self._writes.close()

    async def _write(self, rows: Sequence[dict[str, Any]]) -> list[bool]:
        firsts: dict[str, int] = {}  # the same X-Job-UUID twice in a batch: the first wins
        for i, row in enumerate(rows):
            firsts.setdefault(row["uuid"], i)
        unique = [rows[i] for i in firsts.values()]
        async with self._db.autocommit.connect() as conn:
            if self._db.is_postgres:
                columns = column_arrays(unique, _JOB_COLUMNS)
                async with driver_connection(conn) as raw:
                    stored = {r["uuid"] for r in await raw.fetch(_PG_JOB_INSERT, *columns)}
            else:
                stored = set()
                for row in unique:
                    stmt = sqlite.insert(ApiJobRow).values(**row).on_conflict_do_nothing()
                    if getattr(await conn.execute(stmt), "rowcount", 0):
                        stored.add(row["uuid"])
        return [firsts[row["uuid"]] == i and row["uuid"] in stored for i, row in enumerate(rows)]


_EVENT_KIND = {"create": "created", "delete": "deleted", "update": "updated", "action": "updated"}


class CreateTags(Protocol):
    """Tags given on a create (``systemTags``/``userTags``): checked before the create
    runs, attached once it succeeded (idempotent: a redelivered create adds nothing)."""

    def validate(self, msg: Any) -> None: ...

    async def attach(self, msg: Any, message_id: str) -> None: ...


class ApiJobService:
    """Management-node side: wraps API handlers so their outcome lands in the job row and a
    success is announced as a canonical ``ResourceEvent``. A transient failure (the handler
    is retried in place) leaves the job running; only a final outcome is recorded."""

    def __init__(
        self,
        db: Database,
        *,
        webhooks: JobWebhooks | None = None,
        tags: CreateTags | None = None,
    ) -> None:
        self._db = db
        self._webhooks = webhooks
        self._tags = tags

    def wrap(self, handler: Handler) -> Handler:
        async def run(msg: Any, ctx: HandlerContext) -> Reply | None:
            job = getattr(msg, "jobUuid", "")
            if job:
                await self._mark(job, JobState.RUNNING, only_from=(JobState.PENDING,))
            try:
                if self._tags is not None:
                    self._tags.validate(msg)  # a bad tag refuses the create before it runs
                reply = await handler(msg, ctx)
                if self._tags is not None:
                    await self._tags.attach(msg, ctx.message_id)
            except Exception as exc:
                if job and not is_transient(exc):
                    err = exc.error if isinstance(exc, ZCloudError) else to_error_code(exc)
                    await self._finish(job, None, err.model_dump_json())
                raise
            if job:
                body = reply.model_dump_json() if reply is not None else "{}"
                await self._finish(job, body, None)
            await self._announce(msg, reply, ctx)
            return reply

        return run

    async def _announce(self, msg: Any, reply: Reply | None, ctx: HandlerContext) -> None:
        spec = getattr(type(msg), "api", None)
        caller = getattr(msg, "caller", None)
        if spec is None or caller is None:
            return
        inventory = getattr(reply, "inventory", None)
        kind = _EVENT_KIND[spec.kind]
        if spec.kind == "update" and getattr(msg, "state", None) is not None:
            kind = "stateChanged"
        event = ResourceEvent(
            resourceUuid=msg.resourceUuid,
            resourceType=spec.resource,
            kind=kind,
            accountUuid=caller.accountUuid,
            api=type(msg).type_name(),
            jobUuid=getattr(msg, "jobUuid", ""),
            at=utcnow(),
            inventory=inventory.model_dump(mode="json") if inventory is not None else None,
        )
        try:
            await ctx.bus.publish(event)
        except Exception as exc:  # the change stands; the event is lost (logged)
            log.warning("api.event_publish_failed", path=event.path, error=repr(exc))

    async def _mark(self, job: str, state: JobState, *, only_from: tuple[JobState, ...]) -> None:
        async with self._db.session() as s, s.begin():
            await s.execute(
                update(ApiJobRow)
                .where(ApiJobRow.uuid == job, ApiJobRow.state.in_([str(x) for x in only_from]))
                .values(state=state, updated_at=utcnow())
            )

    async def _finish(self, job: str, result: str | None, error: str | None) -> None:
        state = JobState.FAILED if error is not None else JobState.SUCCEEDED
        async with self._db.session() as s, s.begin():
            done = await s.execute(
                update(ApiJobRow)
                .where(ApiJobRow.uuid == job, ApiJobRow.state.not_in([str(x) for x in FINAL]))
                .values(state=state, result=result, error=error, updated_at=utcnow())
                .returning(ApiJobRow.webhook)
            )
            hook = done.scalar()
        if hook and self._webhooks is not None:
            self._webhooks.deliver(hook, job, state, result or error or "{}")


class ApiJobSweeper(PartitionScanner):
    """Partition listener: re-publishes jobs stuck Pending on owned partitions (their message
    was lost before a node saw it), fails jobs no node finished, deletes expired ones."""

    name = "api-job-sweeper"

    def __init__(
        self,
        db: Database,
        bus: Bus,
        messages: MessageRegistry,
        *,
        republish_after: float = 30.0,
        give_up_after: float = 3600.0,
        interval: float = 5.0,
    ) -> None:
        super().__init__(interval)
        self._db = db
        self._bus = bus
        self._messages = messages
        self._republish_after = republish_after
        self._give_up_after = give_up_after

    async def scan(self, owned: frozenset[int]) -> None:
        await self.sweep_once()

    async def sweep_once(self) -> None:
        if not self._owned:
            return
        now = utcnow()
        async with self._db.session() as s, s.begin():
            await s.execute(delete(ApiJobRow).where(ApiJobRow.expires_at < now))
            # no node finished it (its message was dead-lettered): it ends, it does not hang
            gave_up = error(Codes.TIMEOUT, "no management node finished this job")
            await s.execute(
                update(ApiJobRow)
                .where(
                    ApiJobRow.partition.in_(sorted(self._owned)),
                    ApiJobRow.state.in_([JobState.PENDING, JobState.RUNNING]),
                    ApiJobRow.created_at < now - timedelta(seconds=self._give_up_after),
                )
                .values(state=JobState.FAILED, error=gave_up.model_dump_json(), updated_at=now)
            )
            stuck = (
                await s.execute(
                    select(ApiJobRow).where(
                        ApiJobRow.partition.in_(sorted(self._owned)),
                        ApiJobRow.state == JobState.PENDING,
                        ApiJobRow.updated_at < now - timedelta(seconds=self._republish_after),
                    )
                )
            ).scalars()
            jobs = list(stuck)
            for job in jobs:
                job.updated_at = now
        for job in jobs:
            await self._republish(job)

    async def _republish(self, job: ApiJobRow) -> None:
        cls = self._messages.get(job.api)
        if cls is None:
            log.warning("api_job.unknown_api", job=job.uuid, api=job.api)
            return
        await self._bus.send(cls.model_validate_json(job.message))
        log.info("api_job.republished", job=job.uuid, api=job.api)
