"""Composition root: the explicit list of services and how a node is put together.

Adding a service means adding it here (its handlers, continuations, partition listeners and
models); nothing registers itself at import time.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy import MetaData

from mgmt.core import membership as _membership_models  # noqa: F401
from mgmt.core.agenttasks import AgentClient, AgentTaskService

# Every service's models, so that Base.metadata is complete wherever this root is imported.
from mgmt.core.agenttasks import models as _agenttask_models  # noqa: F401
from mgmt.core.bus import HandlerTable, Transport
from mgmt.core.bus.inproc import InprocBroker, InprocTransport
from mgmt.core.bus.rabbit import RabbitTransport
from mgmt.core.db import Base, Database
from mgmt.core.db import dedupe as _dedupe_models  # noqa: F401
from mgmt.core.metrics import BusMetrics
from mgmt.core.node import NodeRuntime
from mgmt.core.service import Service
from mgmt.diag import models as _diag_models  # noqa: F401
from mgmt.diag.handlers import DiagService
from mgmt.settings import Settings


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

    async def start(self) -> None:
        await self.runtime.start()

    async def stop(self) -> None:
        await self.runtime.stop()
        await self.tasks.stop()
        await self.http.aclose()


def build_node(
    settings: Settings,
    db: Database,
    transport: Transport,
    registry: CollectorRegistry | None = None,
) -> ManagementNode:
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
    diag = DiagService(db, agents)
    services: list[Service] = [tasks, diag]  # the in-tree services
    for kind, continuation in diag.continuations().items():
        tasks.add_continuation(kind, continuation)

    table = HandlerTable()
    for service in services:
        for message_type, handler in service.handlers().items():
            table.add(message_type, handler)
    runtime = NodeRuntime(
        settings,
        db,
        transport,
        table,
        metrics,
        listeners=[tasks],
        address=f"http://{settings.mgmt_host}:{settings.mgmt_port}",
        lease_db=Database(settings.db_url, pool_size=2),
    )
    return ManagementNode(settings, db, runtime, tasks, agents, http, metrics)
