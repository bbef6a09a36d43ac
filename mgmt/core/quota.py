"""Quotas: per-account limits that move atomically with the resources they count.

A service calls ``consume`` in the transaction that creates a resource and ``release`` in
the one that deletes it. ``consume`` is one conditional ``UPDATE … SET used = used + n WHERE
used + n <= limit``: under any concurrency, exactly as many creates succeed as the quota
allows. Admin accounts are not limited. Limits start at their declared defaults and change
per account by an admin (``UpdateQuota``). Which quotas exist is the services' to declare.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import BigInteger, Integer, String, case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.errors import PermanentError, error


class QuotaCodes:
    EXCEEDED = ("API.1029", "Quota exceeded")
    UNKNOWN = ("API.1000", "Invalid argument")


@dataclass(frozen=True)
class Quota:
    """A quota a resource type counts against its owner, and its limit for a new account.
    Services declare theirs (``ResourceType.quota`` or ``ServiceModule.quotas``)."""

    name: str
    default: int


class QuotaRow(Base):
    __tablename__ = "quota"

    account_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    limit: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    used: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)


async def _ensure(session: AsyncSession, account_uuid: str, name: str, default: int) -> None:
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(QuotaRow)
        .values(account_uuid=account_uuid, name=name, limit=default, used=0)
        .on_conflict_do_nothing(index_elements=["account_uuid", "name"])
    )


async def consume(
    session: AsyncSession, account_uuid: str, quota: Quota, n: int = 1, *, is_admin: bool = False
) -> None:
    """Count ``n`` more of ``quota`` against the account, or raise ``API.1029`` (429)."""
    name = quota.name
    await _ensure(session, account_uuid, name, quota.default)
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
    await session.execute(
        update(QuotaRow)
        .where(QuotaRow.account_uuid == account_uuid, QuotaRow.name == name)
        .values(used=case((QuotaRow.used > n, QuotaRow.used - n), else_=0))
    )


async def set_limit(
    session: AsyncSession,
    account_uuid: str,
    name: str,
    limit: int,
    defaults: Mapping[str, int],
) -> QuotaRow:
    """Set an account's limit of a quota the deployment declares (``defaults``)."""
    if name not in defaults:
        known = ", ".join(sorted(defaults))
        raise PermanentError(
            error(QuotaCodes.UNKNOWN, f"name: no quota {name!r} (known: {known})", field="name")
        )
    if limit < 0:
        raise PermanentError(error(QuotaCodes.UNKNOWN, "value: must be >= 0", field="value"))
    await _ensure(session, account_uuid, name, defaults[name])
    await session.execute(
        update(QuotaRow)
        .where(QuotaRow.account_uuid == account_uuid, QuotaRow.name == name)
        .values(limit=limit)
    )
    row = await session.get(QuotaRow, (account_uuid, name), populate_existing=True)
    assert row is not None
    return row
