"""Quotas: per-account limits that move atomically with the resources they count.

A service calls ``consume`` in the transaction that creates a resource and ``release`` in
the one that deletes it. ``consume`` is one conditional ``UPDATE … SET used = used + n WHERE
used + n <= limit``: under any concurrency, exactly as many creates succeed as the quota
allows. Admin accounts are not limited. Limits start at the defaults below and are changed
per account by an admin (``UpdateQuota``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.errors import PermanentError, error


class QuotaCodes:
    EXCEEDED = ("API.1029", "Quota exceeded")
    UNKNOWN = ("API.1000", "Invalid argument")


#: Quota names and their default limits for a new account.
DEFAULT_QUOTAS: dict[str, int] = {
    "vm.num": 20,
    "vm.totalNum": 40,
    "vm.cpuNum": 80,
    "vm.memorySize": 80 * 1024**3,
    "volume.data.num": 40,
    "volume.capacity": 10 * 1024**4,
    "image.num": 20,
    "image.size": 10 * 1024**4,
    "snapshot.volume.num": 200,
    "securityGroup.num": 50,
    "vip.num": 20,
    "eip.num": 20,
    "portForwarding.num": 50,
    "loadBalancer.num": 20,
    "l3.num": 20,
    "vxlan.num": 20,
    "zone.num": 20,
    "cluster.num": 50,
}


class QuotaRow(Base):
    __tablename__ = "quota"

    account_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    limit: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    used: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)


def _known(name: str) -> None:
    if name not in DEFAULT_QUOTAS:
        raise PermanentError(error(QuotaCodes.UNKNOWN, f"name: no quota {name!r}", field="name"))


async def _ensure(session: AsyncSession, account_uuid: str, name: str) -> None:
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(QuotaRow)
        .values(account_uuid=account_uuid, name=name, limit=DEFAULT_QUOTAS[name], used=0)
        .on_conflict_do_nothing(index_elements=["account_uuid", "name"])
    )


async def consume(
    session: AsyncSession, account_uuid: str, name: str, n: int = 1, *, is_admin: bool = False
) -> None:
    """Count ``n`` more of ``name`` against the account, or raise ``API.1029`` (429)."""
    _known(name)
    await _ensure(session, account_uuid, name)
    if is_admin:
        stmt = update(QuotaRow).values(used=QuotaRow.used + n)
    else:
        stmt = (
            update(QuotaRow)
            .values(used=QuotaRow.used + n)
            .where(QuotaRow.used + n <= QuotaRow.limit)
        )
    result = await session.execute(
        stmt.where(QuotaRow.account_uuid == account_uuid, QuotaRow.name == name)
    )
    if getattr(result, "rowcount", 0) != 1:
        row = await session.get(QuotaRow, (account_uuid, name))
        used, limit = (row.used, row.limit) if row else (0, 0)
        raise PermanentError(
            error(
                QuotaCodes.EXCEEDED,
                f"{name}: {used} used of {limit}",
                quota=name,
                used=used,
                limit=limit,
            )
        )


async def release(session: AsyncSession, account_uuid: str, name: str, n: int = 1) -> None:
    _known(name)
    await session.execute(
        update(QuotaRow)
        .where(QuotaRow.account_uuid == account_uuid, QuotaRow.name == name)
        .values(used=case((QuotaRow.used > n, QuotaRow.used - n), else_=0))
    )


async def set_limit(session: AsyncSession, account_uuid: str, name: str, limit: int) -> QuotaRow:
    _known(name)
    if limit < 0:
        raise PermanentError(error(QuotaCodes.UNKNOWN, "value: must be >= 0", field="value"))
    await _ensure(session, account_uuid, name)
    await session.execute(
        update(QuotaRow)
        .where(QuotaRow.account_uuid == account_uuid, QuotaRow.name == name)
        .values(limit=limit)
    )
    row = await session.get(QuotaRow, (account_uuid, name), populate_existing=True)
    assert row is not None
    return row
