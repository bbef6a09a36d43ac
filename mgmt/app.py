"""Composition root: the explicit list of service modules, and how a process is put together.

Adding a service means adding its ``ServiceModule`` to ``MODULES``; everything else it
brings (API messages, resource types, handlers, flows, plugins, listeners, configs, tag
patterns, quotas, error statuses) comes from the module. Nothing registers itself at import
time. External plugins come from the ``zcloud.plugins`` entry-point group and from
``ZCLOUD_PLUGINS``; a bad one fails start-up with its name.

Wiring order cannot matter: every shared part (``NodeParts``) is built before any module's
factory runs, and handlers, flows and listeners are all registered before the node starts.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy import MetaData

from mgmt.allocator import HOST_FILTERS, HOST_STRATEGIES
from mgmt.allocator.module import MODULE as ALLOCATOR
from mgmt.core import membership as _membership_models  # noqa: F401
from mgmt.core import quota as _quota_models  # noqa: F401
from mgmt.core.agenttasks import AgentClient, AgentTaskService

# The core's own tables, so that Base.metadata is complete wherever this root is imported
# (services' tables come with their modules).
from mgmt.core.agenttasks import models as _agenttask_models  # noqa: F401
from mgmt.core.api import ApiJobInserts, ApiJobService, ApiJobSweeper, ApiRequest
from mgmt.core.api import ApiJobRow as _ApiJobRow  # noqa: F401
from mgmt.core.api.delivery import JobWebhooks
from mgmt.core.api.reads import Owners, ReadableResource
from mgmt.core.bus import Bus, HandlerTable, Transport
from mgmt.core.bus.dispatch import Handler
from mgmt.core.bus.inproc import InprocBroker, InprocTransport
from mgmt.core.bus.rabbit import RabbitTransport
from mgmt.core.cascade import (
    CASCADE_OBSERVERS,
    CASCADE_RELEASES,
    CASCADE_RESOURCES,
    CascadeGraph,
    cascade_flow,
)
from mgmt.core.counters import (
    COUNTER_SOURCES,
    CounterMetrics,
    CounterService,
    CounterSources,
)
from mgmt.core.counters import models as _counter_models  # noqa: F401
from mgmt.core.db import Base, Database
from mgmt.core.db import dedupe as _dedupe_models  # noqa: F401
from mgmt.core.flow import (
    DbFlowStore,
    FlowDef,
    FlowEngine,
    FlowMetrics,
    FlowRecovery,
    FlowRegistry,
    GarbageCollector,
)
from mgmt.core.flow import models as _flow_models  # noqa: F401
from mgmt.core.flow.definition import Insertion
from mgmt.core.flow.points import FLOW_END_OBSERVERS, FLOW_INSERTIONS, FLOW_OBSERVERS
from mgmt.core.gconfig import GlobalConfigRegistry, GlobalConfigService
from mgmt.core.gconfig import models as _gconfig_models  # noqa: F401
from mgmt.core.messages import Message
from mgmt.core.metrics import BusMetrics
from mgmt.core.module import (
    BaseParts,
    Modules,
    NodeParts,
    PluginParts,
    ReadParts,
    Runner,
    ServiceModule,
    Stoppable,
)
from mgmt.core.modules import COUNTERS, FLOWS, GLOBAL_CONFIG, SHARING, TAGS
from mgmt.core.node import NodeRuntime, PartitionListener
from mgmt.core.plugins import (
    Extension,
    ExtensionPoint,
    Plugin,
    PluginError,
    PluginRegistry,
    load_external,
)
from mgmt.core.query import QueryRegistry
from mgmt.core.resource import ResourceTypes
from mgmt.core.resource import uuids as _uuid_models  # noqa: F401
from mgmt.core.service import FlowOwner, ListenerOwner, StateOwner
from mgmt.core.shutdown import Shutdown
from mgmt.core.states import StatefulRunner, StateRegistry, StateReleaser, StateSweeper
from mgmt.core.tags import TagRegistry, TagService
from mgmt.core.tags import models as _tag_models  # noqa: F401
from mgmt.core.tags.api import TagsOnCreate
from mgmt.core.tags.cascade import TagCascadeObserver
from mgmt.diag import models as _diag_models  # noqa: F401
from mgmt.diag.module import MODULE as DIAG
from mgmt.frontend.audit import MODULE as AUDIT
from mgmt.frontend.audit import AuditWriter
from mgmt.frontend.auth import Authenticator
from mgmt.frontend.reads import ReadContext
from mgmt.frontend.rest import WriteContext
from mgmt.host import (
    HOST_BACKENDS,
    HOST_CONNECT_EXTENSIONS,
    HOST_OBSERVERS,
    HOST_STATUS_EXTENSIONS,
)
from mgmt.host import models as _host_models  # noqa: F401
from mgmt.host.module import MODULE as HOST
from mgmt.identity.admin import AdminPassword, PasswordSource, bootstrap_admin
from mgmt.identity.keys import deployment_secret
from mgmt.identity.module import MODULE as IDENTITY
from mgmt.identity.sessions import Sessions
from mgmt.image.module import MODULE as IMAGE
from mgmt.network import L2_NETWORK_BACKENDS
from mgmt.network.module import MODULE as NETWORK
from mgmt.offering.module import MODULE as OFFERING
from mgmt.plugins.simulator import SimulatorPlugin
from mgmt.settings import Settings
from mgmt.storage import (
    BACKUP_STORAGE_BACKENDS,
    PRIMARY_STORAGE_DETACH_CHECKS,
    PRIMARY_STORAGE_HOLDERS,
)
from mgmt.storage.module import BACKUP_STORAGE_MODULE, PRIMARY_STORAGE_MODULE
from mgmt.vm import models as _vm_models  # noqa: F401
from mgmt.vm.module import MODULE as VM
from mgmt.volume import models as _volume_models  # noqa: F401
from mgmt.volume.module import MODULE as VOLUME
from mgmt.webhook.module import MODULE as WEBHOOK
from mgmt.zone.module import MODULE as ZONE

#: Every service of the management node, once.
MODULES = Modules(
    (
        TAGS,
        SHARING,
        GLOBAL_CONFIG,
        COUNTERS,
        FLOWS,
        AUDIT,
        IDENTITY,
        ZONE,
        NETWORK,
        OFFERING,
        HOST,
        PRIMARY_STORAGE_MODULE,
        BACKUP_STORAGE_MODULE,
        IMAGE,
        VM,
        VOLUME,
        WEBHOOK,
        DIAG,
        # last: its filters run after the other services' (capacity is the last one)
        ALLOCATOR,
    )
)

#: Every extension point of the management node, by the service that owns it.
EXTENSION_POINTS: tuple[ExtensionPoint[Any], ...] = (
    FLOW_INSERTIONS,
    FLOW_OBSERVERS,
    FLOW_END_OBSERVERS,
    CASCADE_RESOURCES,
    CASCADE_RELEASES,
    CASCADE_OBSERVERS,
    COUNTER_SOURCES,
    L2_NETWORK_BACKENDS,
    HOST_BACKENDS,
    HOST_OBSERVERS,
    HOST_CONNECT_EXTENSIONS,
    HOST_STATUS_EXTENSIONS,
    HOST_FILTERS,
    HOST_STRATEGIES,
    PRIMARY_STORAGE_DETACH_CHECKS,
    PRIMARY_STORAGE_HOLDERS,
    BACKUP_STORAGE_BACKENDS,
)

#: Every API message of the in-tree services: the REST API is derived from these.
API_MESSAGES: tuple[type[ApiRequest[Any]], ...] = MODULES.apis


def service_modules(settings: Settings) -> Modules:
    """The in-tree modules, then those ``ZCLOUD_MODULES`` names (module:attribute)."""
    extra: list[ServiceModule] = []
    for spec in filter(None, (p.strip() for p in settings.modules.split(","))):
        module, _, attr = spec.partition(":")
        try:
            found = getattr(importlib.import_module(module), attr or "MODULE")
        except Exception as exc:
            raise PluginError(f"module {spec!r} from ZCLOUD_MODULES failed to load: {exc}") from exc
        if not isinstance(found, ServiceModule):
            raise PluginError(f"{spec!r} from ZCLOUD_MODULES is not a ServiceModule")
        extra.append(found)
    return Modules((*MODULES.modules, *extra)) if extra else MODULES


def tag_registry(modules: Modules = MODULES) -> TagRegistry:
    """Every system tag pattern (nodes and frontends use the same set)."""
    return TagRegistry(modules.tag_patterns)


def master_key(db: Database, settings: Settings) -> Callable[[], Awaitable[bytes]]:
    """The deployment secret access keys derive from, read once per process."""
    cached: list[bytes] = []
    configured = settings.secret_key.get_secret_value() if settings.secret_key else None

    async def get() -> bytes:
        if not cached:
            cached.append(await deployment_secret(db, configured))
        return cached[0]

    return get


def metadata() -> MetaData:
    """Every table of every service (what migrations are checked against)."""
    return Base.metadata


def make_transport(settings: Settings, broker: InprocBroker | None = None) -> Transport:
    if settings.amqp_url:
        return RabbitTransport(
            settings.amqp_url,
            prefix=settings.bus_prefix,
            partitions=settings.partitions,
            max_attempts=settings.max_attempts,
            node_id=settings.node_id,
        )
    return InprocTransport(broker or InprocBroker(settings.max_attempts), settings.bus_prefix)


def configured_plugins(settings: Settings) -> list[Plugin]:
    """External plugins: installed entry points, then ``ZCLOUD_PLUGINS`` (module:factory)."""
    plugins = load_external()
    for spec in filter(None, (p.strip() for p in settings.plugins.split(","))):
        module, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr or "plugin")
            plugins.append(factory())
        except Exception as exc:
            raise PluginError(f"plugin {spec!r} from ZCLOUD_PLUGINS failed to load: {exc}") from exc
    return plugins


class ResourceCascades:
    """The in-tree plugin that gives every declared resource type its cascade."""

    name = "resources"

    def __init__(self, types: ResourceTypes) -> None:
        self._types = types

    def extensions(self) -> Sequence[Extension]:
        return [Extension(CASCADE_RESOURCES, c, type=c.type_name) for c in self._types.cascades()]


#: points frontends run too (the candidates read): claimed from a module's read_plugins only
READ_POINTS: tuple[ExtensionPoint[Any], ...] = (HOST_FILTERS, HOST_STRATEGIES)


def _no_read_points(plugins: PluginRegistry, node_only: set[str]) -> None:
    """A module plugin (nodes only) claiming a point frontends run too would make the
    candidates read disagree with allocation: start-up fails naming it."""
    for point in READ_POINTS:
        for name in plugins.claimants(point):
            if name in node_only:
                raise PluginError(
                    f"plugin {name!r} claims {point.name!r} from a module's plugins; "
                    "register it from the module's read_plugins, so frontends run it too"
                )


def readables(tags: TagService, db: Database, modules: Modules = MODULES) -> list[ReadableResource]:
    """Every resource the REST API reads (and queries, and ZQL)."""
    return modules.readables(BaseParts(db, tags))


@dataclass
class ManagementNode:
    """Everything one management node runs, wired; ``start``/``stop`` in the right order."""

    settings: Settings
    db: Database
    runtime: NodeRuntime
    tasks: AgentTaskService
    agents: AgentClient
    http: httpx.AsyncClient
    metrics: BusMetrics
    flows: FlowEngine
    recovery: FlowRecovery
    gc: GarbageCollector
    gconfig: GlobalConfigService
    plugins: PluginRegistry
    jobs: ApiJobSweeper
    job_webhooks: JobWebhooks
    runners: Sequence[Runner]
    state_sweeper: StateSweeper
    #: the modules' partition listeners (trackers); those that have a ``stop`` are stopped
    listeners: Sequence[PartitionListener]
    #: what start-up did about the admin account; the process entry point tells the operator
    admin: AdminPassword | None = None

    async def start(self) -> None:
        self.admin = await bootstrap_admin(
            self.db,
            self.settings.admin_password.get_secret_value()
            if self.settings.admin_password
            else None,
        )
        # global config loads before the node joins: partition scanners (the host pinger)
        # read it from their first scan, which runs as soon as a partition is ours
        await self.runtime.start(before_join=self.gconfig.start)
        for runner in self.runners:
            await runner.start()

    async def stop(self, shutdown: Shutdown | None = None) -> None:
        """Stop taking work, hand back what is held, close; each stage bounded by its share
        of ``shutdown``'s grace period (docs/operations.md, "Stopping a process")."""
        shutdown = shutdown or Shutdown.unbounded()
        # event consumers first (web-hook delivery): a stopped one takes no more events
        for runner in reversed(self.runners):
            await shutdown.run(type(runner).__name__, runner.stop(), share=0.05)
        await self.runtime.stop(shutdown)
        # Partition work outside handlers: flows recovery resumed are cancelled (suspended,
        # so the next owner resumes them again), scanners stop. The bus is still open.
        stops = {
            "job_sweeper": self.jobs.stop(),
            "job_webhooks": self.job_webhooks.stop(),
            "flow_recovery": self.recovery.stop(),
            "gc": self.gc.stop(),
            "state_sweeper": self.state_sweeper.stop(),
            "gconfig": self.gconfig.stop(),
            "agent_tasks": self.tasks.stop(),
            **{
                type(listener).__name__: listener.stop()
                for listener in self.listeners
                if isinstance(listener, Stoppable)
            },
        }
        # side by side, each its own stage: an overrun names the service
        await asyncio.gather(*(shutdown.run(n, aw, share=0.05) for n, aw in stops.items()))
        await self.runtime.close(shutdown)
        # background runs suspend while the store still writes; then the writer commits
        # what they handed it
        await shutdown.run("flows", self.flows.stop(), share=0.03)
        await shutdown.run("flow_store", self.flows.store.close(), share=0.02)
        await shutdown.run("http_client", self.http.aclose(), share=0.02)


