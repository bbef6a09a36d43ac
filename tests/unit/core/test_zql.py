"""ZQL: parsing (precedence, syntax errors with positions), compiling and running against the
small cloud of ``test_query.py`` on SQLite, visibility included."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mgmt.core.db import Database
from mgmt.core.query import (
    MAX_ZQL_LENGTH,
    And,
    Cond,
    Condition,
    Not,
    Op,
    Or,
    Ordering,
    QueryError,
    Visibility,
    ZqlPlan,
    ZqlStatement,
    compile_zql,
    owned_by,
    parse_zql,
)
from tests.unit.core.test_query import (
    ALICE,
    BOB,
    INJECTION,
    REGISTRY,
    Z1,
    Z2,
    cloud_db,
    names,
    rows,
    scalar,
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await cloud_db(tmp_path)
    yield database
    await database.close()


def plan(text: str, visibility: Visibility | None = None) -> ZqlPlan:
    return compile_zql(REGISTRY, parse_zql(text), visibility)


async def zql(db: Database, text: str, visibility: Visibility | None = None) -> list[str]:
    """Names a ``query`` statement returns, in its order; no duplicates."""
    found = await names(db, plan(text, visibility).rows)
    assert len(found) == len(set(found)), found
    return found


def syntax_error(text: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        plan(text)
    assert info.value.error.code == "QUERY.1001"
    return info.value


# -- parsing ---------------------------------------------------------------------------------


def cond(path: str, op: Op, value: str | tuple[str, ...] | None, pos: int) -> Cond:
    return Cond(Condition(tuple(path.split(".")), op, value), pos)


def test_parse_builds_the_ast() -> None:
    text = (
        "QUERY VmInstance.name,cpuNum WHERE a = 'x' OR b > 2 AND NOT c.d IS NULL "
        "ORDER BY name DESC, cpuNum LIMIT 5 OFFSET 10 RETURN WITH (TOTAL)"
    )
    stmt = parse_zql(text)
    assert stmt == ZqlStatement(
        kind="query",
        resource="VmInstance",
        fields=("name", "cpuNum"),
        where=Or(
            (
                cond("a", Op.EQ, "x", text.index("a =")),
                And(
                    (
                        cond("b", Op.GT, "2", text.index("b >")),
                        Not(cond("c.d", Op.IS_NULL, None, text.index("c.d"))),
                    )
                ),
            )
        ),
        order_by=(Ordering("name", descending=True), Ordering("cpuNum")),
        limit=5,
        offset=10,
        return_total=True,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a = 'it''s'", cond("a", Op.EQ, "it's", 0)),
        ('a = "say ""hi"""', cond("a", Op.EQ, 'say "hi"', 0)),
        ("a != -1.5e3", cond("a", Op.NE, "-1.5e3", 0)),
        ("a >= TRUE", cond("a", Op.GE, "true", 0)),
        ("a <= false", cond("a", Op.LE, "false", 0)),
        ("a < 1", cond("a", Op.LT, "1", 0)),
        ("a in ('x', 2)", cond("a", Op.IN, ("x", "2"), 0)),
        ("a not in ('x')", cond("a", Op.NOT_IN, ("x",), 0)),
        ("a like 'w%'", cond("a", Op.LIKE, "w%", 0)),
        ("a NOT LIKE 'w%'", cond("a", Op.NOT_LIKE, "w%", 0)),
        ("a is not null", cond("a", Op.NOT_NULL, None, 0)),
        ("__systemTag__ like 'hostname::%'", cond("__systemTag__", Op.LIKE, "hostname::%", 0)),
        ("((a = 1))", cond("a", Op.EQ, "1", 2)),
    ],
)
def test_parse_conditions(text: str, expected: Cond) -> None:
    stmt = parse_zql("query Zone where " + text)
    assert stmt.where == Cond(expected.condition, expected.pos + len("query Zone where "))


def test_parse_count_and_sum() -> None:
    assert parse_zql("count Zone group by state") == ZqlStatement("count", "Zone", group_by="state")
    text = "sum VmInstance.memorySize where cpuNum > 1"
    assert parse_zql(text) == ZqlStatement(
        "sum", "VmInstance", ("memorySize",), cond("cpuNum", Op.GT, "1", text.index("cpuNum"))
    )


