"""Plugins: implementations of extension points, registered explicitly at start-up.

An extension point is a ``typing.Protocol`` owned by the service that calls it, declared
once as an ``ExtensionPoint`` with its kind:

* **strategy** — one implementation per type, picked by the caller (hypervisor ``KVM`` /
  ``VMware`` / ``Simulator``); two plugins claiming one type fail start-up;
* **observer** — every implementation is called, in registration order.

A plugin is an object that says which points it implements (``extensions()``). In-tree
plugins are listed in the composition root (``mgmt.app``); external ones come from the
entry-point group ``zcloud.plugins`` (each entry point names a zero-argument factory).
Nothing registers itself at import time. Start-up fails with the plugin and point named when
a plugin claims a point it does not implement.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.metadata import entry_points
from typing import Any, Generic, Protocol, TypeVar, cast

from mgmt.core.logging import get_logger

log = get_logger(__name__)

P = TypeVar("P")

ENTRY_POINT_GROUP = "zcloud.plugins"


class Kind(StrEnum):
    STRATEGY = "strategy"
    OBSERVER = "observer"


@dataclass(frozen=True, eq=False)
class ExtensionPoint(Generic[P]):
    """A named extension point: ``protocol`` is the contract implementations satisfy."""

    name: str
    #: The ``Protocol`` class (typed ``Any``: mypy refuses abstract classes as ``type[P]``).
    protocol: Any
    kind: Kind
    #: When it is called, in what order, and whether an exception aborts the caller.
    doc: str


@dataclass(frozen=True)
class Extension:
    """One claim of a plugin: it implements ``point`` with ``impl`` (for ``type`` if the
    point is a strategy)."""

    point: ExtensionPoint[Any]
    impl: object
    type: str | None = None


class Plugin(Protocol):
    name: str

    def extensions(self) -> Sequence[Extension]:
        """What this plugin implements; called once, at registration."""
        ...


class PluginError(Exception):
    """A plugin cannot be loaded or claims what it does not implement."""


def _missing_members(impl: object, protocol: type[Any]) -> list[str]:
    """Protocol members ``impl`` lacks, or has with the wrong sync/async nature."""
    problems: list[str] = []
    for member in sorted(_protocol_members(protocol)):
        wanted = getattr(protocol, member, None)
        have = getattr(impl, member, None)
        if have is None:
            problems.append(f"{member} (missing)")
        elif inspect.iscoroutinefunction(wanted) and not inspect.iscoroutinefunction(have):
            problems.append(f"{member} (must be async)")
        elif callable(wanted) and not callable(have):
            problems.append(f"{member} (not callable)")
    return problems


def _protocol_members(protocol: type[Any]) -> set[str]:
    members: set[str] = set()
    for klass in protocol.__mro__:
        if klass in (object, Protocol, Generic) or not getattr(klass, "_is_protocol", False):
            continue
        members.update(n for n in vars(klass) if not n.startswith("_"))
        members.update(getattr(klass, "__annotations__", {}))
    return members


@dataclass
class PluginRegistry:
    """Which implementations serve which extension points; built once per process."""

    points: Sequence[ExtensionPoint[Any]]
    _strategies: dict[str, dict[str, tuple[str, object]]] = field(default_factory=dict)
    _observers: dict[str, list[tuple[str, object]]] = field(default_factory=dict)
    plugins: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        names = [p.name for p in self.points]
        if len(set(names)) != len(names):
            raise PluginError(f"two extension points share a name: {sorted(names)}")

    def register(self, plugin: Plugin) -> None:
        known = {id(p) for p in self.points}
        if plugin.name in self.plugins:
            raise PluginError(f"plugin {plugin.name!r} is registered twice")
        claims = list(plugin.extensions())
        for ext in claims:  # check everything before changing anything
            self._check(plugin.name, ext, known)
        for ext in claims:
            if ext.point.kind == Kind.STRATEGY:
                assert ext.type is not None
                self._strategies.setdefault(ext.point.name, {})[ext.type] = (plugin.name, ext.impl)
            else:
                self._observers.setdefault(ext.point.name, []).append((plugin.name, ext.impl))
        self.plugins.append(plugin.name)
        log.info("plugin.registered", plugin=plugin.name, extensions=len(claims))

    def _check(self, plugin: str, ext: Extension, known: set[int]) -> None:
        point = ext.point
        if id(point) not in known:
            raise PluginError(f"plugin {plugin!r} claims unknown extension point {point.name!r}")
        problems = _missing_members(ext.impl, point.protocol)
        if problems:
            raise PluginError(
                f"plugin {plugin!r} claims extension point {point.name!r} but "
                f"{type(ext.impl).__name__} does not implement {point.protocol.__name__}: "
                + ", ".join(problems)
            )
        if point.kind == Kind.STRATEGY:
            if not ext.type:
                raise PluginError(
                    f"plugin {plugin!r}: strategy point {point.name!r} needs a type to serve"
                )
            taken = self._strategies.get(point.name, {}).get(ext.type)
            if taken is not None:
                raise PluginError(
                    f"plugins {taken[0]!r} and {plugin!r} both claim type {ext.type!r} "
                    f"of strategy point {point.name!r}"
                )

    def strategy(self, point: ExtensionPoint[P], type_: str) -> P:
        found = self._strategies.get(point.name, {}).get(type_)
        if found is None:
            known = sorted(self._strategies.get(point.name, {}))
            raise LookupError(f"no {point.name} strategy for type {type_!r} (known: {known})")
        return cast(P, found[1])

    def strategy_types(self, point: ExtensionPoint[Any]) -> list[str]:
        return sorted(self._strategies.get(point.name, {}))

    def claimants(self, point: ExtensionPoint[Any]) -> list[str]:
        """The names of the plugins implementing ``point``, in registration order."""
        if point.kind == Kind.STRATEGY:
            return [name for name, _ in self._strategies.get(point.name, {}).values()]
        return [name for name, _ in self._observers.get(point.name, [])]

    def observers(self, point: ExtensionPoint[P]) -> list[P]:
        return [cast(P, impl) for _, impl in self._observers.get(point.name, [])]


def load_external(
    group: str = ENTRY_POINT_GROUP,
    *,
    discover: Callable[[str], Iterable[Any]] | None = None,
) -> list[Plugin]:
    """Instantiate the plugins installed under the entry-point group (each entry point
    names a zero-argument factory). A plugin that fails to load fails start-up, named."""
    found = discover(group) if discover else entry_points(group=group)
    plugins: list[Plugin] = []
    for ep in found:
        try:
            factory = ep.load()
            plugin = factory()
        except Exception as exc:
            raise PluginError(
                f"external plugin {ep.name!r} ({ep.value}) failed to load: {exc}"
            ) from exc
        if not isinstance(getattr(plugin, "name", None), str) or not callable(
            getattr(plugin, "extensions", None)
        ):
            raise PluginError(
                f"external plugin {ep.name!r} ({ep.value}) is not a plugin: it needs a "
                "`name` and an `extensions()` method"
            )
        plugins.append(cast(Plugin, plugin))
    return plugins
