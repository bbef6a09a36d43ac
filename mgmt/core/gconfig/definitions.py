"""Typed global config definitions and the registry the composition root fills.

A service declares its settings as module constants, e.g.::

    EXPUNGE_PERIOD = GlobalConfigDef(
        category="vm", name="expungePeriod", type=int, default=3600,
        description="Seconds a destroyed VM is kept before it is expunged.", ge=0,
    )

and the composition root adds them to one ``GlobalConfigRegistry`` handed to
``GlobalConfigService``. A definition checks its own default when it is built, so a bad
declaration fails at import, not at the first update.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from pydantic import JsonValue, TypeAdapter, ValidationError

from mgmt.core.errors import PermanentError, error
from mgmt.core.gconfig.errors import GConfCodes

T = TypeVar("T")

CATEGORY_MAX = 64
NAME_MAX = 128


@dataclass(frozen=True, eq=False)
class GlobalConfigDef(Generic[T]):
    """One named, typed setting with a default.

    ``type`` is a Python type (``int``, ``bool``, ``float``, ``str``, ``Literal[...]`` through a
    ``TypeAdapter``, an enum, a pydantic model ...). Values are validated in pydantic's strict
    JSON mode, then against ``ge`` / ``le`` (numbers), ``choices`` and ``validator`` (a
    callable raising ``ValueError`` with the reason). Definitions compare by identity.
    """

    category: str
    name: str
    type: type[T] | TypeAdapter[T]
    default: T
    description: str
    ge: float | None = None
    le: float | None = None
    choices: tuple[T, ...] | None = None
    validator: Callable[[T], None] | None = None
    _adapter: TypeAdapter[T] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.category or len(self.category) > CATEGORY_MAX or "." in self.category:
            raise ValueError(
                f"config category {self.category!r} must be 1-{CATEGORY_MAX} chars, no '.'"
            )
        if not self.name or len(self.name) > NAME_MAX:
            raise ValueError(f"config name {self.name!r} must be 1-{NAME_MAX} chars")
        if self.ge is not None and self.le is not None and self.ge > self.le:
            raise ValueError(f"{self.identity}: ge={self.ge} is above le={self.le}")
        if self.choices is not None and not self.choices:
            raise ValueError(f"{self.identity}: choices must not be empty")
        adapter = self.type if isinstance(self.type, TypeAdapter) else TypeAdapter(self.type)
        object.__setattr__(self, "_adapter", adapter)
        try:  # the default must survive the same path as any stored value
            self.parse(json.loads(self.dump(self.default)))
        except (PermanentError, ValueError, TypeError) as exc:
            raise ValueError(f"{self.identity}: invalid default {self.default!r}: {exc}") from exc

    @property
    def identity(self) -> str:
        """``"category.name"``: how logs, errors and events name this config."""
        return f"{self.category}.{self.name}"

    def parse(self, raw: JsonValue) -> T:
        """The typed value of ``raw``: JSON text, a plain string (``fast`` for a ``str``
        config) or an already decoded JSON value. Raises ``PermanentError`` ``GCONF.1001``
        naming this config and why the value is refused."""
        if isinstance(raw, str):
            value = self._parse_text(raw)
        else:
            try:
                text = json.dumps(raw, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise self._invalid(raw, f"not a JSON value: {exc}") from None
            value = self._validate_json(raw, text)
        self._check(raw, value)
        return value

    def dump(self, value: T) -> str:
        """``value`` as JSON text (what the database and events hold)."""
        return self._adapter.dump_json(value).decode()

    def _parse_text(self, raw: str) -> T:
        try:
            return self._adapter.validate_json(raw, strict=True)
        except ValidationError as as_json:
            try:
                json.loads(raw)
                is_json = True
            except ValueError:
                is_json = False
            try:  # not valid for the type as JSON: maybe a plain string
                return self._adapter.validate_json(json.dumps(raw), strict=True)
            except ValidationError as as_string:
                # explain the reading the caller most likely meant
                raise self._invalid(raw, _reason(as_json if is_json else as_string)) from None

    def _validate_json(self, raw: JsonValue, text: str) -> T:
        try:
            return self._adapter.validate_json(text, strict=True)
        except ValidationError as exc:
            raise self._invalid(raw, _reason(exc)) from None

    def _check(self, raw: JsonValue, value: T) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            raise self._invalid(raw, "must be a finite number")
        if self.ge is not None or self.le is not None:
            number = cast(Any, value)
            if not isinstance(number, int | float):
                raise self._invalid(raw, "bounds apply to numbers only")
            if self.ge is not None and not number >= self.ge:
                raise self._invalid(raw, f"must be >= {self.ge:g}")
            if self.le is not None and not number <= self.le:
                raise self._invalid(raw, f"must be <= {self.le:g}")
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            raise self._invalid(raw, f"must be one of {allowed}")
        if self.validator is not None:
            try:
                self.validator(value)
            except ValueError as exc:
                raise self._invalid(raw, str(exc)) from None

    def _invalid(self, raw: object, reason: str) -> PermanentError:
        shown = repr(raw)
        if len(shown) > 200:
            shown = shown[:200] + "..."
        return PermanentError(
            error(
                GConfCodes.INVALID_VALUE,
                f"{self.identity}: {shown} refused: {reason}",
                category=self.category,
                name=self.name,
                reason=reason,
            )
        )


def _reason(exc: ValidationError) -> str:
    return "; ".join(e["msg"] for e in exc.errors(include_url=False)) or str(exc)


def unknown_config(category: str, name: str, why: str = "no such config") -> PermanentError:
    """The ``GCONF.1002`` error for a config nobody registered."""
    return PermanentError(
        error(
            GConfCodes.UNKNOWN_CONFIG,
            f"{category}.{name}: {why}",
            category=category,
            name=name,
        )
    )


class GlobalConfigRegistry:
    """Every config definition of the process, added explicitly by the composition root."""

    def __init__(self, defs: Iterable[GlobalConfigDef[Any]] = ()) -> None:
        self._defs: dict[tuple[str, str], GlobalConfigDef[Any]] = {}
        for defn in defs:
            self.add(defn)

    def add(self, defn: GlobalConfigDef[Any]) -> None:
        """Register ``defn``; a second definition with the same identity is a ``ValueError``."""
        key = (defn.category, defn.name)
        if key in self._defs:
            raise ValueError(f"global config {defn.identity!r} is defined twice")
        self._defs[key] = defn

    def get(self, category: str, name: str) -> GlobalConfigDef[Any] | None:
        return self._defs.get((category, name))

    def require(self, category: str, name: str) -> GlobalConfigDef[Any]:
        """Like ``get``, but an unknown config is a ``PermanentError`` ``GCONF.1002``."""
        defn = self._defs.get((category, name))
        if defn is None:
            raise unknown_config(category, name)
        return defn

    def all(self) -> list[GlobalConfigDef[Any]]:
        """Every definition, in ``(category, name)`` order."""
        return [self._defs[key] for key in sorted(self._defs)]

    def __contains__(self, defn: object) -> bool:
        return (
            isinstance(defn, GlobalConfigDef) and self._defs.get((defn.category, defn.name)) is defn
        )

    def __len__(self) -> int:
        return len(self._defs)
