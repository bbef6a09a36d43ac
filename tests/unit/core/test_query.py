"""REST query conditions (``q=``) over a small cloud on SQLite: operators, nested paths,
tags, paging, projections, grouping, visibility and errors. The cloud is shared with
``test_zql.py``."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mgmt.core.db import Database
from mgmt.core.db.types import UtcDateTime
from mgmt.core.errors import PermanentError
from mgmt.core.query import (
    AnySelect,
    Condition,
    Op,
    QueryableResource,
    QueryError,
    QueryRegistry,
    Relation,
    Visibility,
    build_select,
    owned_by,
    parse_condition,
)
from mgmt.core.tags import SYSTEM, USER, TagRow

ADMIN, ALICE, BOB = "admin", "alice", "bob"


class CloudBase(DeclarativeBase):
    """Test models only: not ``mgmt.core.db.Base``, whose tables must match migrations."""


class Zone(CloudBase):
    __tablename__ = "q_zone"
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(36))


class Cluster(CloudBase):
    __tablename__ = "q_cluster"
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    zone_uuid: Mapped[str] = mapped_column(ForeignKey("q_zone.uuid"))


class L3Network(CloudBase):
    __tablename__ = "q_l3"
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str] = mapped_column(String(36))


class VmInstance(CloudBase):
    __tablename__ = "q_vm"
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32))
    cpu_num: Mapped[int]
    memory_size: Mapped[int]
    ha: Mapped[bool]
    create_date: Mapped[datetime] = mapped_column(UtcDateTime)
    owner: Mapped[str] = mapped_column(String(36))
    zone_uuid: Mapped[str] = mapped_column(ForeignKey("q_zone.uuid"))


class VmNic(CloudBase):
    __tablename__ = "q_vm_nic"
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    vm_uuid: Mapped[str] = mapped_column(ForeignKey("q_vm.uuid"))
    l3_uuid: Mapped[str] = mapped_column(ForeignKey("q_l3.uuid"))
    ip: Mapped[str] = mapped_column(String(64))


def cloud_registry() -> QueryRegistry:
    registry = QueryRegistry()
    registry.add(
        QueryableResource(
            name="Zone",
            model=Zone,
            uuid=Zone.uuid,
            fields={"uuid": Zone.uuid, "name": Zone.name, "state": Zone.state},
            relations={
                "clusters": Relation("clusters", "Cluster", Zone.uuid, Cluster.zone_uuid),
            },
            owner=Zone.owner,
        )
    )
    registry.add(
        QueryableResource(
            name="Cluster",
            model=Cluster,
            uuid=Cluster.uuid,
            fields={"uuid": Cluster.uuid, "name": Cluster.name, "zoneUuid": Cluster.zone_uuid},
            relations={"zone": Relation("zone", "Zone", Cluster.zone_uuid, Zone.uuid)},
        )
    )
    registry.add(
        QueryableResource(
            name="L3Network",
            model=L3Network,
            uuid=L3Network.uuid,
            fields={"uuid": L3Network.uuid, "name": L3Network.name},
            owner=L3Network.owner,
        )
    )
    registry.add(
        QueryableResource(
            name="VmInstance",
            model=VmInstance,
            uuid=VmInstance.uuid,
            fields={
                "uuid": VmInstance.uuid,
                "name": VmInstance.name,
                "description": VmInstance.description,
                "state": VmInstance.state,
                "cpuNum": VmInstance.cpu_num,
                "memorySize": VmInstance.memory_size,
                "ha": VmInstance.ha,
                "createDate": VmInstance.create_date,
                "zoneUuid": VmInstance.zone_uuid,
            },
            relations={
                "vmNics": Relation("vmNics", "VmNic", VmInstance.uuid, VmNic.vm_uuid),
                "zone": Relation("zone", "Zone", VmInstance.zone_uuid, Zone.uuid),
            },
            owner=VmInstance.owner,
        )
    )
    registry.add(
        QueryableResource(
            name="VmNic",
            model=VmNic,
            uuid=VmNic.uuid,
            fields={"uuid": VmNic.uuid, "ip": VmNic.ip, "l3NetworkUuid": VmNic.l3_uuid},
            relations={
                "l3Network": Relation("l3Network", "L3Network", VmNic.l3_uuid, L3Network.uuid),
                "vm": Relation("vm", "VmInstance", VmNic.vm_uuid, VmInstance.uuid),
            },
        )
    )
    registry.validate()
    return registry


REGISTRY = cloud_registry()
Z1, Z2 = "z1", "z2"
PUBLIC, PRIVATE_A, SECRET_B = "l3-public", "l3-private-a", "l3-secret-b"
INJECTION = "x' OR '1'='1"


def day(month: int) -> datetime:
    return datetime(2024, month, 1, tzinfo=UTC)


def vm(name: str, state: str, cpu: int, mem: int, month: int, owner: str, **kw: Any) -> VmInstance:
    return VmInstance(
        uuid=f"vm-{name}",
        name=name,
        state=state,
        cpu_num=cpu,
        memory_size=mem,
        ha=kw.get("ha", False),
        description=kw.get("description"),
        create_date=day(month),
        owner=owner,
        zone_uuid=kw.get("zone", Z1),
    )


def nic(vm_name: str, l3: str, ip: str) -> VmNic:
    return VmNic(uuid=str(uuid.uuid4()), vm_uuid=f"vm-{vm_name}", l3_uuid=l3, ip=ip)


def tag(resource_uuid: str, resource_type: str, kind: str, text: str) -> TagRow:
    return TagRow(
        uuid=str(uuid.uuid4()),
        resource_uuid=resource_uuid,
        resource_type=resource_type,
        kind=kind,
        tag=text,
    )


def seed_rows() -> list[Any]:
    """Alice: web-1 (2 NICs on public, 1 on private-a), web-2 (private-a and Bob's secret
    network), db-1 (no NIC). Bob: b-vm (secret), and a VM named like an injection."""
    return [
        Zone(uuid=Z1, name="zone-1", state="Enabled", owner=ADMIN),
        Zone(uuid=Z2, name="zone-2", state="Disabled", owner=ADMIN),
        Cluster(uuid="c1", name="cluster-1", zone_uuid=Z1),
        Cluster(uuid="c2", name="cluster-2", zone_uuid=Z1),
        Cluster(uuid="c3", name="cluster-3", zone_uuid=Z2),
        L3Network(uuid=PUBLIC, name="public", owner=ALICE),
        L3Network(uuid=PRIVATE_A, name="private-a", owner=ALICE),
        L3Network(uuid=SECRET_B, name="b-secret", owner=BOB),
        vm("web-1", "Running", 2, 2048, 1, ALICE, description="frontend", ha=True),
        vm("web-2", "Stopped", 4, 4096, 2, ALICE),
        vm("db-1", "Running", 8, 8192, 3, ALICE, description="database", zone=Z2),
        vm("b-vm", "Running", 1, 1024, 4, BOB),
        vm(INJECTION, "Stopped", 1, 512, 5, BOB, zone=Z2),
        nic("web-1", PUBLIC, "10.0.0.1"),
        nic("web-1", PUBLIC, "10.0.0.2"),
        nic("web-1", PRIVATE_A, "192.168.0.1"),
        nic("web-2", PRIVATE_A, "192.168.0.2"),
        nic("web-2", SECRET_B, "172.16.0.1"),
        nic("b-vm", SECRET_B, "172.16.0.2"),
        tag("vm-web-1", "VmInstance", SYSTEM, "hostname::web1"),
        tag("vm-web-1", "VmInstance", USER, "env::prod"),
        tag("vm-web-2", "VmInstance", SYSTEM, "hostname::web2"),
        tag("vm-db-1", "VmInstance", USER, "env::dev"),
        tag("vm-b-vm", "VmInstance", SYSTEM, "hostname::bvm"),
        tag(PUBLIC, "L3Network", USER, "shared"),
        # the same text on another resource type must not make db-1 match
        tag("vm-db-1", "Host", SYSTEM, "hostname::web1"),
    ]


async def cloud_db(tmp_path: Path) -> Database:
    """The small cloud in a fresh SQLite file, with the real ``tag`` table; caller closes."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/q.db")
    async with database.engine.begin() as conn:
        await conn.run_sync(CloudBase.metadata.create_all)
        await conn.run_sync(TagRow.metadata.tables[TagRow.__tablename__].create)  # __table__
    async with database.session() as session, session.begin():
        for row in seed_rows():  # one by one: parents before the rows referring to them
            session.add(row)
            await session.flush()
    return database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await cloud_db(tmp_path)
    yield database
    await database.close()


