"""One query condition, and the parser of the REST form (one ``q=`` value each).

Called by the API frontend for every ``q=`` parameter; ZQL produces the same ``Condition``
values from its own syntax. Values stay strings here: they are converted to the column's
type when the query is built, where the column is known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from mgmt.core.query.errors import QueryError, shown

SYSTEM_TAG = "__systemTag__"
USER_TAG = "__userTag__"
TAG_FIELDS = (SYSTEM_TAG, USER_TAG)
MAX_PATH_DEPTH = 8  # relations a path may walk; deeper is refused rather than nested on

_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NULL_FORM = re.compile(r"\s*([A-Za-z0-9_.]+)\s+(is|not)\s+null\s*", re.IGNORECASE)
_FIELD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")


class Op(Enum):
    """A comparison; the value is the REST spelling."""

    EQ = "="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    IN = "?="
    NOT_IN = "!?="
    LIKE = "~="
    NOT_LIKE = "!~="
    IS_NULL = "is null"
    NOT_NULL = "not null"

    @property
    def negative(self) -> bool:
        return self in _NEGATIVE

    @property
    def positive(self) -> Op:
        """The operator this one negates (itself when not negative)."""
        return _POSITIVE.get(self, self)


_NEGATIVE = frozenset({Op.NE, Op.NOT_IN, Op.NOT_LIKE, Op.NOT_NULL})
_POSITIVE = {Op.NE: Op.EQ, Op.NOT_IN: Op.IN, Op.NOT_LIKE: Op.LIKE, Op.NOT_NULL: Op.IS_NULL}
# longest first, so ``!?=`` is not read as ``!`` and ``>=`` not as ``>``
_REST_OPS = sorted((op for op in Op if " " not in op.value), key=lambda o: -len(o.value))


@dataclass(frozen=True)
class Condition:
    """``path op value``: ``path`` is field names walked through relations, the last one a
    field (or ``__systemTag__`` / ``__userTag__``); ``value`` is a string, a tuple of strings
    for ``IN`` / ``NOT_IN``, ``None`` for the null tests."""

    path: tuple[str, ...]
    op: Op
    value: str | tuple[str, ...] | None = None

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def parse_path(text: str) -> tuple[str, ...]:
    """``vmNics.l3Network.name`` as its segments; a malformed path is a ``QueryError``."""
    segments = tuple(text.split("."))
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            raise QueryError(f"invalid field path {shown(text)!r}", token=text)
    if len(segments) > MAX_PATH_DEPTH + 1:
        raise QueryError(
            f"field path {shown(text)!r} walks more than {MAX_PATH_DEPTH} relations", token=text
        )
    return segments


def parse_condition(text: str) -> Condition:
    """Parse one ``q=`` value: ``field<op>value`` or ``field is null`` / ``field not null``.

    The field is everything left of the first operator, so the value may itself hold
    operator characters (``name=a=b`` compares with ``a=b``). ``?=`` and ``!?=`` take a comma
    list. The value is kept verbatim, spaces included.
    """
    null_form = _NULL_FORM.fullmatch(text)
    if null_form is not None:
        op = Op.IS_NULL if null_form.group(2).lower() == "is" else Op.NOT_NULL
        return Condition(parse_path(null_form.group(1)), op)
    end = 0
    while end < len(text) and text[end] in _FIELD_CHARS:
        end += 1
    field = text[:end]
    at = end
    while at < len(text) and text[at].isspace():
        at += 1
    if not field.strip():
        raise QueryError(f"condition {shown(text)!r} names no field", token=text)
    if at == len(text):
        raise QueryError(f"condition {shown(text)!r} has no operator", token=text)
    for op in _REST_OPS:
        if text.startswith(op.value, at):
            value = text[at + len(op.value) :]
            if op in (Op.IN, Op.NOT_IN):
                return Condition(parse_path(field), op, tuple(value.split(",")))
            return Condition(parse_path(field), op, value)
    token = _operator_token(text, at)
    raise QueryError(f"unknown operator {shown(token)!r} in {shown(text)!r}", token=token)


def _operator_token(text: str, at: int) -> str:
    end = at
    while end < len(text) and not text[end].isalnum() and not text[end].isspace():
        end += 1
    return text[at : max(end, at + 1)]
