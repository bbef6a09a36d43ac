"""The audit log: every API call — who, what, on which resource, when, how it ended, how
long it took, from where — recorded by the frontend that served it.

``AuditMiddleware`` wraps the ASGI app; ``AuditWriter`` batches rows (one insert per batch,
every 200 ms or 500 rows) so auditing costs reads almost nothing. Rows wait out a database
restart in memory. A frontend killed with SIGKILL loses the rows not yet written (at most
200 ms of them while the database is up); a write's own job row is durable anyway.
Admins query it at ``/v1/audits`` like any collection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Index, Integer, String, insert
from sqlalchemy.orm import Mapped, mapped_column
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mgmt.core.api import CallerContext
from mgmt.core.api.reads import ReadableResource, plain
from mgmt.core.db import Base, Database
from mgmt.core.db.driver import column_arrays, driver_connection, unnest_insert
from mgmt.core.db.types import UtcDateTime
from mgmt.core.logging import get_logger
from mgmt.core.module import ServiceModule
from mgmt.core.query import QueryableResource

log = get_logger(__name__)


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_account_at", "account_uuid", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    account_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    user_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    action: Mapped[str] = mapped_column(String(128), index=True)
    resource_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    status: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    source_ip: Mapped[str] = mapped_column(String(64))
    job_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)


_COLUMNS = (
    "at", "account_uuid", "user_uuid", "action", "resource_uuid", "method", "path", "status",
    "duration_ms", "source_ip", "job_uuid",
)  # fmt: skip
_PG_INSERT = unnest_insert(AuditRow.__table__, _COLUMNS)


class AuditWriter:
    """Batches audit rows. A batch the database refuses (it is restarting) stays queued and
    is tried again on the next tick; past ``max_pending`` rows the oldest are dropped, and
    the count logged, rather than let a long outage eat the frontend's memory."""

    def __init__(
        self,
        db: Database,
        *,
        interval: float = 0.2,
        max_batch: int = 500,
        max_pending: int = 100_000,
    ) -> None:
        self._db = db
        self._interval = interval
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._pending: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def record(self, row: dict[str, Any]) -> None:
        self._pending.append(row)
        if len(self._pending) > self._max_pending:
            dropped = len(self._pending) - self._max_pending
            del self._pending[:dropped]
            log.error("audit.rows_dropped", rows=dropped, reason="database unavailable too long")
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="audit-writer")
        if len(self._pending) >= self._max_batch:
            self._wake.set()

    async def flush(self) -> bool:
        """Write what is pending; False if the database refused (the rows stay pending)."""
        while self._pending:
            batch = self._pending[: self._max_batch]
            try:
                await self._insert(batch)
            except Exception as exc:  # never fail a request over its audit row; say so
                log.warning(
                    "audit.write_deferred", rows=len(self._pending), error=type(exc).__name__
                )
                return False
            del self._pending[: len(batch)]
        return True

    async def _insert(self, batch: list[dict[str, Any]]) -> None:
        async with self._db.autocommit.connect() as conn:  # one statement: atomic alone
            if not self._db.is_postgres:
                await conn.execute(insert(AuditRow), batch)
                return
            # the driver's own connection, rows as column arrays: through the statement
            # layer, a many-row insert took 3 % of a loaded frontend's CPU
            async with driver_connection(conn) as raw:
                await raw.execute(_PG_INSERT, *column_arrays(batch, _COLUMNS))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if not await self.flush():
            log.error("audit.rows_lost", rows=len(self._pending), reason="closing")

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()


class AuditMiddleware:
    """Records every ``/v1`` call (the agent callback receiver excepted)."""

    def __init__(self, app: ASGIApp, writer: AuditWriter) -> None:
        self.app = app
        self.writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not path.startswith("/v1/")
            or path in ("/v1/agent/callbacks", "/v1/agent/reports")
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        location = ""

        async def sending(message: Message) -> None:
            nonlocal status, location
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for key, value in message.get("headers", ()):
                    if key.lower() == b"location":
                        location = value.decode()
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.writer.record(self._row(scope, status, location, started))

    def _row(self, scope: Scope, status: int, location: str, started: float) -> dict[str, Any]:
        state = scope.get("state") or {}
        caller = state.get("caller")
        route = scope.get("route")
        action = getattr(route, "operation_id", None) or f"{scope['method']} {scope['path']}"
        params = scope.get("path_params") or {}
        client = scope.get("client")
        return {
            "at": datetime.now(UTC),
            "account_uuid": caller.accountUuid if isinstance(caller, CallerContext) else None,
            "user_uuid": caller.userUuid if isinstance(caller, CallerContext) else None,
            "action": action[:128],
            "resource_uuid": params.get("uuid") or state.get("resource_uuid"),
            "method": scope["method"][:8],
            "path": scope["path"][:512],
            "status": status,
            "duration_ms": int((time.perf_counter() - started) * 1000),
            "source_ip": (client[0] if client else "")[:64],
            "job_uuid": location.rsplit("/", 1)[-1] if "/api-jobs/" in location else None,
        }


class AuditInventory(BaseModel):
    id: int = Field(description="Sequence number.")
    at: datetime = Field(description="When the call was answered.")
    accountUuid: str | None = Field(description="Who called (account).")
    userUuid: str | None = Field(description="Who called (user, if any).")
    action: str = Field(description="The API, e.g. CreateZone.")
    resourceUuid: str | None = Field(description="The resource it named, if any.")
    method: str = Field(description="HTTP method.")
    path: str = Field(description="HTTP path.")
    status: int = Field(description="HTTP status answered.")
    durationMs: int = Field(description="How long it took.")
    sourceIp: str = Field(description="Client address.")
    jobUuid: str | None = Field(description="The API job, for writes.")


def audit_readable() -> ReadableResource:
    query = QueryableResource(
        "Audit",
        AuditRow,
        AuditRow.id,
        {
            "uuid": AuditRow.id,
            "id": AuditRow.id,
            "at": AuditRow.at,
            "accountUuid": AuditRow.account_uuid,
            "userUuid": AuditRow.user_uuid,
            "action": AuditRow.action,
            "resourceUuid": AuditRow.resource_uuid,
            "method": AuditRow.method,
            "path": AuditRow.path,
            "status": AuditRow.status,
            "durationMs": AuditRow.duration_ms,
            "sourceIp": AuditRow.source_ip,
            "jobUuid": AuditRow.job_uuid,
        },
        owner=AuditRow.account_uuid,
    )

    def inventory(row: AuditRow) -> BaseModel:
        return AuditInventory(
            id=row.id,
            at=row.at,
            accountUuid=row.account_uuid,
            userUuid=row.user_uuid,
            action=row.action,
            resourceUuid=row.resource_uuid,
            method=row.method,
            path=row.path,
            status=row.status,
            durationMs=row.duration_ms,
            sourceIp=row.source_ip,
            jobUuid=row.job_uuid,
        )

    return ReadableResource(query, "audits", plain(inventory), AuditInventory, admin_only=True)


#: the audit log's reads, as a module of the composition root
MODULE = ServiceModule("audit", reads=lambda parts: [audit_readable()])