async def names(db: Database, stmt: AnySelect) -> list[str]:
    """Names of the VMs (or any entity with a name) a statement returns, in order."""
    async with db.session() as session:
        return [row.name for row in (await session.execute(stmt)).scalars().all()]


async def rows(db: Database, stmt: AnySelect) -> list[tuple[Any, ...]]:
    async with db.session() as session:
        return [tuple(r) for r in (await session.execute(stmt)).all()]


async def scalar(db: Database, stmt: AnySelect) -> Any:
    async with db.session() as session:
        return (await session.execute(stmt)).scalar_one()


async def query(
    db: Database,
    *q: str,
    resource: str = "VmInstance",
    visibility: Visibility | None = None,
    **kw: Any,
) -> list[str]:
    """Sorted names matching ``q`` conditions; also checks ``count`` agrees and no
    duplicates came back."""
    plan = build_select(
        REGISTRY, resource, [parse_condition(c) for c in q], visibility=visibility, **kw
    )
    found = await names(db, plan.rows)
    assert len(found) == len(set(found)), found
    assert await scalar(db, plan.count) == len(found)
    return sorted(found)


def qerror(call: Any, *args: Any, **kw: Any) -> QueryError:
    with pytest.raises(QueryError) as info:
        call(*args, **kw)
    assert isinstance(info.value, PermanentError)
    assert info.value.error.code == "QUERY.1001"
    assert info.value.error.description == "Invalid query"
    return info.value


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name=web-1", Condition(("name",), Op.EQ, "web-1")),
        ("name=a=b", Condition(("name",), Op.EQ, "a=b")),
        ("cpuNum!=2", Condition(("cpuNum",), Op.NE, "2")),
        ("cpuNum>2", Condition(("cpuNum",), Op.GT, "2")),
        ("cpuNum>=2", Condition(("cpuNum",), Op.GE, "2")),
        ("cpuNum<2", Condition(("cpuNum",), Op.LT, "2")),
        ("cpuNum<=2", Condition(("cpuNum",), Op.LE, "2")),
        ("name?=a,b", Condition(("name",), Op.IN, ("a", "b"))),
        ("name!?=a,b", Condition(("name",), Op.NOT_IN, ("a", "b"))),
        ("name~=web-%", Condition(("name",), Op.LIKE, "web-%")),
        ("name!~=web-%", Condition(("name",), Op.NOT_LIKE, "web-%")),
        ("description is null", Condition(("description",), Op.IS_NULL)),
        ("description NOT NULL", Condition(("description",), Op.NOT_NULL)),
        ("name=x is null", Condition(("name",), Op.EQ, "x is null")),
        ("a.b.c=1", Condition(("a", "b", "c"), Op.EQ, "1")),
        ("__systemTag__~=hostname::%", Condition(("__systemTag__",), Op.LIKE, "hostname::%")),
        ("name=", Condition(("name",), Op.EQ, "")),
    ],
)
def test_parse_condition(text: str, expected: Condition) -> None:
    assert parse_condition(text) == expected


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("name^x", "^"),
        ("name!x", "!"),
        ("name", "name"),
        ("=x", "=x"),
        ("a..b=1", "a..b"),
        (".a=1", ".a"),
        ("1a=1", "1a"),
    ],
)
def test_parse_condition_errors_name_the_token(text: str, token: str) -> None:
    err = qerror(parse_condition, text)
    assert err.error.extra["token"] == token
    assert token in err.error.details


