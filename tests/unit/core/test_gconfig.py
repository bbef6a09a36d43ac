"""Global config: typed parsing, default rows, updates, and propagation between two nodes."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from mgmt.core.bus import Bus, HandlerTable, PartitionConsumer
from mgmt.core.bus.inproc import InprocBroker, InprocTransport
from mgmt.core.db import Database
from mgmt.core.errors import PermanentError, ZCloudError
from mgmt.core.gconfig import (
    GConfCodes,
    GlobalConfigChanged,
    GlobalConfigDef,
    GlobalConfigRegistry,
    GlobalConfigService,
    UpdateGlobalConfig,
    UpdateGlobalConfigReply,
    gconfig_routing_uuid,
)
from mgmt.core.gconfig.models import GlobalConfigRow
from mgmt.core.metrics import BusMetrics
from tests.helpers.eventually import eventually

INTERVAL = GlobalConfigDef(
    category="vm",
    name="expungeInterval",
    type=int,
    default=60,
    description="Seconds between expunge runs.",
    ge=1,
    le=3600,
)
ENABLED = GlobalConfigDef(
    category="vm", name="expungeEnabled", type=bool, default=True, description="Expunge at all."
)
STRATEGY = GlobalConfigDef(
    category="host",
    name="allocatorStrategy",
    type=str,
    default="leastUsed",
    description="How hosts are picked.",
    choices=("leastUsed", "random", "firstFit"),
)
RATIO = GlobalConfigDef(
    category="host",
    name="cpuOvercommit",
    type=float,
    default=1.0,
    description="Virtual CPUs per physical CPU.",
    ge=0.1,
    le=20.0,
)


def registry() -> GlobalConfigRegistry:
    return GlobalConfigRegistry([INTERVAL, ENABLED, STRATEGY, RATIO])


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/g.db")
    async with db.engine.begin() as conn:
        table = GlobalConfigRow.metadata.tables[GlobalConfigRow.__tablename__]
        await conn.run_sync(GlobalConfigRow.metadata.create_all, tables=[table])
    yield db
    await db.close()


@pytest.fixture
async def services(
    db: Database,
) -> AsyncIterator[Callable[..., Awaitable[GlobalConfigService]]]:
    """Starts services on ``db`` (each one a node) and stops them all afterwards."""
    started: list[GlobalConfigService] = []

    async def start(bus: Bus | None = None, poll_interval: float = 5.0) -> GlobalConfigService:
        svc = GlobalConfigService(db, registry(), bus, poll_interval=poll_interval)
        await svc.start()
        started.append(svc)
        return svc

    yield start
    for svc in reversed(started):
        await svc.stop()


@pytest.fixture
async def buses() -> AsyncIterator[Callable[[str], Awaitable[Bus]]]:
    """Buses of separate nodes on one in-process broker."""
    broker = InprocBroker()
    made: list[Bus] = []

    async def make(node_id: str) -> Bus:
        bus = Bus(
            InprocTransport(broker, "g"),
            node_id=node_id,
            partitions=4,
            metrics=BusMetrics(),
            default_timeout=5,
        )
        await bus.start()
        made.append(bus)
        return bus

    yield make
    for bus in reversed(made):
        await bus.close()
    await broker.close()


# -- definitions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("defn", "raw", "expected"),
    [
        (INTERVAL, "30", 30),
        (INTERVAL, 3600, 3600),
        (INTERVAL, " 1 ", 1),
        (ENABLED, "false", False),
        (ENABLED, True, True),
        (STRATEGY, "random", "random"),
        (STRATEGY, '"firstFit"', "firstFit"),
        (RATIO, "2.5", 2.5),
        (RATIO, 4, 4.0),
    ],
)
def test_parse_gives_typed_values(defn: GlobalConfigDef[Any], raw: Any, expected: Any) -> None:
    value = defn.parse(raw)
    assert value == expected
    assert type(value) is type(expected)
    assert defn.parse(defn.dump(value)) == value  # what is stored reads back the same


@pytest.mark.parametrize(
    ("defn", "raw", "why"),
    [
        (INTERVAL, "0", ">= 1"),
        (INTERVAL, 3601, "<= 3600"),
        (INTERVAL, "ten", "valid integer"),
        (INTERVAL, "1.5", "valid integer"),
        (INTERVAL, True, "valid integer"),
        (ENABLED, "yes", "valid boolean"),
        (ENABLED, 1, "valid boolean"),
        (STRATEGY, "mostUsed", "must be one of"),
        (STRATEGY, 3, "valid string"),
        (RATIO, "0.05", ">= 0.1"),
        (RATIO, "NaN", "finite"),
        (RATIO, "fast", "valid number"),
    ],
)
def test_parse_refuses_bad_values_naming_the_config(
    defn: GlobalConfigDef[Any], raw: Any, why: str
) -> None:
    with pytest.raises(PermanentError) as exc:
        defn.parse(raw)
    err = exc.value.error
    assert (err.code, err.description) == GConfCodes.INVALID_VALUE
    assert defn.identity in err.details
    assert why in err.details
    assert err.extra["category"] == defn.category
    assert err.extra["name"] == defn.name


def test_type_adapters_enums_and_custom_validators() -> None:
    class Mode(enum.Enum):
        THIN = "thin"
        THICK = "thick"

    mode = GlobalConfigDef(
        category="volume", name="mode", type=Mode, default=Mode.THIN, description=""
    )
    assert mode.parse("thick") is Mode.THICK
    assert mode.dump(Mode.THICK) == '"thick"'

    def even(value: int) -> None:
        if value % 2:
            raise ValueError("must be even")

    level = GlobalConfigDef(
        category="vm",
        name="level",
        type=TypeAdapter(Literal[1, 2, 4]),
        default=2,
        description="",
        validator=even,
    )
    assert level.parse("4") == 4
    with pytest.raises(PermanentError, match=r"vm\.level.*must be even"):
        level.parse(1)
    with pytest.raises(PermanentError, match=r"vm\.level"):
        level.parse(3)


def test_definitions_check_themselves_and_the_registry_refuses_duplicates() -> None:
    assert INTERVAL.identity == "vm.expungeInterval"
    with pytest.raises(ValueError, match="invalid default"):
        GlobalConfigDef(category="vm", name="x", type=int, default=0, description="", ge=1)
    with pytest.raises(ValueError, match="category"):
        GlobalConfigDef(category="a.b", name="x", type=int, default=0, description="")
    reg = registry()
    with pytest.raises(ValueError, match="defined twice"):
        reg.add(
            GlobalConfigDef(
                category="vm", name="expungeInterval", type=int, default=1, description=""
            )
        )
    assert reg.get("vm", "expungeInterval") is INTERVAL
    assert reg.get("vm", "nope") is None
    assert [d.identity for d in reg.all()] == [
        "host.allocatorStrategy",
        "host.cpuOvercommit",
        "vm.expungeEnabled",
        "vm.expungeInterval",
    ]
    with pytest.raises(PermanentError) as exc:
        reg.require("vm", "nope")
    assert exc.value.error.code == GConfCodes.UNKNOWN_CONFIG[0]


def test_update_message_is_routed_by_the_config_identity() -> None:
    msg = UpdateGlobalConfig(category="vm", name="expungeInterval", value="30")
    assert msg.routing_uuid() == gconfig_routing_uuid("vm", "expungeInterval")
    assert gconfig_routing_uuid("vm", "expungeInterval") != gconfig_routing_uuid("vm", "other")
    assert UpdateGlobalConfig.model_validate_json(msg.model_dump_json()) == msg
    with pytest.raises(ValidationError, match="gconfig_routing_uuid"):
        UpdateGlobalConfig(category="vm", name="expungeInterval", value="30", resourceUuid="x")


# -- the service -----------------------------------------------------------------------------


async def test_start_inserts_defaults_once_even_from_two_nodes(
    db: Database, services: Callable[..., Awaitable[GlobalConfigService]]
) -> None:
    a = await services()
    b = await services()  # a second node on the same table: nothing conflicts or changes
    async with db.session() as s:
        rows = list((await s.execute(select(GlobalConfigRow))).scalars())
    assert len(rows) == 4
    assert {(r.category, r.name, r.value, r.default_value, r.version) for r in rows} == {
        ("vm", "expungeInterval", "60", "60", 1),
        ("vm", "expungeEnabled", "true", "true", 1),
        ("host", "allocatorStrategy", '"leastUsed"', '"leastUsed"', 1),
        ("host", "cpuOvercommit", "1.0", "1.0", 1),
    }
    for svc in (a, b):
        assert svc.value(INTERVAL) == 60
        assert svc.value(ENABLED) is True
        assert svc.value(STRATEGY) == "leastUsed"
        assert svc.value(RATIO) == 1.0
    invs = await a.inventories()
    assert [(i.category, i.name) for i in invs] == [
        ("host", "allocatorStrategy"),
        ("host", "cpuOvercommit"),
        ("vm", "expungeEnabled"),
        ("vm", "expungeInterval"),
    ]
    assert invs[3].description == INTERVAL.description


async def test_start_refreshes_default_and_description_but_keeps_the_value(
    db: Database, services: Callable[..., Awaitable[GlobalConfigService]]
) -> None:
    a = await services()
    await a.update("vm", "expungeInterval", "30")
    newer = GlobalConfigDef(
        category="vm",
        name="expungeInterval",
        type=int,
        default=120,
        description="Seconds between two expunge runs.",
        ge=1,
        le=3600,
    )
    svc = GlobalConfigService(db, GlobalConfigRegistry([newer]))
    await svc.start()
    try:
        assert svc.value(newer) == 30
        [inv] = await svc.inventories()
        assert (inv.value, inv.defaultValue, inv.description) == (
            "30",
            "120",
            "Seconds between two expunge runs.",
        )
    finally:
        await svc.stop()


async def test_update_bumps_the_version_and_value_is_typed(
    services: Callable[..., Awaitable[GlobalConfigService]],
) -> None:
    svc = await services()
    inv = await svc.update("vm", "expungeInterval", "30")
    assert (inv.value, inv.defaultValue, inv.version) == ("30", "60", 2)
    assert svc.value(INTERVAL) == 30
    inv = await svc.update("host", "allocatorStrategy", "random")
    assert (inv.value, inv.version) == ('"random"', 2)
    assert svc.value(STRATEGY) == "random"
    inv = await svc.update("vm", "expungeInterval", 45)
    assert inv.version == 3
    inv = await svc.reset("vm", "expungeInterval")
    assert (inv.value, inv.version) == ("60", 4)
    assert svc.value(INTERVAL) == 60


async def test_bad_and_unknown_updates_write_nothing(
    services: Callable[..., Awaitable[GlobalConfigService]],
) -> None:
    svc = await services()
    with pytest.raises(PermanentError) as exc:
        await svc.update("vm", "expungeInterval", "0")
    assert exc.value.error.code == GConfCodes.INVALID_VALUE[0]
    assert "vm.expungeInterval" in exc.value.error.details
    with pytest.raises(PermanentError) as exc:
        await svc.update("vm", "noSuchConfig", "1")
    assert (exc.value.error.code, exc.value.error.description) == GConfCodes.UNKNOWN_CONFIG
    assert "vm.noSuchConfig" in exc.value.error.details
    with pytest.raises(PermanentError) as exc:
        await svc.reset("nope", "nothing")
    assert exc.value.error.code == GConfCodes.UNKNOWN_CONFIG[0]
    stranger = GlobalConfigDef(category="vm", name="stranger", type=int, default=1, description="")
    with pytest.raises(PermanentError) as exc:
        svc.value(stranger)
    assert exc.value.error.code == GConfCodes.UNKNOWN_CONFIG[0]
    inv = {(i.category, i.name): i for i in await svc.inventories()}
    assert inv[("vm", "expungeInterval")].version == 1
    assert svc.value(INTERVAL) == 60


async def test_an_update_reaches_the_other_node_by_event(
    services: Callable[..., Awaitable[GlobalConfigService]],
    buses: Callable[[str], Awaitable[Bus]],
) -> None:
    # polls far apart: only the event can deliver the change in time
    a = await services(await buses("node-a"), poll_interval=600)
    b = await services(await buses("node-b"), poll_interval=600)
    seen: list[tuple[int, int]] = []

    async def on_b(old: int, new: int) -> None:
        seen.append((old, new))

    b.on_change(INTERVAL, on_b)
    await a.update("vm", "expungeInterval", "30")
    await eventually(lambda: b.value(INTERVAL) == 30, timeout=1.0, message="event applied on b")
    await a.update("vm", "expungeInterval", "40")
    await eventually(lambda: b.value(INTERVAL) == 40, timeout=1.0)
    assert seen == [(60, 30), (30, 40)]


async def test_an_update_reaches_the_other_node_by_polling_without_a_bus(
    services: Callable[..., Awaitable[GlobalConfigService]],
) -> None:
    a = await services(poll_interval=0.2)
    b = await services(poll_interval=0.2)
    await a.update("host", "cpuOvercommit", "4")
    await eventually(lambda: b.value(RATIO) == 4.0, timeout=3.0, message="poll applied on b")
    assert isinstance(b.value(RATIO), float)


async def test_a_lost_event_is_made_up_for_by_the_poll(
    db: Database,
    services: Callable[..., Awaitable[GlobalConfigService]],
    buses: Callable[[str], Awaitable[Bus]],
) -> None:
    b = await services(await buses("node-b"), poll_interval=0.2)
    # a writer without a bus: no event is ever published
    writer = GlobalConfigService(db, registry(), None, poll_interval=600)
    await writer.start()
    try:
        await writer.update("vm", "expungeEnabled", "false")
    finally:
        await writer.stop()
    await eventually(lambda: b.value(ENABLED) is False, timeout=3.0)


async def test_listeners_run_once_per_version_and_survive_a_failing_one(
    services: Callable[..., Awaitable[GlobalConfigService]],
    buses: Callable[[str], Awaitable[Bus]],
) -> None:
    # event and poll both race to deliver each version to b
    a = await services(await buses("node-a"), poll_interval=0.05)
    b = await services(await buses("node-b"), poll_interval=0.05)
    calls: list[tuple[str, str]] = []
    local: list[tuple[str, str]] = []

    async def broken(old: str, new: str) -> None:
        raise RuntimeError("listener bug")

    async def record(old: str, new: str) -> None:
        calls.append((old, new))

    async def record_local(old: str, new: str) -> None:
        local.append((old, new))

    b.on_change(STRATEGY, broken)
    b.on_change(STRATEGY, record)
    a.on_change(STRATEGY, record_local)
    for value in ("random", "firstFit", "random"):
        await a.update("host", "allocatorStrategy", value)
    expected = [("leastUsed", "random"), ("random", "firstFit"), ("firstFit", "random")]
    await eventually(lambda: calls == expected, timeout=3.0, message=f"calls: {calls}")
    await b.refresh()  # nothing newer: nothing called again
    assert calls == expected
    assert local == expected  # the updating node applies its own change once too
    assert b.value(STRATEGY) == "random"


async def test_the_update_travels_over_the_bus_to_the_partition_owner(
    services: Callable[..., Awaitable[GlobalConfigService]],
    buses: Callable[[str], Awaitable[Bus]],
) -> None:
    """End to end on the in-process bus: call UpdateGlobalConfig, get the reply, see the
    change event arrive at another node."""
    owner_bus = await buses("owner")
    owner = await services(owner_bus, poll_interval=600)
    other = await services(await buses("other"), poll_interval=600)
    table = HandlerTable()
    for msg_type, handler in owner.handlers().items():
        table.add(msg_type, handler)
    consumers = [
        PartitionConsumer(p, owner_bus, table, prefetch=10, max_attempts=3)
        for p in range(owner_bus.partitions)
    ]
    for consumer in consumers:
        await consumer.attach(owner_bus.transport)
    try:
        caller = await buses("caller")
        reply = await caller.call(
            UpdateGlobalConfig(category="vm", name="expungeInterval", value="90")
        )
        assert isinstance(reply, UpdateGlobalConfigReply)
        assert (reply.inventory.value, reply.inventory.version) == ("90", 2)
        assert owner.value(INTERVAL) == 90
        await eventually(lambda: other.value(INTERVAL) == 90, timeout=1.0)
        with pytest.raises(ZCloudError) as exc:
            await owner_bus.call(UpdateGlobalConfig(category="vm", name="nope", value="1"))
        cause = exc.value.error.cause  # the partition runtime wraps handler errors
        assert cause is not None
        assert cause.code == GConfCodes.UNKNOWN_CONFIG[0]
    finally:
        for consumer in consumers:
            await consumer.release(drain_timeout=1.0)


def test_change_event_fields() -> None:
    ev = GlobalConfigChanged(category="vm", name="x", value="1", version=2)
    assert GlobalConfigChanged.topic() == "GlobalConfigChanged"
    assert GlobalConfigChanged.model_validate_json(ev.model_dump_json()) == ev