def admin_line(admin: AdminPassword | None) -> str:
    """The operator's line about the admin account (a generated password is shown here
    only: the database keeps its hash)."""
    if admin is None:
        return "admin account not checked"
    if admin.source is PasswordSource.GENERATED:
        return f"account '{admin.account}', password: {admin.password}   (shown once)"
    if admin.source is PasswordSource.GIVEN:
        return f"account '{admin.account}', password from ZCLOUD_ADMIN_PASSWORD"
    return (
        f"account '{admin.account}' existed already "
        "(lost its password? zcloud admin reset-password)"
    )


def build_node(
    settings: Settings,
    db: Database,
    transport: Transport,
    registry: CollectorRegistry | None = None,
    *,
    extra_plugins: Sequence[Plugin] = (),
) -> ManagementNode:
    modules = service_modules(settings)
    registry = registry or CollectorRegistry()
    metrics = BusMetrics(registry)
    table = HandlerTable()
    runtime = NodeRuntime(
        settings,
        db,
        transport,
        table,
        metrics,
        address=f"http://{settings.mgmt_host}:{settings.mgmt_port}",
        lease_db=Database(settings.db_url, pool_size=2),
    )
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=200))
    tasks = AgentTaskService(db, settings.node_id, http=http, poll_after=settings.agent_poll_after)
    agents = AgentClient(
        db,
        tasks,
        http,
        node_id=settings.node_id,
        partitions=settings.partitions,
        callback_base_url=settings.callback_base_url,
        default_timeout=settings.agent_timeout,
    )
    tags = TagService(db, tag_registry(modules))
    gconfig = GlobalConfigService(
        db,
        GlobalConfigRegistry(modules.global_configs),
        runtime.bus,
        poll_interval=settings.gconfig_poll_interval,
        metrics=registry,
    )
    types = modules.types()
    # in-tree plugins first, then external ones; each claims the points it implements
    plugins = PluginRegistry(EXTENSION_POINTS)
    early = PluginParts(db, tags, agents, plugins, test_hooks=settings.test_hooks, bus=runtime.bus)
    node_only = [p for m in modules.modules for p in m.plugins(early)]
    in_tree: list[Plugin] = [
        ResourceCascades(types),
        TagCascadeObserver.plugin(tags),
        SimulatorPlugin(settings.simulator_agent_url, agents, timeout=settings.agent_timeout),
        *node_only,
        *modules.read_plugins(early),
    ]
    for plugin in [*in_tree, *configured_plugins(settings), *extra_plugins]:
        plugins.register(plugin)
    _no_read_points(plugins, {p.name for p in node_only})

    flow_registry = FlowRegistry()
    flow_metrics = FlowMetrics(registry)
    # which flows hold which state machine's resources: filled as the services are built,
    # read by the releaser when a run ends and by the sweeper
    state_registry = StateRegistry()
    engine = FlowEngine(
        DbFlowStore(db),
        flow_registry,
        node_id=settings.node_id,
        partitions=settings.partitions,
        metrics=flow_metrics,
        observers=plugins.observers(FLOW_OBSERVERS),
        end_observers=[StateReleaser(db, state_registry), *plugins.observers(FLOW_END_OBSERVERS)],
    )
    states = StatefulRunner(db, engine, state_registry)
    counters = CounterService(
        db,
        CounterSources.from_plugins(plugins),
        CounterMetrics(registry),
        node_id=settings.node_id,
        bus=runtime.bus,
    )
    engine.bind_members(lambda: runtime.membership.members)
    graph = CascadeGraph(
        [plugins.strategy(CASCADE_RESOURCES, t) for t in plugins.strategy_types(CASCADE_RESOURCES)],
        plugins.observers(CASCADE_OBSERVERS),
        [plugins.strategy(CASCADE_RELEASES, t) for t in plugins.strategy_types(CASCADE_RELEASES)],
    )
    insertions = [i for ext in plugins.observers(FLOW_INSERTIONS) for i in ext.flow_insertions()]
    cascade = flow_registry.add(cascade_flow(db, graph, engine), insertions)
    for release_flow in graph.release_flows():
        flow_registry.add(release_flow, insertions)

    parts = NodeParts(
        settings=settings,
        db=db,
        bus=runtime.bus,
        http=http,
        engine=engine,
        cascade=cascade,
        states=states,
        counters=counters,
        tags=tags,
        gconfig=gconfig,
        tasks=tasks,
        agents=agents,
        master_key=master_key(db, settings),
        types=types,
        owners=Owners(readables(tags, db, modules)),
        quotas=modules.quotas(),
        plugins=plugins,
    )

    job_webhooks = JobWebhooks(http)
    api_jobs = ApiJobService(db, webhooks=job_webhooks, tags=TagsOnCreate(db, tags, tags.registry))
    wired = _wire_modules(modules, parts, flow_registry, insertions, state_registry)
    handlers = {**tasks.handlers(), **tags.handlers()}  # the core's internal messages
    for message_type in wired.handlers:
        if message_type in handlers:
            raise ValueError(f"{message_type.__name__} is handled twice")
    handlers.update(wired.handlers)
    for listener in wired.listeners:
        runtime.add_listener(listener)
    for message_type, handler in handlers.items():
        if issubclass(message_type, ApiRequest):  # its outcome lands in the API job
            handler = api_jobs.wrap(handler)  # noqa: PLW2901
        table.add(message_type, handler)

    recovery = FlowRecovery(engine)
    gc = GarbageCollector(db, engine, flow_metrics)
    state_sweeper = StateSweeper(
        db, engine.store, state_registry, partitions=settings.partitions, in_flight=states.in_flight
    )
    sweeper = ApiJobSweeper(
        db,
        runtime.bus,
        table.registry,
        republish_after=settings.api_job_republish_after,
        give_up_after=settings.api_job_timeout,
        interval=min(5.0, settings.api_job_republish_after),
    )
    for listener in (tasks, recovery, gc, state_sweeper, sweeper):
        runtime.add_listener(listener)
    return ManagementNode(
        settings,
        db,
        runtime,
        tasks,
        agents,
        http,
        metrics,
        engine,
        recovery,
        gc,
        gconfig,
        plugins,
        sweeper,
        job_webhooks,
        wired.runners,
        state_sweeper,
        wired.listeners,
    )