def test_too_deep_a_path_is_refused() -> None:
    qerror(parse_condition, ".".join(["vmNics"] * 12) + ".name=x")


# -- operators on the root's own fields -----------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("name=web-1", ["web-1"]),
        ("state!=Running", ["web-2", INJECTION]),
        ("cpuNum>2", ["db-1", "web-2"]),
        ("cpuNum>=4", ["db-1", "web-2"]),
        ("cpuNum<2", ["b-vm", INJECTION]),
        ("cpuNum<=2", ["b-vm", "web-1", INJECTION]),
        ("name?=web-1,db-1,nope", ["db-1", "web-1"]),
        ("name!?=web-1,db-1", ["b-vm", "web-2", INJECTION]),
        ("cpuNum?=1,8", ["b-vm", "db-1", INJECTION]),
        ("name~=web-%", ["web-1", "web-2"]),
        ("name~=web-_", ["web-1", "web-2"]),
        ("name~=%b%", ["b-vm", "db-1", "web-1", "web-2"]),
        ("name!~=web-%", ["b-vm", "db-1", INJECTION]),
        ("memorySize~=%48", ["web-1"]),  # like on a number compares its text
        ("description is null", ["b-vm", "web-2", INJECTION]),
        ("description not null", ["db-1", "web-1"]),
        ("ha=true", ["web-1"]),
        ("ha=false", ["b-vm", "db-1", "web-2", INJECTION]),
        ("createDate>=2024-03-01T00:00:00Z", ["b-vm", "db-1", INJECTION]),
        ("createDate<2024-02-01", ["web-1"]),
        ("createDate=2024-02-01T01:00:00+01:00", ["web-2"]),  # converted to UTC
        ("zoneUuid=z2", ["db-1", INJECTION]),
    ],
)
async def test_operators(db: Database, condition: str, expected: list[str]) -> None:
    assert await query(db, condition) == sorted(expected)


