"""System tag patterns: ``SystemTag("staticIp::{l3Uuid}::{ip}", ...)`` and token validators.

A pattern is ``::``-separated segments, each a literal or a whole ``{token}``; every token has
a validator. Services declare their patterns as module constants and hand them to the
composition root's ``TagRegistry``; interpreting points read tags through ``TagService``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from ipaddress import IPv4Address
from typing import Any, TypeAlias

from pydantic import TypeAdapter, ValidationError

from mgmt.core.errors import PermanentError, error
from mgmt.core.tags.errors import TagCodes

SEPARATOR = "::"
MASK = "***"

#: Checks one token value: a callable returning the converted value or raising ``ValueError``
#: (pydantic's ``ValidationError`` is one), or a ``TypeAdapter`` validating the string.
TokenValidator: TypeAlias = TypeAdapter[Any] | Callable[[str], object]

_TOKEN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SIZE = re.compile(r"(\d+)([KMGTP]?)B?", re.IGNORECASE)
_SIZE_UNITS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}
_UUID = re.compile(r"[0-9a-f]{8}(-?)(?:[0-9a-f]{4}\1){3}[0-9a-f]{12}", re.IGNORECASE)
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def parse_size(text: str) -> int:
    """Bytes in ``512``, ``512M``, ``2G``, ``1TB`` (binary units, case-insensitive)."""
    found = _SIZE.fullmatch(text)
    if found is None:
        raise ValueError("not a size: digits and an optional unit K, M, G, T or P")
    return int(found[1]) << (10 * _SIZE_UNITS[found[2].upper()])


def check_hostname(text: str) -> str:
    """An RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens."""
    if not text or len(text) > 253 or not all(_LABEL.fullmatch(p) for p in text.split(".")):
        raise ValueError("not an RFC 1123 host name")
    return text


def check_uuid(text: str) -> str:
    """A UUID: 32 hex digits, with or without the four dashes."""
    if not _UUID.fullmatch(text):
        raise ValueError("not a UUID")
    return str(uuid.UUID(text))


def any_text(text: str) -> str:
    """Any value (non-empty and without ``::``, as every token value)."""
    return text


UuidToken: TokenValidator = check_uuid
Ipv4Token: TokenValidator = TypeAdapter(IPv4Address)
SizeToken: TokenValidator = parse_size
HostnameToken: TokenValidator = check_hostname
TextToken: TokenValidator = any_text


def _validate(validator: TokenValidator, value: str) -> object:
    if isinstance(validator, TypeAdapter):
        return validator.validate_python(value)
    return validator(value)


class SystemTag:
    """A typed system tag pattern; immutable once built.

    ``admin_only``: only admins create or delete it. ``sensitive``: token values are shown
    as ``***`` (``mask``). ``unique``: at most one tag of this pattern per resource.
    """

    __slots__ = (
        "_segments",
        "admin_only",
        "description",
        "pattern",
        "resource_types",
        "sensitive",
        "tokens",
        "unique",
    )

    def __init__(
        self,
        pattern: str,
        *,
        resource_types: tuple[str, ...],
        tokens: Mapping[str, TokenValidator] | None = None,
        admin_only: bool = False,
        sensitive: bool = False,
        unique: bool = False,
        description: str = "",
    ) -> None:
        segments = pattern.split(SEPARATOR)
        names = [m[1] for s in segments if (m := _TOKEN.fullmatch(s))]
        if any(not s or ("{" in s and not _TOKEN.fullmatch(s)) for s in segments):
            raise ValueError(f"{pattern!r}: segments are literals or whole {{tokens}}")
        tokens = dict(tokens or {})
        if len(set(names)) != len(names) or set(names) != set(tokens):
            raise ValueError(f"{pattern!r}: tokens {sorted(tokens)} do not match the pattern")
        if not resource_types:
            raise ValueError(f"{pattern!r}: name the resource types it applies to")
        self.pattern = pattern
        self.resource_types = tuple(resource_types)
        self.tokens: Mapping[str, TokenValidator] = tokens
        self.admin_only = admin_only
        self.sensitive = sensitive
        self.unique = unique
        self.description = description
        # (is_token, literal or token name) per segment
        self._segments = tuple(
            (True, m[1]) if (m := _TOKEN.fullmatch(s)) else (False, s) for s in segments
        )

    def __repr__(self) -> str:
        return f"SystemTag({self.pattern!r})"

    @property
    def literal_count(self) -> int:
        """How many literal segments (the more, the more specific the pattern)."""
        return sum(1 for is_token, _ in self._segments if not is_token)

    @property
    def prefix(self) -> str:
        """The literal text every tag of this pattern starts with (for database filters)."""
        literals: list[str] = []
        for is_token, part in self._segments:
            if is_token:
                return SEPARATOR.join([*literals, ""])
            literals.append(part)
        return SEPARATOR.join(literals)

    def _split(self, text: str) -> list[str] | None:
        # the last segment takes the rest, so "hostname::a::b" matches and then fails parse
        parts = text.split(SEPARATOR, len(self._segments) - 1)
        if len(parts) != len(self._segments):
            return None
        for (is_token, literal), part in zip(self._segments, parts, strict=True):
            if not is_token and part != literal:
                return None
        return parts

    def matches(self, text: str) -> bool:
        """True when the literal parts of ``text`` are this pattern's (tokens unchecked)."""
        return self._split(text) is not None

    def parse(self, text: str) -> dict[str, str]:
        """Token name -> value; ``PermanentError`` TAG.1001 naming a bad token."""
        parts = self._split(text)
        if parts is None:
            raise PermanentError(
                error(TagCodes.INVALID, f"{text!r} is not {self.pattern!r}", tag=self.pattern)
            )
        values = {
            name: part
            for (is_token, name), part in zip(self._segments, parts, strict=True)
            if is_token
        }
        for name, value in values.items():
            self._check(name, value)
        return values

    def format(self, **tokens: str) -> str:
        """The tag text with these token values (each validated)."""
        if set(tokens) != set(self.tokens):
            raise ValueError(f"{self.pattern!r} takes tokens {sorted(self.tokens)}")
        for name, value in tokens.items():
            self._check(name, value)
        return SEPARATOR.join(
            tokens[part] if is_token else part for is_token, part in self._segments
        )

    def token(self, text: str, name: str) -> str:
        """The value of token ``name`` in ``text`` (validated)."""
        if name not in self.tokens:
            raise ValueError(f"{self.pattern!r} has no token {name!r}")
        return self.parse(text)[name]

    def mask(self, text: str) -> str:
        """``text`` as shown to users: token values replaced by ``***`` when sensitive."""
        parts = self._split(text)
        if not self.sensitive or parts is None:
            return text
        return SEPARATOR.join(
            MASK if is_token else part
            for (is_token, _), part in zip(self._segments, parts, strict=True)
        )

    def _check(self, name: str, value: str) -> None:
        shown = MASK if self.sensitive else value
        if not value or SEPARATOR in value:
            reason = f"may not be empty or contain {SEPARATOR!r}"
        else:
            try:
                _validate(self.tokens[name], value)
                return
            except ValidationError as exc:
                reason = "; ".join(e["msg"] for e in exc.errors())
            except (ValueError, TypeError) as exc:
                reason = str(exc) or type(exc).__name__
            if self.sensitive:  # a validator's message may quote the value
                reason = "rejected by its validator"
        raise PermanentError(
            error(
                TagCodes.INVALID,
                f"token {name!r} of {self.pattern!r}: bad value {shown!r}: {reason}",
                tag=self.pattern,
                token=name,
                value=shown,
            )
        )
