"""The asyncpg connection under a SQLAlchemy one, for the few statements the statement
layer is too slow for (group-committed inserts, the read by key).

Errors raised there are asyncpg's own, which SQLAlchemy never sees: a connection found gone
(closed, reset mid-operation, the server shutting down or starting) is dropped from the
pool here, as SQLAlchemy does on a disconnect, and reported as a ``TemporaryError``
(``SYS.1007``), so callers retry it like any transient database error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from mgmt.core.errors import Codes, TemporaryError, error

CONNECTION_GONE = (
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    OSError,
)


@asynccontextmanager
async def driver_connection(conn: AsyncConnection) -> AsyncIterator[asyncpg.Connection]:
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    try:
        yield raw
    except CONNECTION_GONE as exc:
        await conn.invalidate(exc)
        raise TemporaryError(error(Codes.UNAVAILABLE, f"database: {exc}")) from exc
