"""Composition root: the explicit list of services and plugins, and how a node is put together.

Adding a service means adding it here (its handlers, continuations, partition listeners,
flows and models); adding an in-tree plugin means adding it to ``in_tree_plugins``. Nothing
registers itself at import time. External plugins come from the ``zcloud.plugins``
entry-point group and from ``ZCLOUD_PLUGINS``; a bad one fails start-up with its name.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy import MetaData

from mgmt.core import membership as _membership_models  # noqa: F401
from mgmt.core import quota as _quota_models  # noqa: F401
from mgmt.core.agenttasks import AgentClient, AgentTaskService

# Every service's models, so that Base.metadata is complete wherever this root is imported.
from mgmt.core.agenttasks import models as _agenttask_models  # noqa: F401
from mgmt.core.api import ApiJobInserts, ApiJobService, ApiJobSweeper, ApiRequest
from mgmt.core.api import ApiJobRow as _ApiJobRow  # noqa: F401
from mgmt.core.api.delivery import JobWebhooks
from mgmt.core.api.reads import Owners, ReadableResource
from mgmt.core.bus import Bus, HandlerTable, Transport
from mgmt.core.bus.inproc import InprocBroker, InprocTransport
from mgmt.core.bus.rabbit import RabbitTransport
from mgmt.core.cascade import CASCADE_OBSERVERS, CASCADE_RESOURCES, CascadeGraph, cascade_flow
from mgmt.core.db import Base, Database
from mgmt.core.db import dedupe as _dedupe_models  # noqa: F401
from mgmt.core.flow import (
    DbFlowStore,
    FlowEngine,
    FlowMetrics,
    FlowRecovery,
    FlowRegistry,
    GarbageCollector,
)
from mgmt.core.flow import models as _flow_models  # noqa: F401
from mgmt.core.flow.points import FLOW_INSERTIONS, FLOW_OBSERVERS
from mgmt.core.gconfig import GlobalConfigRegistry, GlobalConfigService
from mgmt.core.gconfig import models as _gconfig_models  # noqa: F401
from mgmt.core.gconfig.api import UpdateGlobalConfigValue
from mgmt.core.gconfig.api import readables as gconfig_readables
from mgmt.core.metrics import BusMetrics
from mgmt.core.node import NodeRuntime
from mgmt.core.plugins import ExtensionPoint, Plugin, PluginError, PluginRegistry, load_external
from mgmt.core.query import QueryRegistry
from mgmt.core.service import Service
from mgmt.core.sharing import API_MESSAGES as SHARING_APIS
from mgmt.core.sharing import SharingService
from mgmt.core.sharing import readables as sharing_readables
from mgmt.core.tags import TagRegistry, TagService
from mgmt.core.tags import models as _tag_models  # noqa: F401
from mgmt.core.tags.api import API_MESSAGES as TAG_APIS
from mgmt.core.tags.api import TagApiService, TagsOnCreate
from mgmt.core.tags.api import readables as tag_readables
from mgmt.core.tags.cascade import TagCascadeObserver
from mgmt.diag import models as _diag_models  # noqa: F401
from mgmt.diag.flows import COUNTER_STEP_TAG, DIAG_CONFIGS
from mgmt.diag.handlers import DiagService
from mgmt.diag.plugin import DiagPlugin
from mgmt.frontend.audit import AuditWriter, audit_readable
from mgmt.frontend.auth import Authenticator
from mgmt.frontend.reads import ReadContext
from mgmt.frontend.rest import WriteContext
from mgmt.identity import API_MESSAGES as IDENTITY_APIS
from mgmt.identity import models as _identity_models  # noqa: F401
from mgmt.identity.handlers import IdentityService
from mgmt.identity.keys import deployment_secret
from mgmt.identity.plugin import IdentityPlugin
from mgmt.identity.queries import readables as identity_readables
from mgmt.identity.sessions import IDENTITY_CONFIGS, Sessions, bootstrap_admin
from mgmt.settings import Settings
from mgmt.webhook import API_MESSAGES as WEBHOOK_APIS
from mgmt.webhook import models as _webhook_models  # noqa: F401
from mgmt.webhook.plugin import WebHookPlugin
from mgmt.webhook.service import WebHookDispatcher, WebHookService
from mgmt.webhook.service import readables as webhook_readables
from mgmt.zone import API_MESSAGES as ZONE_APIS
from mgmt.zone import models as _zone_models  # noqa: F401
from mgmt.zone.handlers import ZoneService
from mgmt.zone.plugin import ZonePlugin
from mgmt.zone.queries import readables as zone_readables

#: Every extension point of the management node, by the service that owns it.
EXTENSION_POINTS: tuple[ExtensionPoint[Any], ...] = (
    FLOW_INSERTIONS,
    FLOW_OBSERVERS,
    CASCADE_RESOURCES,
    CASCADE_OBSERVERS,
)


#: Every API message: the REST API is derived from these.
API_MESSAGES: tuple[type[ApiRequest[Any]], ...] = (
    *IDENTITY_APIS,
    *ZONE_APIS,
    *WEBHOOK_APIS,
    *TAG_APIS,
    *SHARING_APIS,
    UpdateGlobalConfigValue,
)


def tag_registry() -> TagRegistry:
    """Every system tag pattern (nodes and frontends use the same set)."""
    return TagRegistry([COUNTER_STEP_TAG])


#: Every global config: nodes and frontends register the same set.
GLOBAL_CONFIGS = (*DIAG_CONFIGS, *IDENTITY_CONFIGS)


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
    dispatcher: WebHookDispatcher

    async def start(self) -> None:
        generated = await bootstrap_admin(
            self.db,
            self.settings.admin_password.get_secret_value()
            if self.settings.admin_password
            else None,
        )
        if generated:  # shown once, here; only its hash is stored
            print(f"zcloud: created account 'admin' with password: {generated}", flush=True)
        await self.runtime.start()
        await self.gconfig.start()
        await self.dispatcher.start(self.runtime.bus)

    async def stop(self) -> None:
        await self.dispatcher.stop()
        await self.runtime.stop()
        await self.jobs.stop()
        await self.job_webhooks.stop()
        await self.recovery.stop()
        await self.gc.stop()
        await self.gconfig.stop()
        await self.flows.store.close()
        await self.tasks.stop()
        await self.http.aclose()


def build_node(
    settings: Settings,
    db: Database,
    transport: Transport,
    registry: CollectorRegistry | None = None,
    *,
    extra_plugins: Sequence[Plugin] = (),
) -> ManagementNode:
    registry = registry or CollectorRegistry()
    metrics = BusMetrics(registry)
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
    tags = TagService(db, tag_registry())
    gconfig = GlobalConfigService(
        db,
        GlobalConfigRegistry(GLOBAL_CONFIGS),
        poll_interval=settings.gconfig_poll_interval,
        metrics=registry,
    )

    # in-tree plugins first, then external ones; each claims the points it implements
    plugins = PluginRegistry(EXTENSION_POINTS)
    in_tree_plugins: list[Plugin] = [
        DiagPlugin(db, test_hooks=settings.test_hooks),
        TagCascadeObserver.plugin(tags),
        IdentityPlugin(),
        ZonePlugin(),
        WebHookPlugin(),
    ]
    for plugin in [*in_tree_plugins, *configured_plugins(settings), *extra_plugins]:
        plugins.register(plugin)

    flow_registry = FlowRegistry()
    flow_metrics = FlowMetrics(registry)
    engine = FlowEngine(
        DbFlowStore(db),
        flow_registry,
        node_id=settings.node_id,
        partitions=settings.partitions,
        metrics=flow_metrics,
        observers=plugins.observers(FLOW_OBSERVERS),
    )
    graph = CascadeGraph(
        [plugins.strategy(CASCADE_RESOURCES, t) for t in plugins.strategy_types(CASCADE_RESOURCES)],
        plugins.observers(CASCADE_OBSERVERS),
    )
    insertions = [i for ext in plugins.observers(FLOW_INSERTIONS) for i in ext.flow_insertions()]
    cascade = flow_registry.add(cascade_flow(db, graph), insertions)

    diag = DiagService(
        db,
        agents,
        engine=engine,
        tags=tags,
        gconfig=gconfig,
        cascade=cascade,
        test_hooks=settings.test_hooks,
    )
    for flow in diag.flows():
        flow_registry.add(flow, insertions)
    zones = ZoneService(db, engine, cascade)
    secrets = master_key(db, settings)
    identity = IdentityService(db, engine, cascade, secrets)
    webhooks = WebHookService(db, secrets)
    owners = Owners(readables(tags))
    tag_api = TagApiService(db, tags, owners)
    sharing = SharingService(db, owners)
    services: list[Service] = [
        *(tasks, diag, tags, gconfig, identity, zones, webhooks, tag_api, sharing)
    ]
    for kind, continuation in diag.continuations().items():
        tasks.add_continuation(kind, continuation)

    job_webhooks = JobWebhooks(http)
    api_jobs = ApiJobService(db, webhooks=job_webhooks, tags=TagsOnCreate(db, tags, tags.registry))
    table = HandlerTable()
    for service in services:
        for message_type, handler in service.handlers().items():
            if issubclass(message_type, ApiRequest):  # its outcome lands in the API job
                handler = api_jobs.wrap(handler)  # noqa: PLW2901
            table.add(message_type, handler)
    recovery = FlowRecovery(engine)
    gc = GarbageCollector(db, engine, flow_metrics)
    sweeper = ApiJobSweeper(
        db,
        lambda: runtime.bus,
        table.registry,
        republish_after=settings.api_job_republish_after,
        give_up_after=settings.api_job_timeout,
        interval=min(5.0, settings.api_job_republish_after),
    )
    runtime = NodeRuntime(
        settings,
        db,
        transport,
        table,
        metrics,
        listeners=[tasks, recovery, gc, sweeper],
        address=f"http://{settings.mgmt_host}:{settings.mgmt_port}",
        lease_db=Database(settings.db_url, pool_size=2),
    )
    engine.bind_members(lambda: runtime.membership.members)
    gconfig.bind_bus(runtime.bus)
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
        WebHookDispatcher(db, http, secrets),
    )


def readables(tags: TagService) -> list[ReadableResource]:
    """Every resource the REST API reads (and queries, and ZQL)."""
    return [
        *identity_readables(),
        *zone_readables(),
        *webhook_readables(),
        *gconfig_readables(),
        *tag_readables(tags),
        *sharing_readables(),
        audit_readable(),
    ]


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

    async def stop(self) -> None:
        await self.audit.close()
        await self.writes.jobs.close()
        if self.owns_gconfig:
            await self.gconfig.stop()


def build_api(
    settings: Settings,
    db: Database,
    bus: Bus,
    metrics: CollectorRegistry,
    *,
    gconfig: GlobalConfigService | None = None,
) -> ApiFrontend:
    """The REST API of a frontend; the all-in-one passes its node's global config."""
    owns_gconfig = gconfig is None
    gconfig = gconfig or GlobalConfigService(
        db,
        GlobalConfigRegistry(GLOBAL_CONFIGS),
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
        apis=API_MESSAGES,
    )
    readable = readables(TagService(db, tag_registry()))
    registry = QueryRegistry(r.query for r in readable)
    registry.validate()
    return ApiFrontend(
        writes,
        ReadContext(db, auth, registry, readable),
        gconfig,
        AuditWriter(db),
        owns_gconfig=owns_gconfig,
    )