@pytest.mark.parametrize(
    ("text", "position", "token"),
    [
        ("", 1, "<end>"),
        ("select * from Zone", 1, "select"),
        ("query", 6, "<end>"),
        ("query VmInstance wher name = 'x'", 18, "wher"),
        ("query VmInstance where name = ", 31, "<end>"),
        ("query VmInstance where name == 'x'", 30, "="),
        ("query VmInstance where name = 'x", 31, "'x"),
        ("query VmInstance where (name = 'x'", 35, "<end>"),
        ("query VmInstance where name = 'x')", 34, ")"),
        ("query VmInstance where name ; 1", 29, ";"),
        ("query VmInstance where name not = 1", 33, "="),
        ("query VmInstance where name is 'x'", 32, "'x'"),
        ("query VmInstance where name in ()", 33, ")"),
        ("query VmInstance where name = 'x' and * = 1", 39, "*"),
        ("query VmInstance where name = 12ab", 31, "12ab"),
        ("query VmInstance where name = 1 and", 36, "<end>"),
        ("query VmInstance where name = x", 31, "x"),
        ("query VmInstance limit -1", 24, "-1"),
        ("query VmInstance limit 1.5", 24, "1.5"),
        ("query VmInstance return with total", 30, "total"),
        ("count VmInstance order by name", 18, "order"),
        ("sum VmInstance where cpuNum = 1", 16, "where"),
        ("query VmInstance.", 18, "<end>"),
    ],
)
def test_syntax_errors_name_position_and_token(text: str, position: int, token: str) -> None:
    err = syntax_error(text)
    assert err.error.extra["position"] == position
    assert err.error.extra["token"].startswith(token)
    assert f"at position {position}" in err.error.details


def test_limits_on_size_and_nesting() -> None:
    err = syntax_error("query Zone where " + "name = 'x' or " * 400 + "name = 'y'")
    assert str(MAX_ZQL_LENGTH) in err.error.details
    syntax_error("query Zone where " + "(" * 40 + "name = 'x'" + ")" * 40)
    syntax_error("query Zone where " + "not " * 40 + "name = 'x'")
    syntax_error("query VmInstance where " + "vmNics.vm." * 5 + "name = 'x'")
    assert plan("query Zone where " + "(" * 30 + "name = 'x'" + ")" * 30).kind == "query"


def test_compile_errors_name_the_token_and_position() -> None:
    err = syntax_error("query Nope")
    assert err.error.extra["token"] == "Nope"
    err = syntax_error("query Zone where name = 'x' and foo = 1")
    assert "unknown field 'foo' on 'Zone'" in err.error.details
    assert err.error.extra["position"] == 33
    err = syntax_error("query VmInstance where Name = 'web-1'")  # keywords fold, fields not
    assert "unknown field 'Name' on 'VmInstance'" in err.error.details
    err = syntax_error("query VmInstance where cpuNum = 'many'")
    assert err.error.extra == {"token": "many", "field": "cpuNum", "position": 24}
    assert syntax_error("query VmInstance.nope").error.extra["token"] == "nope"
    assert syntax_error("query VmInstance order by nope").error.extra["token"] == "nope"
    assert syntax_error("query VmInstance limit 10001").error.extra["token"] == "10001"
    assert syntax_error("count VmInstance group by nope").error.extra["token"] == "nope"
    assert syntax_error("sum VmInstance.name").error.extra["token"] == "name"
    assert syntax_error("sum VmInstance.ha").error.extra["token"] == "ha"