async def test_conditions_are_anded(db: Database) -> None:
    assert await query(db, "state=Running", "cpuNum>1", "name~=%-1") == ["db-1", "web-1"]


async def test_no_condition_returns_everything(db: Database) -> None:
    assert len(await query(db)) == 5
    assert await query(db, resource="zone") == ["zone-1", "zone-2"]  # any case


# -- nested paths and tags -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # web-1 has two NICs on public: still one row
        ("vmNics.l3Network.name=public", ["web-1"]),
        ("vmNics.l3Network.name?=public,private-a", ["web-1", "web-2"]),
        ("vmNics.ip=10.0.0.2", ["web-1"]),
        ("vmNics.ip~=172.16.%", ["b-vm", "web-2"]),
        # "some NIC is on another network": web-1 also has one on private-a
        ("vmNics.l3Network.name!=public", ["b-vm", "web-1", "web-2"]),
        ("vmNics.uuid not null", ["b-vm", "web-1", "web-2"]),
        ("zone.name=zone-2", ["db-1", INJECTION]),
        ("zone.clusters.name=cluster-3", ["db-1", INJECTION]),
        # back to the same table through a relation: a separate alias, not the outer row
        ("vmNics.vm.name=web-1", ["web-1"]),
        ("vmNics.vm.vmNics.l3Network.name=b-secret", ["b-vm", "web-2"]),
    ],
)
async def test_nested_paths(db: Database, condition: str, expected: list[str]) -> None:
    assert await query(db, condition) == sorted(expected)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("__systemTag__=hostname::web1", ["web-1"]),
        ("__systemTag__~=hostname::%", ["b-vm", "web-1", "web-2"]),
        ("__systemTag__?=hostname::web2,hostname::bvm", ["b-vm", "web-2"]),
        ("__userTag__=env::prod", ["web-1"]),
        ("__userTag__=hostname::web1", []),  # the kind matters
        # negative forms: "has no tag matching"
        ("__systemTag__!=hostname::web1", ["b-vm", "db-1", "web-2", INJECTION]),
        ("__systemTag__!~=hostname::web%", ["b-vm", "db-1", INJECTION]),
        ("__userTag__!?=env::prod,env::dev", ["b-vm", "web-2", INJECTION]),
        ("__userTag__ is null", ["b-vm", "web-2", INJECTION]),
        ("__userTag__ not null", ["db-1", "web-1"]),
        ("vmNics.l3Network.__userTag__=shared", ["web-1"]),
    ],
)
async def test_tags(db: Database, condition: str, expected: list[str]) -> None:
    assert await query(db, condition) == sorted(expected)


