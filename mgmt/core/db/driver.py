"""The asyncpg connection under a SQLAlchemy one, for the few statements the statement
layer is too slow for (group-committed inserts, the read by key), and the many-row insert
those use: one array per column, unnested into rows.

Errors raised there are asyncpg's own, which SQLAlchemy never sees: a connection found gone
(closed, reset mid-operation, the server shutting down or starting) is dropped from the
pool here, as SQLAlchemy does on a disconnect, and reported as a ``TemporaryError``
(``SYS.1007``), so callers retry it like any transient database error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import FromClause, String, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

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


def unnest_insert(
    table: FromClause,
    columns: Sequence[str],
    *,
    skip_conflicts_on: str | None = None,
    returning: str | None = None,
) -> str:
    """``INSERT INTO table (columns) SELECT * FROM unnest($1::type[], …)`` for PostgreSQL;
    the array types come from the table's own columns (strings as ``text``, so a value too
    long for its column is an error, not cut short by the cast)."""
    assert isinstance(table, Table)
    dialect: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    quote = dialect.identifier_preparer.quote
    arrays = ", ".join(
        f"${i}::{_array_of(table.c[name].type, dialect)}[]" for i, name in enumerate(columns, 1)
    )
    sql = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(c) for c in columns)}) SELECT * FROM unnest({arrays})"
    )
    if skip_conflicts_on is not None:
        sql += f" ON CONFLICT ({quote(skip_conflicts_on)}) DO NOTHING"
    if returning is not None:
        sql += f" RETURNING {quote(returning)}"
    return sql


def _array_of(column_type: TypeEngine[Any], dialect: Dialect) -> str:
    if isinstance(column_type, String):
        return "text"
    return column_type.compile(dialect=dialect)


def column_arrays(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[list[Any]]:
    """The parameters of an ``unnest_insert``: one list per column."""
    return [[row[c] for row in rows] for c in columns]
