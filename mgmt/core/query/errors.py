"""The query error catalogue and ``QueryError``, raised by every layer of ``mgmt.core.query``.

The REST and ZQL front ends turn a ``QueryError`` into a 400 naming the offending token;
nothing a client sends should surface as any other exception.
"""

from __future__ import annotations

from typing import Any

from mgmt.core.errors import PermanentError, error

_SHOWN = 60  # longest token quoted back in a message; the rest is elided


class QueryCodes:
    """Codes of the query service."""

    INVALID_QUERY = ("QUERY.1001", "Invalid query")


def shown(token: str) -> str:
    """``token`` cut to a length fit for an error message."""
    return token if len(token) <= _SHOWN else token[: _SHOWN - 3] + "..."


class QueryError(PermanentError):
    """The query cannot be run as written; ``details`` says why, ``extra["token"]`` names
    the offending token (field, operator, value, resource or ZQL text)."""

    def __init__(self, details: str, *, token: str, **extra: Any) -> None:
        super().__init__(error(QueryCodes.INVALID_QUERY, details, token=shown(token), **extra))
        self.token = token