# -- sort, paging, projections, counts, groups ----------------------------------------------


async def test_sort_limit_start(db: Database) -> None:
    by_memory = ["db-1", "web-2", "web-1", "b-vm", INJECTION]
    plan = build_select(REGISTRY, "VmInstance", [], visibility=None, sort="-memorySize")
    assert await names(db, plan.rows) == by_memory
    for ascending in ("+memorySize", " memorySize", "memorySize"):  # " ": a URL-decoded +
        plan = build_select(REGISTRY, "VmInstance", [], visibility=None, sort=ascending)
        assert await names(db, plan.rows) == by_memory[::-1]
    plan = build_select(
        REGISTRY, "VmInstance", [], visibility=None, sort="-memorySize", limit=2, start=1
    )
    assert await names(db, plan.rows) == ["web-2", "web-1"]
    assert await scalar(db, plan.count) == 5  # regardless of the window
    plan = build_select(REGISTRY, "VmInstance", [], visibility=None, limit=0)
    assert await names(db, plan.rows) == []


async def test_fields_select_only_those_columns(db: Database) -> None:
    plan = build_select(
        REGISTRY,
        "VmInstance",
        [parse_condition("state=Running")],
        visibility=None,
        fields=["name", "memorySize", "name"],
        sort="name",
    )
    assert plan.fields == ("name", "memorySize")
    async with db.session() as session:
        result = (await session.execute(plan.rows)).mappings().all()
    assert [dict(r) for r in result] == [
        {"name": "b-vm", "memorySize": 1024},
        {"name": "db-1", "memorySize": 8192},
        {"name": "web-1", "memorySize": 2048},
    ]


async def test_group_by_counts_per_value(db: Database) -> None:
    plan = build_select(REGISTRY, "VmInstance", [], visibility=None, group_by="state")
    assert await rows(db, plan.rows) == [("Running", 3), ("Stopped", 2)]
    assert await scalar(db, plan.count) == 5
    plan = build_select(
        REGISTRY, "VmInstance", [], visibility=None, group_by="zoneUuid", sort="-count"
    )
    assert await rows(db, plan.rows) == [(Z1, 3), (Z2, 2)]
    plan = build_select(
        REGISTRY,
        "VmInstance",
        [parse_condition("vmNics.l3Network.name=b-secret")],
        visibility=owned_by(ALICE),
        group_by="state",
    )
    assert await rows(db, plan.rows) == []


@pytest.mark.parametrize(
    ("kw", "token"),
    [
        ({"sort": "-nope"}, "nope"),
        ({"sort": "vmNics.ip"}, "vmNics.ip"),
        ({"fields": ["name", "secret"]}, "secret"),
        ({"group_by": "nope"}, "nope"),
        ({"group_by": "state", "sort": "name"}, "name"),
        ({"group_by": "state", "fields": ["name"]}, "state"),
        ({"limit": 10_001}, "10001"),
        ({"limit": -1}, "-1"),
        ({"start": -1}, "-1"),
    ],
)
def test_bad_paging_and_projection_name_the_token(kw: dict[str, Any], token: str) -> None:
    err = qerror(build_select, REGISTRY, "VmInstance", [], visibility=None, **kw)
    assert err.error.extra["token"] == token


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "field", "value"),
    [
        ("cpuNum=abc", "cpuNum", "abc"),
        ("cpuNum=1.5", "cpuNum", "1.5"),
        ("cpuNum=99999999999999999999999", "cpuNum", "99999999999999999999999"),
        ("cpuNum?=1,x", "cpuNum", "x"),
        ("ha=maybe", "ha", "maybe"),
        ("createDate>yesterday", "createDate", "yesterday"),
        ("createDate>0001-01-01T00:00:00+01:00", "createDate", "0001-01-01T00:00:00+01:00"),
        ("name=a\x00b", "name", "a\x00b"),
    ],
)
def test_bad_values_name_field_and_value(condition: str, field: str, value: str) -> None:
    err = qerror(
        build_select, REGISTRY, "VmInstance", [parse_condition(condition)], visibility=None
    )
    assert err.error.extra == {"token": value, "field": field}
    assert repr(value) in err.error.details
    assert field in err.error.details