@dataclass
class _Wired:
    handlers: dict[type[Message], Handler] = field(default_factory=dict)
    runners: list[Runner] = field(default_factory=list)
    listeners: list[PartitionListener] = field(default_factory=list)


def _wire_modules(
    modules: Modules,
    parts: NodeParts,
    flows: FlowRegistry,
    insertions: Sequence[Insertion],
    states: StateRegistry,
) -> _Wired:
    """Each module's service, handlers, flows, state machines, task continuations,
    listeners and runners (a message handled by two modules fails start-up)."""
    wired = _Wired()
    for module in modules.modules:
        service = module.service(parts) if module.service is not None else None
        for message_type in (found := module.handlers(parts, service)):
            if message_type in wired.handlers:
                raise ValueError(f"{message_type.__name__} is handled twice ({module.name})")
        wired.handlers.update(found)
        own: Sequence[FlowDef[Any]] = service.flows() if isinstance(service, FlowOwner) else ()
        for flow in [*own, *module.flows(parts)]:
            flows.add(flow, insertions)
        if isinstance(service, StateOwner):
            states.add(*service.stateful_operations())
        wired.listeners.extend(module.listeners(parts))
        if isinstance(service, ListenerOwner):
            wired.listeners.extend(service.partition_listeners())
        wired.runners.extend(module.runners(parts))
    return wired


