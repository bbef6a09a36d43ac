"""``GlobalConfigService``: the global config values of one node, kept in step with the table.

Built by the composition root with the process's registry of definitions. ``start`` makes
sure every definition has a row, then loads all values; afterwards the node learns of
changes two ways: the ``GlobalConfigChanged`` event (within a second while the bus is up)
and a poll of row versions every ``poll_interval`` seconds (the fallback when an event is
lost, e.g. during a broker outage). Either way a value is applied once per row version.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from prometheus_client import CollectorRegistry, Gauge
from pydantic import JsonValue
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.bus import Bus, Consumer, HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.db import Database, utcnow
from mgmt.core.errors import PermanentError
from mgmt.core.gconfig.api import UpdateGlobalConfigValue
from mgmt.core.gconfig.definitions import GlobalConfigDef, GlobalConfigRegistry, unknown_config
from mgmt.core.gconfig.messages import (
    GlobalConfigChanged,
    GlobalConfigInventory,
    UpdateGlobalConfig,
    UpdateGlobalConfigReply,
)
from mgmt.core.gconfig.models import GlobalConfigRow
from mgmt.core.logging import get_logger
from mgmt.core.messages import Message

log = get_logger(__name__)

T = TypeVar("T")

Listener = Callable[[Any, Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Cached:
    value: Any
    version: int


class GlobalConfigService:
    """Typed, cached access to global config, and the handler of ``UpdateGlobalConfig``."""

    def __init__(
        self,
        db: Database,
        registry: GlobalConfigRegistry,
        bus: Bus | None = None,
        *,
        poll_interval: float = 5.0,
        metrics: CollectorRegistry | None = None,
    ) -> None:
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, not {poll_interval}")
        self._db = db
        self._registry = registry
        self._bus = bus
        self._poll_interval = poll_interval
        self._cache: dict[str, _Cached] = {}
        self._listeners: dict[str, list[Listener]] = {}
        self._consumer: Consumer | None = None
        self._poll_task: asyncio.Task[None] | None = None
        #: Which version of each config this node applies (operators compare nodes by it).
        self._version_gauge = Gauge(
            "zcloud_global_config_version",
            "Version of each global config this node has applied",
            ["config"],
            registry=metrics or CollectorRegistry(),
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Insert missing rows (defaults; safe when several nodes start at once), refresh
        defaults and descriptions, load every value, then follow changes (event + poll).
        On failure nothing keeps running."""
        if self._poll_task is not None:
            raise RuntimeError("GlobalConfigService already started")
        defs = self._registry.all()
        if self._bus is not None:
            # subscribe before loading: a change committed meanwhile is in the load or the event
            self._consumer = await self._bus.subscribe(
                f"gconfig.{self._bus.node_id}.{uuid.uuid4().hex[:8]}",
                [GlobalConfigChanged],
                self._on_event,
            )
        try:
            async with self._db.session() as s, s.begin():
                await _insert_missing(s, self._db.dialect, defs)
                rows = {(r.category, r.name): r for r in await _all_rows(s)}
                for defn in defs:
                    row = rows[(defn.category, defn.name)]
                    default = defn.dump(defn.default)
                    if row.default_value != default or row.description != defn.description:
                        row.default_value = default  # a new release may change either
                        row.description = defn.description
            for defn in defs:
                row = rows[(defn.category, defn.name)]
                self._cache[defn.identity] = _Cached(self._load(defn, row.value), row.version)
                self._version_gauge.labels(defn.identity).set(row.version)
        except BaseException:
            await self._unsubscribe()
            raise
        self._poll_task = asyncio.create_task(self._poll_loop(), name="gconfig.poll")

    async def stop(self) -> None:
        """Stop following changes; ``value`` keeps answering from the cache."""
        task, self._poll_task = self._poll_task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        await self._unsubscribe()

    async def _unsubscribe(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.close()

    # -- reading -----------------------------------------------------------------------------

    def bind_bus(self, bus: Bus) -> None:
        """Follow change events on ``bus`` (composition root, before ``start``)."""
        if self._poll_task is not None:
            raise RuntimeError("bind the bus before start")
        self._bus = bus

    def version(self, defn: GlobalConfigDef[Any]) -> int:
        """The version of ``defn`` this node has applied (0 before start)."""
        cached = self._cache.get(defn.identity)
        return cached.version if cached else 0

    def value(self, defn: GlobalConfigDef[T]) -> T:
        """The value this node currently applies (no I/O). ``defn`` must be the registered
        definition and the service started."""
        cached = self._cache.get(self._registered(defn).identity)
        if cached is None:
            raise unknown_config(defn.category, defn.name, "not loaded; start() the service")
        return cast(T, cached.value)

    def on_change(
        self, defn: GlobalConfigDef[T], listener: Callable[[T, T], Awaitable[None]]
    ) -> None:
        """Call ``listener(old, new)`` each time this node applies a new version of ``defn``
        (from an update made here, the event, or the poll: once per version). Listeners run
        in the task applying the change, one after another, so keep them short; one that
        raises is logged and the others still run."""
        self._listeners.setdefault(self._registered(defn).identity, []).append(listener)

    async def inventories(self) -> list[GlobalConfigInventory]:
        """Every registered config as stored, in ``(category, name)`` order."""
        async with self._db.session() as s:
            rows = await _all_rows(s)
        return [_inventory(r) for r in rows if self._registry.get(r.category, r.name)]

    # -- writing -----------------------------------------------------------------------------

    async def update(self, category: str, name: str, raw_value: JsonValue) -> GlobalConfigInventory:
        """Validate ``raw_value`` (JSON text, a plain string or a JSON value), store it with a
        new version, apply it here and announce it. Raises ``PermanentError`` ``GCONF.1002``
        for an unknown config and ``GCONF.1001`` for a refused value; nothing is written then.
        If announcing fails the update still stands: other nodes' polls pick it up."""
        defn = self._registry.require(category, name)
        return await self._store(defn, defn.parse(raw_value))

    async def reset(self, category: str, name: str) -> GlobalConfigInventory:
        """Set a config back to its default (a new version, like any update)."""
        defn = self._registry.require(category, name)
        return await self._store(defn, defn.default)

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            UpdateGlobalConfig: self._on_update,
            UpdateGlobalConfigValue: self._on_api_update,
        }

    async def _on_api_update(
        self, msg: UpdateGlobalConfigValue, ctx: HandlerContext
    ) -> UpdateGlobalConfigReply:
        category, name = msg.identity()
        return UpdateGlobalConfigReply(inventory=await self.update(category, name, msg.value))

    async def _on_update(
        self, msg: UpdateGlobalConfig, ctx: HandlerContext
    ) -> UpdateGlobalConfigReply:
        return UpdateGlobalConfigReply(
            inventory=await self.update(msg.category, msg.name, msg.value)
        )

    async def _store(self, defn: GlobalConfigDef[Any], value: Any) -> GlobalConfigInventory:
        text = defn.dump(value)
        stmt = (
            update(GlobalConfigRow)
            .where(GlobalConfigRow.category == defn.category, GlobalConfigRow.name == defn.name)
            .values(value=text, version=GlobalConfigRow.version + 1, updated_at=utcnow())
            .returning(GlobalConfigRow)
            .execution_options(synchronize_session=False)
        )
        async with self._db.session() as s, s.begin():
            row = (await s.execute(stmt)).scalar_one_or_none()
            if row is None:  # registered after this table was filled (or the row was deleted)
                await _insert_missing(s, self._db.dialect, [defn])
                row = (await s.execute(stmt)).scalar_one()
            inventory = _inventory(row)
        await self._apply(defn, inventory.value, inventory.version)
        if self._bus is not None:
            event = GlobalConfigChanged(
                category=defn.category,
                name=defn.name,
                value=inventory.value,
                version=inventory.version,
            )
            try:
                await self._bus.publish(event)
            except Exception:
                log.warning("gconfig.publish_failed", config=defn.identity, exc_info=True)
        return inventory

    # -- following changes -------------------------------------------------------------------

    async def refresh(self) -> None:
        """Apply every row whose version is newer than this node's (what the poll runs)."""
        async with self._db.session() as s:
            result = await s.execute(
                select(
                    GlobalConfigRow.category,
                    GlobalConfigRow.name,
                    GlobalConfigRow.value,
                    GlobalConfigRow.version,
                )
            )
            rows = result.all()
        for category, name, value, version in rows:
            defn = self._registry.get(category, name)
            cached = self._cache.get(f"{category}.{name}")
            if defn is not None and cached is not None and version > cached.version:
                await self._apply(defn, value, version)

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                await self.refresh()
            except Exception:
                log.exception("gconfig.poll_failed")

    async def _on_event(self, event: GlobalConfigChanged) -> None:
        defn = self._registry.get(event.category, event.name)
        if defn is not None:  # a config only newer nodes know is theirs to apply
            await self._apply(defn, event.value, event.version)

    async def _apply(self, defn: GlobalConfigDef[Any], text: str, version: int) -> None:
        # check-and-set with no await in between: each version is applied exactly once
        cached = self._cache.get(defn.identity)
        if cached is None or version <= cached.version:
            return
        try:
            new = defn.parse(text)
        except PermanentError:
            # keep the old value; remember the version so the poll does not retry it forever
            log.exception("gconfig.bad_stored_value", config=defn.identity, version=version)
            self._cache[defn.identity] = _Cached(cached.value, version)
            return
        self._cache[defn.identity] = _Cached(new, version)
        self._version_gauge.labels(defn.identity).set(version)
        log.info("gconfig.applied", config=defn.identity, version=version)
        for listener in list(self._listeners.get(defn.identity, ())):
            try:
                await listener(cached.value, new)
            except Exception:
                log.exception("gconfig.listener_failed", config=defn.identity, version=version)

    # -- helpers -----------------------------------------------------------------------------

    def _registered(self, defn: GlobalConfigDef[T]) -> GlobalConfigDef[T]:
        if defn not in self._registry:
            raise unknown_config(defn.category, defn.name, "definition not in the registry")
        return defn

    def _load(self, defn: GlobalConfigDef[T], text: str) -> T:
        """A stored value, or the default when it no longer validates (say a new release
        tightened the bounds): a node must start whatever the table holds."""
        try:
            return defn.parse(text)
        except PermanentError:
            log.exception("gconfig.bad_stored_value", config=defn.identity)
            return defn.default


async def _insert_missing(
    session: AsyncSession, dialect: str, defs: Iterable[GlobalConfigDef[Any]]
) -> None:
    """Insert a default row for each definition that has none; concurrent callers (nodes
    starting together) do not conflict: existing rows are left alone."""
    params = [
        {
            "category": d.category,
            "name": d.name,
            "value": d.dump(d.default),
            "default_value": d.dump(d.default),
            "description": d.description,
            "version": 1,
            "updated_at": utcnow(),
        }
        for d in defs
    ]
    if not params:
        return
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(GlobalConfigRow).on_conflict_do_nothing(index_elements=["category", "name"])
    await session.execute(stmt, params)


async def _all_rows(session: AsyncSession) -> list[GlobalConfigRow]:
    result = await session.execute(
        select(GlobalConfigRow).order_by(GlobalConfigRow.category, GlobalConfigRow.name)
    )
    return list(result.scalars())


def _inventory(row: GlobalConfigRow) -> GlobalConfigInventory:
    return GlobalConfigInventory(
        category=row.category,
        name=row.name,
        value=row.value,
        defaultValue=row.default_value,
        description=row.description,
        version=row.version,
        updateDate=row.updated_at,
    )