@pytest.mark.parametrize(
    ("resource", "condition", "details"),
    [
        ("Zone", "foo=1", "unknown field 'foo' on 'Zone'"),
        ("VmInstance", "vmNics.foo=1", "unknown field 'foo' on 'VmNic'"),
        ("VmInstance", "nics.ip=1", "unknown field 'nics' on 'VmInstance'"),
        ("VmInstance", "vmNics=1", "unknown field 'vmNics' on 'VmInstance' (a relation"),
        ("VmInstance", "name.first=1", "unknown field 'name' on 'VmInstance' (a field"),
    ],
)
def test_unknown_fields_are_named(resource: str, condition: str, details: str) -> None:
    err = qerror(build_select, REGISTRY, resource, [parse_condition(condition)], visibility=None)
    assert details in err.error.details


def test_unknown_resource_is_named() -> None:
    err = qerror(build_select, REGISTRY, "Nope", [], visibility=None)
    assert err.error.extra["token"] == "Nope"
    assert "unknown resource 'Nope'" in err.error.details


# -- visibility ------------------------------------------------------------------------------


async def test_owner_sees_only_own_rows(db: Database) -> None:
    alice, bob = owned_by(ALICE), owned_by(BOB)
    assert await query(db, visibility=alice) == ["db-1", "web-1", "web-2"]
    assert await query(db, visibility=bob) == ["b-vm", INJECTION]
    assert await query(db, resource="L3Network", visibility=alice) == ["private-a", "public"]
    assert await query(db, "name=b-vm", visibility=alice) == []


async def test_nested_conditions_cannot_probe_other_tenants(db: Database) -> None:
    alice = owned_by(ALICE)
    # web-2 is Alice's, but its NIC is on Bob's network: she cannot learn its name
    assert await query(db, "vmNics.l3Network.name=b-secret") == ["b-vm", "web-2"]
    assert await query(db, "vmNics.l3Network.name=b-secret", visibility=alice) == []
    assert await query(db, "vmNics.l3Network.name~=b-%", visibility=alice) == []
    assert await query(db, "vmNics.l3Network.name~=%", visibility=alice) == ["web-1", "web-2"]
    # nor reach Bob's VMs back through the NICs
    assert await query(db, "vmNics.vm.name=b-vm") == ["b-vm"]
    assert await query(db, "vmNics.vm.name=b-vm", visibility=alice) == []
    assert await query(db, "name=b-vm", resource="L3Network", visibility=alice) == []


async def test_visibility_of_resources_without_owner(db: Database) -> None:
    # VmNic declares no owner column: visible by default, hidden when asked
    assert await query(db, "vmNics.ip=10.0.0.1", visibility=owned_by(ALICE)) == ["web-1"]
    hidden = owned_by(ALICE, unowned_visible=False)
    assert await query(db, "vmNics.ip=10.0.0.1", visibility=hidden) == []


# -- values are data -------------------------------------------------------------------------


async def test_injection_looking_values_are_just_data(db: Database) -> None:
    assert await query(db, f"name={INJECTION}") == [INJECTION]
    assert await query(db, "name=x' OR 1=1 --") == []
    assert await query(db, "name~=%' OR '1'='1") == [INJECTION]
    assert await query(db, "name?=a') OR ('1'='1,b") == []
    assert await query(db, "vmNics.ip=1' OR '1'='1") == []
    plan = build_select(
        REGISTRY, "VmInstance", [parse_condition(f"name={INJECTION}")], visibility=None
    )
    assert "OR '1'" not in str(plan.rows)  # bound, never formatted into the SQL
    assert "OR '1'" not in str(plan.count)


