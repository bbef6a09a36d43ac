"""IPAM on a real database (SQLite, the schema from the migrations): strategies, static
IPs, idempotence by holder, release and reuse, exhaustion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mgmt.core.db import Database, utcnow
from mgmt.core.db.migrate import upgrade
from mgmt.core.errors import PermanentError
from mgmt.network import IpRequest, Strategy, allocate_ip, ip_capacity, release_ips
from mgmt.network.ipmath import subnet_of_range
from mgmt.network.models import IpRangeRow, L2NetworkRow, L3NetworkRow
from mgmt.zone.models import ZoneRow

L3 = "l3-a"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/ipam.db")
    await upgrade(database)
    now = utcnow()
    common = {
        "description": "",
        "owner_account_uuid": "admin",
        "created_at": now,
        "updated_at": now,
    }
    subnet = subnet_of_range("10.0.0.1", "10.0.0.6", "255.255.255.0", "10.0.0.1")
    async with database.session() as s, s.begin():
        s.add(ZoneRow(uuid="z", name="z", **common))
        await s.flush()
        s.add(L2NetworkRow(uuid="l2", name="l2", zone_uuid="z", type="NoVlan", **common))
        await s.flush()
        s.add(L3NetworkRow(uuid=L3, name="l3", l2_network_uuid="l2", zone_uuid="z", **common))
        await s.flush()
        s.add(
            IpRangeRow(
                uuid="r",
                name="r",
                l3_network_uuid=L3,
                start_ip="10.0.0.1",
                end_ip="10.0.0.6",
                netmask="255.255.255.0",
                gateway="10.0.0.1",
                network_cidr="10.0.0.0/24",
                prefix_len=24,
                first_int=subnet.first,
                last_int=subnet.last,
                **common,
            )
        )
    yield database
    await database.close()


async def _take(db: Database, holder: str, **kw: object) -> str:
    async with db.session() as s, s.begin():
        got = await allocate_ip(s, IpRequest(L3, holder, "Vip", **kw))  # type: ignore[arg-type]
        return got.ip


async def test_first_available_then_release_and_reuse(db: Database) -> None:
    first = Strategy.FIRST_AVAILABLE
    assert [await _take(db, f"h{i}", strategy=first) for i in range(3)] == [
        "10.0.0.2",
        "10.0.0.3",
        "10.0.0.4",
    ]
    assert await _take(db, "h1", strategy=first) == "10.0.0.3"  # idempotent by holder
    async with db.session() as s, s.begin():
        assert await release_ips(s, ["h1"]) == 1
        assert await release_ips(s, ["h1"]) == 0
    assert await _take(db, "h9", strategy=first) == "10.0.0.3"


async def test_random_until_exhausted(db: Database) -> None:
    got = {await _take(db, f"h{i}") for i in range(5)}
    assert got == {f"10.0.0.{i}" for i in range(2, 7)}  # never the gateway .1
    with pytest.raises(PermanentError) as err:
        await _take(db, "late")
    assert err.value.error.code == "NETWORK.1001"
    async with db.session() as s:
        cap = await ip_capacity(s, L3)
    assert (cap.total, cap.available, cap.used) == (5, 0, 5)


async def test_static_ips(db: Database) -> None:
    assert await _take(db, "a", ip="10.0.0.5") == "10.0.0.5"
    assert await _take(db, "a", ip="10.0.0.5") == "10.0.0.5"
    for ip, code in (
        ("10.0.0.5", "NETWORK.1002"),
        ("10.0.0.1", "NETWORK.1003"),
        ("10.0.0.7", "NETWORK.1003"),
    ):
        with pytest.raises(PermanentError) as err:
            await _take(db, "b", ip=ip)
        assert err.value.error.code == code, ip