# -- running queries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # and binds tighter than or
        ("state = 'Running' and cpuNum > 2 or name = 'web-2'", ["db-1", "web-2"]),
        ("name = 'web-2' or state = 'Running' and cpuNum > 2", ["db-1", "web-2"]),
        ("state = 'Running' and (cpuNum > 2 or name = 'web-2')", ["db-1"]),
        ("not state = 'Running'", ["web-2", INJECTION]),
        ("not (state = 'Running' or cpuNum = 4)", [INJECTION]),
        ("not not name = 'b-vm'", ["b-vm"]),
        ("name = 'web-1' OR name = 'db-1' AND NOT cpuNum IN (8)", ["web-1"]),
        ("name in ('web-1', 'db-1')", ["db-1", "web-1"]),
        ("name not in ('web-1', 'db-1')", ["b-vm", "web-2", INJECTION]),
        ("cpuNum in (1, 8)", ["b-vm", "db-1", INJECTION]),
        ("name like 'web-%'", ["web-1", "web-2"]),
        ("name not like 'web-%'", ["b-vm", "db-1", INJECTION]),
        ("description is null", ["b-vm", "web-2", INJECTION]),
        ("description is not null", ["db-1", "web-1"]),
        ("ha = true", ["web-1"]),
        ("cpuNum >= 4 and cpuNum <= 8 and cpuNum != 8", ["web-2"]),
        ("createDate < '2024-02-15T00:00:00+00:00'", ["web-1", "web-2"]),
        ("vmNics.l3Network.name = 'public'", ["web-1"]),
        ("not vmNics.l3Network.name = 'public'", ["b-vm", "db-1", "web-2", INJECTION]),
        ("zone.clusters.name = 'cluster-3' and vmNics.ip is null", []),
        ("__systemTag__ like 'hostname::%' and __userTag__ = 'env::prod'", ["web-1"]),
        (f"name = '{INJECTION.replace(chr(39), chr(39) * 2)}'", [INJECTION]),
        ("name = \"x' OR '1'='1\"", [INJECTION]),
        ("name = 'x'' OR ''1''=''1'' --'", []),
    ],
)
async def test_where(db: Database, where: str, expected: list[str]) -> None:
    assert sorted(await zql(db, f"query VmInstance where {where}")) == sorted(expected)


async def test_order_limit_offset_and_total(db: Database) -> None:
    text = "query VmInstance order by memorySize desc limit 2 offset 1"
    assert await zql(db, text) == ["web-2", "web-1"]
    assert await zql(db, "query VmInstance order by state, memorySize asc") == [
        "b-vm",
        "web-1",
        "db-1",
        INJECTION,
        "web-2",
    ]
    found = plan("query vminstance where state = 'Running' limit 1 return with (total)")
    assert found.return_total and found.total is not None
    assert len(await names(db, found.rows)) == 1
    assert await scalar(db, found.total) == 3
    assert plan("query VmInstance").total is None


async def test_field_projection(db: Database) -> None:
    found = plan("query VmInstance.name,cpuNum,name where cpuNum > 2 order by name")
    assert found.fields == ("name", "cpuNum")
    async with db.session() as session:
        result = (await session.execute(found.rows)).mappings().all()
    assert [dict(r) for r in result] == [
        {"name": "db-1", "cpuNum": 8},
        {"name": "web-2", "cpuNum": 4},
    ]


async def test_count(db: Database) -> None:
    assert await scalar(db, plan("count VmInstance").rows) == 5
    assert await scalar(db, plan("count VmInstance where state = 'Running'").rows) == 3
    grouped = plan("count VmInstance group by zoneUuid")
    assert grouped.kind == "count" and grouped.group_by == "zoneUuid"
    assert await rows(db, grouped.rows) == [(Z1, 3), (Z2, 2)]
    alice = owned_by(ALICE)
    assert await rows(db, plan("COUNT VmInstance GROUP BY state", alice).rows) == [
        ("Running", 2),
        ("Stopped", 1),
    ]


async def test_sum(db: Database) -> None:
    assert await scalar(db, plan("sum VmInstance.memorySize").rows) == 15872
    found = plan("sum VmInstance.memorySize where cpuNum > 1 group by state")
    assert found.kind == "sum"
    assert await rows(db, found.rows) == [("Running", 10240), ("Stopped", 4096)]
    assert await rows(db, plan("sum VmInstance.cpuNum group by state", owned_by(BOB)).rows) == [
        ("Running", 1),
        ("Stopped", 1),
    ]
    assert await scalar(db, plan("sum VmInstance.cpuNum where name = 'none'").rows) is None