@dataclass
class ApiFrontend:
    """The REST API's parts in a frontend process (``zcloud api`` or the all-in-one)."""

    writes: WriteContext
    reads: ReadContext
    gconfig: GlobalConfigService
    audit: AuditWriter
    owns_gconfig: bool = True

    async def start(self) -> None:
        if self.owns_gconfig:
            await self.gconfig.start()

    async def stop(self, shutdown: Shutdown | None = None) -> None:
        """After the HTTP server stopped (no request in flight): flush, close the writers."""
        shutdown = shutdown or Shutdown.unbounded()
        await shutdown.run("audit", self.audit.close(), share=0.1)
        await shutdown.run("job_inserts", self.writes.jobs.close(), share=0.05)
        if self.owns_gconfig:
            await shutdown.run("gconfig", self.gconfig.stop(), share=0.05)


def build_api(
    settings: Settings,
    db: Database,
    bus: Bus,
    metrics: CollectorRegistry,
    *,
    gconfig: GlobalConfigService | None = None,
) -> ApiFrontend:
    """The REST API of a frontend; the all-in-one passes its node's global config."""
    modules = service_modules(settings)
    owns_gconfig = gconfig is None
    gconfig = gconfig or GlobalConfigService(
        db,
        GlobalConfigRegistry(modules.global_configs),
        bus,
        poll_interval=settings.gconfig_poll_interval,
        metrics=metrics,
    )
    auth = Authenticator(db, Sessions(db), gconfig, master_key(db, settings))
    writes = WriteContext(
        db=db,
        bus=bus,
        auth=auth,
        jobs=ApiJobInserts(db),
        partitions=settings.partitions,
        job_retention=settings.api_job_retention,
        apis=modules.apis,
        statuses=modules.error_statuses(),
    )
    tags = TagService(db, tag_registry(modules))
    readable = readables(tags, db, modules)
    registry = QueryRegistry(r.query for r in readable)
    registry.validate()
    # the plugins a frontend's collection reads run (host filters): the modules' read-only
    # ones, the same objects a node registers (external plugins are the nodes' only)
    plugins = PluginRegistry(EXTENSION_POINTS)
    for plugin in modules.read_plugins(BaseParts(db, tags)):
        plugins.register(plugin)
    collection_reads = modules.collection_reads(
        ReadParts(db, tags, gconfig, modules.types(), plugins)
    )
    return ApiFrontend(
        writes,
        ReadContext(
            db,
            auth,
            registry,
            readable,
            modules.resource_reads,
            collection_reads=collection_reads,
            statuses=modules.error_statuses(),
        ),
        gconfig,
        AuditWriter(db),
        owns_gconfig=owns_gconfig,
    )
