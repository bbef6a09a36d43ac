"""The process's database handle: engine, session factory and database time.

PostgreSQL (asyncpg) in a cluster, SQLite (aiosqlite) in the all-in-one. A pooled
connection idle for longer than ``ping_idle`` seconds is pinged when it is checked out, so a
database restarted while the process was quiet costs the next caller a reconnect, not an
error; a connection in steady use is not (a ping per checkout is a round trip per request).
When a statement finds the database gone, the whole pool is invalidated and reconnects.

``autocommit`` (and ``read_session()`` over it) is for single statements: the REST API's
reads and its job inserts. Each statement is its own transaction, so a read or an insert is
one round trip, with no ``BEGIN``/``COMMIT``/``ROLLBACK`` around it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)


class Database:
    """Owns the engine; ``session()`` opens a unit of work."""

    def __init__(
        self, url: str, *, pool_size: int = 20, echo: bool = False, ping_idle: float = 1.0
    ) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self._ping_idle = ping_idle
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "postgresql":
            kwargs.update(
                # a fixed pool: connections past it would be opened and closed per
                # request under load (SCRAM authentication costs milliseconds of CPU)
                pool_size=pool_size,
                max_overflow=0,
                pool_timeout=30,
                connect_args={"timeout": 5, "command_timeout": 30},
            )
        else:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            event.listen(self.engine.sync_engine, "checkout", self._ping_if_idle)
            event.listen(self.engine.sync_engine, "checkin", _note_checkin)
        self.session = async_sessionmaker(self.engine, expire_on_commit=False)
        self.autocommit: AsyncEngine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.read_session = async_sessionmaker(self.autocommit, expire_on_commit=False)

    def _ping_if_idle(self, dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_LAST_CHECKIN)
        if last is not None and time.monotonic() - last < self._ping_idle:
            return
        try:
            self.engine.dialect.do_ping(dbapi_conn)
        except Exception as err:  # the pool drops this connection and takes another
            raise exc.DisconnectionError(f"stale pooled connection: {err}") from err

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    async def now(self) -> datetime:
        """The database's clock (UTC, aware): the time leases are measured in."""
        query = (
            "SELECT clock_timestamp()"
            if self.is_postgres
            else "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"
        )
        async with self.engine.connect() as conn:
            value = (await conn.execute(text(query))).scalar_one()
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()


_LAST_CHECKIN = "zcloud_last_checkin"


def _note_checkin(_dbapi_conn: Any, record: Any) -> None:
    record.info[_LAST_CHECKIN] = time.monotonic()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
