"""Condition values (strings) converted to a column's Python type before they are bound.

Called by the builder for every compared value. A value that does not fit the column is a
``QueryError`` naming the field and the value, never a database error later.
"""

from __future__ import annotations

import enum
import math
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, DateTime
from sqlalchemy.types import TypeDecorator, TypeEngine

from mgmt.core.query.errors import QueryError, shown

_INT = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1  # what every backend's BIGINT holds
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def python_type(column: ColumnElement[Any]) -> type:
    """The Python type a column's values have; ``str`` when the type does not say."""
    column_type = column.type
    try:
        found: type = column_type.python_type
        if found is object and isinstance(column_type, TypeDecorator):
            found = column_type.impl_instance.python_type  # a decorator may not say; its impl does
    except NotImplementedError:
        return str
    return found


def is_text(column: ColumnElement[Any]) -> bool:
    return python_type(column) is str


def convert(column: ColumnElement[Any], field: str, value: str) -> Any:
    """``value`` as the Python type of ``column``; ``QueryError`` when it cannot be."""
    if "\x00" in value:  # PostgreSQL refuses NUL in text; refuse it for every backend
        raise _bad(field, value, "a value without NUL characters")
    kind = python_type(column)
    if kind is str:
        return value
    if kind is bool:
        lowered = value.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise _bad(field, value, "true or false")
    if kind is int:
        # length first: int() of thousands of digits is slow, then refused by Python itself
        if len(value) > 20 or not _INT.fullmatch(value) or not _INT_MIN <= int(value) <= _INT_MAX:
            raise _bad(field, value, "an integer")
        return int(value)
    if kind is float:
        if not _NUMBER.fullmatch(value) or not math.isfinite(float(value)):
            raise _bad(field, value, "a number")
        return float(value)
    if kind is Decimal:
        if len(value) > 64 or not _NUMBER.fullmatch(value):
            raise _bad(field, value, "a number")
        try:
            return Decimal(value)
        except InvalidOperation:
            raise _bad(field, value, "a number") from None
    if kind is datetime:
        return _datetime(column.type, field, value)
    if kind is date:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise _bad(field, value, "an ISO 8601 date") from None
    if kind is uuid.UUID:
        try:
            return uuid.UUID(value)
        except ValueError:
            raise _bad(field, value, "a UUID") from None
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return _enum(kind, field, value)
    raise _bad(field, value, f"a value of a type queries cannot compare ({kind.__name__})")


def _datetime(column_type: TypeEngine[Any], field: str, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
        # naive input means UTC; stored as aware UTC or as naive UTC, as the column keeps it
        parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # overflow: a zone shift past year 1 or 9999
        raise _bad(field, value, "an ISO 8601 date and time") from None
    return parsed if _aware(column_type) else parsed.replace(tzinfo=None)


def _aware(column_type: TypeEngine[Any]) -> bool:
    impl = column_type.impl if isinstance(column_type, TypeDecorator) else column_type
    return bool(impl.timezone) if isinstance(impl, DateTime) else True


def _enum(kind: type[enum.Enum], field: str, value: str) -> enum.Enum:
    for member in kind:
        if value in (member.name, str(member.value)):
            return member
    raise _bad(field, value, "one of " + ", ".join(m.name for m in kind))


def _bad(field: str, value: str, expected: str) -> QueryError:
    return QueryError(
        f"invalid value {shown(value)!r} for field {field!r}: expected {expected}",
        token=value,
        field=field,
    )
