"""``ServiceModule``: everything one service brings to a process, in one value.

The composition root (``mgmt/app.py``) lists modules once; from them it derives the API
messages, resource types (with their reads, queries and cascades), handlers, flows,
plugins, partition listeners, global configs, system tag patterns, quotas and the HTTP
statuses of error codes. A module's factories receive ``NodeParts``: the node's shared
parts, all built before any factory runs, so the order modules are wired in cannot matter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import httpx

from mgmt.core.agenttasks import AgentClient, AgentTaskService
from mgmt.core.api import ApiRequest
from mgmt.core.api.reads import CollectionRead, Owners, ReadableResource, ResourceRead
from mgmt.core.bus import Bus
from mgmt.core.bus.dispatch import Handler
from mgmt.core.cascade import CascadeCtx, CascadeDeleter
from mgmt.core.counters import CounterService
from mgmt.core.db import Database
from mgmt.core.flow import FlowDef, FlowEngine
from mgmt.core.gconfig import GlobalConfigDef, GlobalConfigService
from mgmt.core.messages import Message
from mgmt.core.node import PartitionListener
from mgmt.core.plugins import Plugin, PluginRegistry
from mgmt.core.resource.declaration import ResourceType, ResourceTypes
from mgmt.core.resource.handlers import ResourceHandlers
from mgmt.core.service import Service
from mgmt.core.states import StatefulRunner
from mgmt.core.tags import SystemTag, TagService
from mgmt.settings import Settings

MasterKey = Callable[[], Awaitable[bytes]]


@runtime_checkable
class Stoppable(Protocol):
    """A partition listener with work of its own to stop (a tracker's loop)."""

    async def stop(self) -> None: ...


class Runner(Protocol):
    """Something a node runs beside its partitions (started after them, stopped first)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class NodeParts:
    """What a management node shares with its services."""

    settings: Settings
    db: Database
    bus: Bus
    http: httpx.AsyncClient
    engine: FlowEngine
    cascade: FlowDef[CascadeCtx]
    states: StatefulRunner
    counters: CounterService
    tags: TagService
    gconfig: GlobalConfigService
    tasks: AgentTaskService
    agents: AgentClient
    master_key: MasterKey
    types: ResourceTypes
    owners: Owners
    quotas: Mapping[str, int]
    #: every plugin, registered: a service picks its strategies here (hypervisor backends)
    plugins: PluginRegistry

    @property
    def deleter(self) -> CascadeDeleter:
        return CascadeDeleter(self.engine, self.cascade)

    def resource(self, name: str) -> ResourceHandlers[Any, Any]:
        """The default handlers of a declared type (a service's own handlers build on them)."""
        return ResourceHandlers(self.db, self.types.types[name], self.types, self.deleter)


@dataclass(frozen=True)
class BaseParts:
    """What a module's extra reads get, in a node or a frontend."""

    db: Database
    tags: TagService


@dataclass(frozen=True)
class ReadParts(BaseParts):
    """What a module's collection reads get, in a node or a frontend: the global configs
    (read from the process's cache), the declared resource types (their tables) and the
    registry of the plugins both kinds of process register (``read_plugins``)."""

    gconfig: GlobalConfigService
    types: ResourceTypes
    plugins: PluginRegistry


@dataclass(frozen=True)
class PluginParts(BaseParts):
    """What a module's in-tree plugins get (built before the flow engine they may extend)."""

    agents: AgentClient
    #: the registry the plugins are being registered in: look strategies up when called
    #: (every plugin is registered before the node starts), never while being built
    plugins: PluginRegistry
    #: ``ZCLOUD_TEST_HOOKS``: register the test-only fault hooks
    test_hooks: bool = False
    #: the node's bus (a plugin publishing events, e.g. the VM service's connect step)
    bus: Bus | None = None


def _none(_: Any) -> Sequence[Any]:
    return ()


@dataclass(frozen=True)
class ServiceModule:
    """One service. Every field but ``name`` is optional.

    - ``apis``: its API messages (the REST API is derived from them);
    - ``resources``: its resource types; create/update/delete APIs of a declared type get
      the kit's default handlers unless ``service`` handles them;
    - ``service``: builds the object whose ``handlers()`` serve its messages (and its
      ``flows()`` and ``stateful_operations()``, if it has them);
    - ``flows``, ``listeners``: durable flows and partition listeners (trackers);
    - ``runners``: what else the node runs for it (event consumers);
    - ``plugins``: in-tree plugins, built before the flow engine (they may extend it);
    - ``read_plugins``: in-tree plugins that only read (host filters, allocation
      strategies), registered by nodes and by frontends alike (a frontend's collection
      reads run them); built from ``BaseParts``;
    - ``collection_reads``: reads about a collection that are not queries of it
      (``GET /v1/vm-instances/candidates``; ``CollectionRead``), built from ``ReadParts``;
    - ``reads``: readable collections that are not declared resource types;
    - ``resource_reads``: reads about one resource besides its inventory
      (``GET /v1/l3-networks/{uuid}/ip-capacity``; ``ResourceRead``);
    - ``global_configs``, ``tag_patterns``, ``quotas``, ``error_statuses``: its settings,
      system tags, quota defaults (besides its types' own) and error code → HTTP status.
    """

    name: str
    apis: tuple[type[ApiRequest[Any]], ...] = ()
    resources: tuple[ResourceType[Any, Any], ...] = ()
    service: Callable[[NodeParts], Service] | None = None
    flows: Callable[[NodeParts], Sequence[FlowDef[Any]]] = _none
    listeners: Callable[[NodeParts], Sequence[PartitionListener]] = _none
    runners: Callable[[NodeParts], Sequence[Runner]] = _none
    plugins: Callable[[PluginParts], Sequence[Plugin]] = _none
    read_plugins: Callable[[BaseParts], Sequence[Plugin]] = _none
    collection_reads: Callable[[ReadParts], Sequence[CollectionRead]] = _none
    reads: Callable[[BaseParts], Sequence[ReadableResource]] = _none
    resource_reads: tuple[ResourceRead, ...] = ()
    global_configs: tuple[GlobalConfigDef[Any], ...] = ()
    tag_patterns: tuple[SystemTag, ...] = ()
    quotas: Mapping[str, int] = field(default_factory=dict)
    error_statuses: Mapping[str, int] = field(default_factory=dict)

    def handlers(self, parts: NodeParts, service: Service | None) -> dict[type[Message], Handler]:
        """The kit's defaults for its types, then the service's own (which win)."""
        out: dict[type[Message], Handler] = {}
        for t in self.resources:
            out.update(parts.resource(t.name).handlers(self.apis))
        if service is not None:
            out.update(service.handlers())
        return out


@dataclass(frozen=True)
class Modules:
    """The modules of a process and what they declare together."""

    modules: tuple[ServiceModule, ...]

    def __post_init__(self) -> None:
        names = [m.name for m in self.modules]
        if len(set(names)) != len(names):
            raise ValueError(f"a service module is listed twice: {names}")

    @property
    def apis(self) -> tuple[type[ApiRequest[Any]], ...]:
        return tuple(a for m in self.modules for a in m.apis)

    def types(self) -> ResourceTypes:
        return ResourceTypes(t for m in self.modules for t in m.resources)

    @property
    def resource_reads(self) -> tuple[ResourceRead, ...]:
        return tuple(r for m in self.modules for r in m.resource_reads)

    @property
    def global_configs(self) -> tuple[GlobalConfigDef[Any], ...]:
        return tuple(c for m in self.modules for c in m.global_configs)

    @property
    def tag_patterns(self) -> tuple[SystemTag, ...]:
        return tuple(t for m in self.modules for t in m.tag_patterns)

    def quotas(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for m in self.modules:
            declared = {t.quota.name: t.quota.default for t in m.resources if t.quota}
            for name, default in {**declared, **m.quotas}.items():
                if out.setdefault(name, default) != default:
                    raise ValueError(f"quota {name!r} declared twice with other defaults")
        return out

    def error_statuses(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for m in self.modules:
            for code, status in m.error_statuses.items():
                if out.setdefault(code, status) != status:
                    raise ValueError(f"error code {code} given two HTTP statuses")
        return out

    def read_plugins(self, parts: BaseParts) -> list[Plugin]:
        return [p for m in self.modules for p in m.read_plugins(parts)]

    def collection_reads(self, parts: ReadParts) -> list[CollectionRead]:
        return [r for m in self.modules for r in m.collection_reads(parts)]

    def readables(self, parts: BaseParts) -> list[ReadableResource]:
        extra = [r for m in self.modules for r in m.reads(parts)]
        return [*self.types().readables(), *extra]