async def test_visibility_applies_to_zql(db: Database) -> None:
    alice = owned_by(ALICE)
    assert sorted(await zql(db, "query VmInstance", alice)) == ["db-1", "web-1", "web-2"]
    probe = "query VmInstance where vmNics.l3Network.name = 'b-secret'"
    assert sorted(await zql(db, probe)) == ["b-vm", "web-2"]
    assert await zql(db, probe, alice) == []
    negated = "query VmInstance where not vmNics.l3Network.name like 'b-%'"
    assert sorted(await zql(db, negated, alice)) == ["db-1", "web-1", "web-2"]
    assert await scalar(db, plan(f"count VmInstance where {probe[23:]}", alice).rows) == 0
    total = plan("query VmInstance limit 1 return with (total)", owned_by(BOB)).total
    assert total is not None and await scalar(db, total) == 2


# -- fuzz ------------------------------------------------------------------------------------

FUZZ_PATHS: tuple[str, ...] = (
    "name",
    "cpuNum",
    "memorySize",
    "createDate",
    "ha",
    "state",
    "description",
)
FUZZ_PATHS += ("vmNics.ip", "vmNics.l3Network.name", "zone.name", "__systemTag__", "foo")
FUZZ_VALUES: tuple[str, ...] = (
    "'web-%'",
    "'",
    '"x"',
    "1",
    "-2.5",
    "10001",
    "true",
    "'2024-01-01'",
    "'a''b'",
)
FUZZ_VALUES += ("1e999", "'\x00'", "99999999999999999999", "'é'", "x", "null", "'1' or '1'='1'")
FUZZ_WORDS: tuple[str, ...] = (
    "(",
    ")",
    ",",
    ".",
    "and",
    "or",
    "not",
    "=",
    "in",
    "like",
    "is",
    "@",
    "where",
)


def fuzz_cond(rng: random.Random) -> str:
    path, value = rng.choice(FUZZ_PATHS), rng.choice(FUZZ_VALUES)
    return rng.choice(
        (
            f"{path} {rng.choice(('=', '!=', '>', '>=', '<', '<='))} {value}",
            f"{path} is {rng.choice(('', 'not '))}null",
            f"{path} {rng.choice(('', 'not '))}in ( {value} , {rng.choice(FUZZ_VALUES)} )",
            f"{path} {rng.choice(('', 'not '))}like {value}",
        )
    )


def fuzz_expr(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 3 or roll < 0.4:
        return fuzz_cond(rng)
    if roll < 0.55:
        return "not " + fuzz_expr(rng, depth + 1)
    if roll < 0.7:
        return f"( {fuzz_expr(rng, depth + 1)} )"
    joiner = rng.choice(("and", "or"))
    return f"{fuzz_expr(rng, depth + 1)} {joiner} {fuzz_expr(rng, depth + 1)}"


def fuzz_zql(rng: random.Random) -> str:
    """A statement from the grammar, with random values, then often mutated token-wise."""
    where = f" where {fuzz_expr(rng)}" if rng.random() < 0.8 else ""
    field, group = rng.choice(FUZZ_PATHS[:7]), rng.choice(("", " group by state", " group by foo"))
    text = rng.choice(
        (
            f"query VmInstance{where} order by {field} desc limit {rng.randint(0, 3)} offset 1",
            f"query vminstance.name,{field}{where} return with ( total )",
            f"count VmInstance{where}{group}",
            f"sum VmInstance.{field}{where}{group}",
            f"query Zone{where}",
        )
    )
    words = text.split(" ")
    for _ in range(rng.choice((0, 0, 1, 2))):
        at = rng.randrange(len(words))
        mutation = rng.random()
        if mutation < 0.3:
            del words[at]
        elif mutation < 0.7:
            words.insert(at, rng.choice(FUZZ_WORDS + FUZZ_VALUES))
        else:
            words[at] = rng.choice(FUZZ_WORDS + FUZZ_PATHS)
    return ("" if rng.random() < 0.1 else " ").join(words) or " "


async def test_fuzz_zql_only_raises_query_errors(db: Database) -> None:
    rng = random.Random(4096)
    alice = owned_by(ALICE)
    executed = 0
    async with db.session() as session:
        for _ in range(2000):
            text = fuzz_zql(rng)
            try:
                found = plan(text, alice)
            except QueryError:
                continue
            for stmt in (found.rows, found.total):
                if stmt is not None:
                    (await session.execute(stmt)).all()
            executed += 1
    assert executed > 250  # the fuzz reaches the database, not only the parser