# -- registry --------------------------------------------------------------------------------


def test_registry_lookup_and_validation() -> None:
    assert REGISTRY.get("vminstance") is REGISTRY.get("VmInstance") is not None
    assert REGISTRY.get("Nope") is None
    assert REGISTRY.names() == ["Cluster", "L3Network", "VmInstance", "VmNic", "Zone"]
    zone = REGISTRY.get("Zone")
    assert zone is not None
    with pytest.raises(ValueError, match="added twice"):
        REGISTRY.add(zone)
    broken = QueryRegistry([zone])
    with pytest.raises(ValueError, match=r"relation Zone\.clusters targets unknown"):
        broken.validate()
    wrong_table = QueryRegistry(
        [
            QueryableResource(
                name="Zone", model=Zone, uuid=Zone.uuid, fields={"name": VmInstance.name}
            )
        ]
    )
    with pytest.raises(ValueError, match=r"Zone\.name is not a column"):
        wrong_table.validate()
    misnamed = QueryRegistry(
        [
            QueryableResource(
                name="Cluster",
                model=Cluster,
                uuid=Cluster.uuid,
                fields={},
                relations={"z": Relation("zone", "Cluster", Cluster.zone_uuid, Cluster.uuid)},
            )
        ]
    )
    with pytest.raises(ValueError, match=r"relation Cluster\.z is declared"):
        misnamed.validate()


# -- fuzz ------------------------------------------------------------------------------------

FUZZ_FIELDS: tuple[str, ...] = (
    "name",
    "cpuNum",
    "createDate",
    "ha",
    "description",
    "vmNics",
    "zone",
    "ip",
)
FUZZ_FIELDS += ("l3Network", "vm", "clusters", "__systemTag__", "__userTag__", "foo", "")
FUZZ_PATHS: tuple[str, ...] = (
    "name",
    "cpuNum",
    "createDate",
    "ha",
    "vmNics.ip",
    "vmNics.l3Network.name",
)
FUZZ_PATHS += ("zone.clusters.name", "vmNics.vm.cpuNum", "__systemTag__", "vmNics.vm.__userTag__")
FUZZ_OPS: tuple[str, ...] = (
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "?=",
    "!?=",
    "~=",
    "!~=",
    " is null",
    " not null",
)
FUZZ_OPS += ("!", "?", "~", "^", "==", "=<", " ")
FUZZ_VALUES: tuple[str, ...] = (
    "1",
    "-1",
    "1.5",
    "1e999",
    "2024-01-01",
    "2024-13-01",
    "true",
    "\x00",
    "é",
    "%",
)
FUZZ_VALUES += ("99999999999999999999", ",", "'", '"', "web-1", "is", "null", ".", "_", " ")


def fuzz_condition(rng: random.Random) -> str:
    """Mostly field-path, operator, value (so conditions reach the database), sometimes soup."""
    if rng.random() < 0.5:
        path = rng.choice(FUZZ_PATHS)
    else:
        path = ".".join(rng.choice(FUZZ_FIELDS) for _ in range(rng.choice((1, 2, 3))))
    value = "".join(rng.choice(FUZZ_VALUES) for _ in range(rng.randint(0, 3)))
    text = path + rng.choice(FUZZ_OPS) + value
    if rng.random() < 0.2:
        chars = list(text)
        rng.shuffle(chars)
        text = "".join(chars)
    return text


async def test_fuzz_conditions_only_raise_query_errors(db: Database) -> None:
    rng = random.Random(20240601)
    alice = owned_by(ALICE)
    executed = 0
    async with db.session() as session:
        for _ in range(2000):
            text = fuzz_condition(rng)
            try:
                cond = parse_condition(text)
                plan = build_select(REGISTRY, "VmInstance", [cond], visibility=alice)
            except QueryError:
                continue
            (await session.execute(plan.rows)).all()
            await session.execute(plan.count)
            executed += 1
    assert executed > 300  # the fuzz reaches the database, not only the parser
