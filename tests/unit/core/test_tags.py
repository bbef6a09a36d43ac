"""System tag patterns and their validators, the registry, and the tag service on SQLite."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.bus import Bus, HandlerContext
from mgmt.core.db import Database
from mgmt.core.errors import PermanentError, error
from mgmt.core.tags import (
    CreateSystemTag,
    CreateUserTag,
    HostnameToken,
    Ipv4Token,
    SizeToken,
    SystemTag,
    TagRegistry,
    TagRow,
    TagService,
    TextToken,
    UuidToken,
    parse_size,
)

VM, HOST = "VmInstance", "Host"
L3 = "e738f3a1-b43d-4a2a-8852-7f2735b57725"  # fixed: test ids must match across xdist workers

HOSTNAME = SystemTag(
    "hostname::{hostname}",
    resource_types=(VM,),
    tokens={"hostname": HostnameToken},
    unique=True,
    description="The guest's host name.",
)
STATIC_IP = SystemTag(
    "staticIp::{l3Uuid}::{ip}",
    resource_types=(VM,),
    tokens={"l3Uuid": UuidToken, "ip": Ipv4Token},
)
RESERVED_MEMORY = SystemTag(
    "reservedMemory::{size}",
    resource_types=(HOST,),
    tokens={"size": SizeToken},
    admin_only=True,
)
CONSOLE_PASSWORD = SystemTag(
    "console::password::{password}",
    resource_types=(VM,),
    tokens={"password": TextToken},
    sensitive=True,
    unique=True,
)
ALL = (HOSTNAME, STATIC_IP, RESERVED_MEMORY, CONSOLE_PASSWORD)
REFUSED = error(("VM.9999", "Listener refused"), "a listener said no")


def code_of(exc: pytest.ExceptionInfo[PermanentError]) -> str:
    return exc.value.error.code


@dataclass
class Recorder:
    """A listener remembering its calls; raises on create when told to."""

    name: str
    calls: list[tuple[str, str, str, str]]
    fail: bool = False
    seen_rows: list[int] = field(default_factory=list)

    async def tag_created(
        self,
        session: AsyncSession,
        resource_uuid: str,
        resource_type: str,
        tag: SystemTag,
        text: str,
    ) -> None:
        self.calls.append((self.name, "created", resource_uuid, text))
        # inside the creating transaction: the row is already there
        rows = (await session.scalars(select(TagRow).where(TagRow.tag == text))).all()
        self.seen_rows.append(len(rows))
        if self.fail:
            raise PermanentError(REFUSED)

    async def tag_deleted(
        self,
        session: AsyncSession,
        resource_uuid: str,
        resource_type: str,
        tag: SystemTag,
        text: str,
    ) -> None:
        self.calls.append((self.name, "deleted", resource_uuid, text))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    async with database.engine.begin() as c:
        await c.run_sync(
            TagRow.metadata.create_all, tables=[TagRow.metadata.tables[TagRow.__tablename__]]
        )
    yield database
    await database.close()


@pytest.fixture
def registry() -> TagRegistry:
    return TagRegistry(ALL)


@pytest.fixture
def tags(db: Database, registry: TagRegistry) -> TagService:
    return TagService(db, registry)


# -- patterns -------------------------------------------------------------------------------


def test_pattern_matches_parses_and_formats() -> None:
    text = STATIC_IP.format(l3Uuid=L3, ip="10.0.0.5")
    assert text == f"staticIp::{L3}::10.0.0.5"
    assert STATIC_IP.matches(text)
    assert STATIC_IP.matches("staticIp::x::y")  # literals only
    assert not STATIC_IP.matches("staticIp::x")
    assert not STATIC_IP.matches("staticIP::x::y")
    assert not HOSTNAME.matches(text)
    assert STATIC_IP.parse(text) == {"l3Uuid": L3, "ip": "10.0.0.5"}
    assert STATIC_IP.token(text, "ip") == "10.0.0.5"
    assert HOSTNAME.parse("hostname::web-1.example.com") == {"hostname": "web-1.example.com"}
    assert CONSOLE_PASSWORD.format(password="s3cret") == "console::password::s3cret"
    assert CONSOLE_PASSWORD.prefix == "console::password::"
    with pytest.raises(ValueError, match="takes tokens"):
        STATIC_IP.format(ip="10.0.0.5")
    with pytest.raises(ValueError, match="no token"):
        STATIC_IP.token(text, "mask")


def test_pattern_definitions_are_checked() -> None:
    with pytest.raises(ValueError, match="do not match"):
        SystemTag("a::{x}", resource_types=(VM,), tokens={})
    with pytest.raises(ValueError, match="do not match"):
        SystemTag("a::{x}::{x}", resource_types=(VM,), tokens={"x": TextToken})
    with pytest.raises(ValueError, match="whole"):
        SystemTag("a::b{x}", resource_types=(VM,), tokens={"x": TextToken})
    with pytest.raises(ValueError, match="resource types"):
        SystemTag("a", resource_types=())


@pytest.mark.parametrize(
    ("pattern", "text", "token", "value"),
    [
        (STATIC_IP, f"staticIp::{L3}::10.0.0.300", "ip", "10.0.0.300"),
        (STATIC_IP, f"staticIp::{L3}::fd00::1", "ip", "fd00::1"),
        (STATIC_IP, "staticIp::not-a-uuid::10.0.0.1", "l3Uuid", "not-a-uuid"),
        (STATIC_IP, f"staticIp::{L3}::", "ip", ""),
        (HOSTNAME, "hostname::-web", "hostname", "-web"),
        (HOSTNAME, "hostname::web_1", "hostname", "web_1"),
        (HOSTNAME, f"hostname::{'a' * 64}", "hostname", "a" * 64),
        (HOSTNAME, "hostname::a..b", "hostname", "a..b"),
        (RESERVED_MEMORY, "reservedMemory::2X", "size", "2X"),
        (RESERVED_MEMORY, "reservedMemory::-1G", "size", "-1G"),
        (RESERVED_MEMORY, "reservedMemory::1.5G", "size", "1.5G"),
    ],
)
def test_each_token_validator_names_the_bad_token(
    pattern: SystemTag, text: str, token: str, value: str
) -> None:
    with pytest.raises(PermanentError) as exc:
        pattern.parse(text)
    err = exc.value.error
    assert err.code == "TAG.1001"
    assert err.extra["token"] == token
    assert err.extra["value"] == value
    assert repr(token) in err.details
    assert repr(value) in err.details
    kwargs = {name: "x" for name in pattern.tokens} | {token: value}
    with pytest.raises(PermanentError):
        pattern.format(**kwargs)


def test_sizes_and_hostnames() -> None:
    assert parse_size("512") == 512
    assert parse_size("512M") == 512 * 1024**2
    assert parse_size("2g") == 2 * 1024**3
    assert parse_size("1TB") == 1024**4
    assert HOSTNAME.parse(f"hostname::{'a' * 63}.b")["hostname"].startswith("a")
    assert HOSTNAME.parse("hostname::1host")  # RFC 1123 allows a leading digit


def test_sensitive_values_stay_out_of_errors_and_output() -> None:
    text = "console::password::s3cret"
    assert CONSOLE_PASSWORD.mask(text) == "console::password::***"
    assert HOSTNAME.mask("hostname::web") == "hostname::web"  # not sensitive
    with pytest.raises(PermanentError) as exc:
        CONSOLE_PASSWORD.parse("console::password::a::b")
    assert "a::b" not in str(exc.value)
    assert exc.value.error.extra["value"] == "***"


# -- registry -------------------------------------------------------------------------------


def test_registry_registration_and_find(registry: TagRegistry) -> None:
    with pytest.raises(ValueError, match="twice"):
        registry.add(
            SystemTag(
                "hostname::{hostname}", resource_types=(HOST,), tokens={"hostname": TextToken}
            )
        )
    stranger = SystemTag("x::{y}", resource_types=(VM,), tokens={"y": TextToken})
    with pytest.raises(ValueError, match="not registered"):
        registry.listen(stranger, Recorder("r", []))
    assert registry.find("hostname::web", VM) is HOSTNAME
    assert registry.find("hostname::web", HOST) is None
    assert registry.tags(HOST) == [RESERVED_MEMORY]
    # of two matching patterns, the more specific wins
    general = SystemTag(
        "console::{what}::{value}",
        resource_types=(VM,),
        tokens={"what": TextToken, "value": TextToken},
    )
    registry.add(general)
    assert registry.find("console::password::x", VM) is CONSOLE_PASSWORD
    assert registry.find("console::keymap::x", VM) is general


def test_registry_validates(registry: TagRegistry) -> None:
    assert registry.validate_system_tag("hostname::web", VM, is_admin=False) is HOSTNAME
    with pytest.raises(PermanentError) as exc:
        registry.validate_system_tag("nonsense::1", VM, is_admin=True)
    assert code_of(exc) == "TAG.1002"
    with pytest.raises(PermanentError) as exc:
        registry.validate_system_tag("reservedMemory::1G", VM, is_admin=True)
    assert code_of(exc) == "TAG.1002"
    assert "Host" in exc.value.error.details
    with pytest.raises(PermanentError) as exc:
        registry.validate_system_tag("reservedMemory::1G", HOST, is_admin=False)
    assert code_of(exc) == "TAG.1003"
    with pytest.raises(PermanentError) as exc:
        registry.validate_system_tag("reservedMemory::lots", HOST, is_admin=True)
    assert code_of(exc) == "TAG.1001"
    assert (
        registry.validate_system_tag("reservedMemory::1G", HOST, is_admin=True) is RESERVED_MEMORY
    )


# -- service --------------------------------------------------------------------------------


async def test_system_and_user_tags_are_stored_and_listed(db: Database, tags: TagService) -> None:
    vm = str(uuid.uuid4())
    async with db.session() as s, s.begin():
        row = await tags.create_system_tag(s, vm, VM, "hostname::web-1", is_admin=False)
        await tags.create_user_tag(s, vm, VM, "  team: blue  ")
    async with db.session() as s:
        listed = await tags.tags_of(s, vm)
        assert [(t.type, t.tag) for t in listed] == [
            ("System", "hostname::web-1"),
            ("User", "team: blue"),
        ]
        assert listed[0].uuid == row.uuid and listed[0].resourceType == VM
        assert listed[0].createDate.tzinfo is not None
        assert [t.tag for t in await tags.tags_of(s, vm, kind="user")] == ["team: blue"]
        assert await tags.tags_of(s, str(uuid.uuid4())) == []


async def test_unknown_and_admin_only_tags_are_refused(db: Database, tags: TagService) -> None:
    host = str(uuid.uuid4())
    async with db.session() as s, s.begin():
        with pytest.raises(PermanentError) as exc:
            await tags.create_system_tag(s, host, HOST, "hostname::h1", is_admin=True)
        assert code_of(exc) == "TAG.1002"
        with pytest.raises(PermanentError) as exc:
            await tags.create_system_tag(s, host, HOST, "reservedMemory::1G", is_admin=False)
        assert code_of(exc) == "TAG.1003"
        row = await tags.create_system_tag(s, host, HOST, "reservedMemory::1G", is_admin=True)
    async with db.session() as s, s.begin():
        with pytest.raises(PermanentError) as exc:
            await tags.delete_tag(s, row.uuid, is_admin=False)
        assert code_of(exc) == "TAG.1003"
    async with db.session() as s, s.begin():
        await tags.delete_tag(s, row.uuid, is_admin=True)
        with pytest.raises(PermanentError) as exc:
            await tags.delete_tag(s, row.uuid, is_admin=True)
        assert code_of(exc) == "TAG.1005"


async def test_sensitive_tags_are_masked_unless_revealed(db: Database, tags: TagService) -> None:
    vm = str(uuid.uuid4())
    async with db.session() as s, s.begin():
        row = await tags.create_system_tag(s, vm, VM, "console::password::s3cret", is_admin=True)
    assert tags.inventory(row).tag == "console::password::***"
    async with db.session() as s:
        assert [t.tag for t in await tags.tags_of(s, vm)] == ["console::password::***"]
        revealed = await tags.tags_of(s, vm, reveal_sensitive=True)
        assert [t.tag for t in revealed] == ["console::password::s3cret"]
        assert await tags.system_tag_value(s, vm, CONSOLE_PASSWORD) == {"password": "s3cret"}


async def test_unique_pattern_and_duplicates_are_refused(db: Database, tags: TagService) -> None:
    vm = str(uuid.uuid4())
    async with db.session() as s, s.begin():
        await tags.create_system_tag(s, vm, VM, "hostname::web-1", is_admin=True)
        await tags.create_system_tag(s, vm, VM, f"staticIp::{L3}::10.0.0.1", is_admin=True)
        await tags.create_system_tag(s, vm, VM, f"staticIp::{L3}::10.0.0.2", is_admin=True)
        await tags.create_user_tag(s, vm, VM, "blue")
        for text in ("hostname::web-2", "hostname::web-1", f"staticIp::{L3}::10.0.0.1"):
            with pytest.raises(PermanentError) as exc:
                await tags.create_system_tag(s, vm, VM, text, is_admin=True)
            assert code_of(exc) == "TAG.1004", text
        with pytest.raises(PermanentError) as exc:
            await tags.create_user_tag(s, vm, VM, " blue ")
        assert code_of(exc) == "TAG.1004"
        # another resource may have the same tags
        await tags.create_system_tag(s, str(uuid.uuid4()), VM, "hostname::web-1", is_admin=True)
    async with db.session() as s:
        assert len(await tags.tags_of(s, vm)) == 4


async def test_user_tags_are_bounded_text(db: Database, tags: TagService) -> None:
    vm = str(uuid.uuid4())
    async with db.session() as s, s.begin():
        for text in ("", "   \n", "x" * 2049):
            with pytest.raises(PermanentError) as exc:
                await tags.create_user_tag(s, vm, VM, text)
            assert code_of(exc) == "TAG.1001"
        row = await tags.create_user_tag(s, vm, VM, "x" * 2048)
        assert len(row.tag) == 2048
        with pytest.raises(PermanentError) as exc:
            await tags.create_system_tag(s, vm, VM, "hostname::" + "a" * 2048, is_admin=True)
        assert code_of(exc) == "TAG.1001"


async def test_listeners_run_in_order_on_create_and_delete(
    db: Database, registry: TagRegistry, tags: TagService
) -> None:
    calls: list[tuple[str, str, str, str]] = []
    first, second = Recorder("first", calls), Recorder("second", calls)
    registry.listen(HOSTNAME, first)
    registry.listen(HOSTNAME, second)
    vm = str(uuid.uuid4())
    async with db.session() as s, s.begin():
        row = await tags.create_system_tag(s, vm, VM, "hostname::web", is_admin=True)
        await tags.create_system_tag(s, vm, VM, f"staticIp::{L3}::10.0.0.1", is_admin=True)
        await tags.create_user_tag(s, vm, VM, "hostname::web")  # a user tag is just text
    assert calls == [
        ("first", "created", vm, "hostname::web"),
        ("second", "created", vm, "hostname::web"),
    ]
    assert first.seen_rows == [1]
    calls.clear()
    async with db.session() as s, s.begin():
        await tags.delete_tag(s, row.uuid, is_admin=True, resource_uuid=vm)
    assert calls == [
        ("first", "deleted", vm, "hostname::web"),
        ("second", "deleted", vm, "hostname::web"),
    ]


async def test_a_raising_listener_aborts_the_create(
    db: Database, registry: TagRegistry, tags: TagService
) -> None:
    calls: list[tuple[str, str, str, str]] = []
    registry.listen(HOSTNAME, Recorder("refuses", calls, fail=True))
    registry.listen(HOSTNAME, Recorder("never", calls))
    vm = str(uuid.uuid4())
    with pytest.raises(PermanentError) as exc:
        async with db.session() as s, s.begin():
            await tags.create_system_tag(s, vm, VM, "hostname::web", is_admin=True)
    assert code_of(exc) == "VM.9999"
    assert calls == [("refuses", "created", vm, "hostname::web")]
    async with db.session() as s:
        assert await tags.tags_of(s, vm) == []
        assert (await s.scalars(select(TagRow))).all() == []


async def test_delete_all_for_takes_every_tag_and_tells_listeners(
    db: Database, registry: TagRegistry, tags: TagService
) -> None:
    calls: list[tuple[str, str, str, str]] = []
    registry.listen(STATIC_IP, Recorder("ip", calls))
    vm, other = str(uuid.uuid4()), str(uuid.uuid4())
    ip_tag = f"staticIp::{L3}::10.0.0.1"
    async with db.session() as s, s.begin():
        for resource in (vm, other):
            await tags.create_system_tag(s, resource, VM, ip_tag, is_admin=True)
            await tags.create_system_tag(s, resource, VM, "hostname::web", is_admin=True)
            await tags.create_user_tag(s, resource, VM, "blue")
    calls.clear()
    async with db.session() as s, s.begin():
        assert await tags.delete_all_for(s, vm) == 3
    assert calls == [("ip", "deleted", vm, ip_tag)]
    async with db.session() as s:
        assert await tags.tags_of(s, vm) == []
        assert len(await tags.tags_of(s, other)) == 3


async def test_interpreting_point_reads(db: Database, tags: TagService) -> None:
    vm1, vm2, host = (str(uuid.uuid4()) for _ in range(3))
    other_l3 = str(uuid.uuid4())
    async with db.session() as s, s.begin():
        await tags.create_system_tag(s, vm1, VM, f"staticIp::{L3}::10.0.0.1", is_admin=True)
        await tags.create_system_tag(s, vm1, VM, f"staticIp::{other_l3}::10.0.1.1", is_admin=True)
        await tags.create_system_tag(s, vm2, VM, f"staticIp::{L3}::10.0.0.2", is_admin=True)
        await tags.create_system_tag(s, host, HOST, "reservedMemory::512M", is_admin=True)
        await tags.create_user_tag(s, host, HOST, "reservedMemory::1G")  # text, not a setting
    async with db.session() as s:
        assert await tags.system_tag_value(s, vm1, STATIC_IP) == {"l3Uuid": L3, "ip": "10.0.0.1"}
        assert await tags.system_tag_value(s, vm1, HOSTNAME) is None
        value = await tags.system_tag_value(s, host, RESERVED_MEMORY)
        assert value is not None and parse_size(value["size"]) == 512 * 1024**2
        assert await tags.resources_with(s, STATIC_IP, l3Uuid=L3) == [vm1, vm2]
        assert await tags.resources_with(s, STATIC_IP, l3Uuid=other_l3) == [vm1]
        assert await tags.resources_with(s, STATIC_IP, l3Uuid=L3, ip="10.0.0.2") == [vm2]
        assert await tags.resources_with(s, STATIC_IP, l3Uuid=L3, ip="10.0.0.9") == []
        assert sorted(await tags.resources_with(s, STATIC_IP)) == sorted([vm1, vm2])
        assert await tags.resources_with(s, RESERVED_MEMORY) == [host]
        with pytest.raises(ValueError, match="no tokens"):
            await tags.resources_with(s, STATIC_IP, mac="x")


async def test_create_handler_is_idempotent_under_redelivery(
    db: Database, tags: TagService
) -> None:
    def ctx(message_id: str) -> HandlerContext:
        return HandlerContext(
            bus=cast(Bus, None),
            message_id=message_id,
            resource_uuid=None,
            deadline=None,
            delivery_count=1,
            partition=0,
            node_id="n1",
        )

    vm = str(uuid.uuid4())
    create = CreateSystemTag(resourceUuid=vm, resourceType=VM, tag="hostname::web")
    first = await tags.handle_create_system_tag(create, ctx("m1"))
    again = await tags.handle_create_system_tag(create, ctx("m1"))
    assert again.inventory == first.inventory
    with pytest.raises(PermanentError) as exc:
        await tags.handle_create_system_tag(create, ctx("m2"))
    assert code_of(exc) == "TAG.1004"
    user = await tags.handle_create_user_tag(
        CreateUserTag(resourceUuid=vm, resourceType=VM, tag="blue"), ctx("m3")
    )
    assert user.inventory.type == "User"
    assert set(tags.handlers()) >= {CreateSystemTag, CreateUserTag}
