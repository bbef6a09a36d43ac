"""The ``admin`` account: created on first start, its password reset by an operator.

``bootstrap_admin`` is called by every management node on start (the all-in-one shows its
outcome in the "is up" banner); ``reset_admin_password`` by ``zcloud admin reset-password``,
a local command with database access, for when the password is lost. Only the scrypt hash
of a password is ever stored.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from mgmt.core.db import Database
from mgmt.core.logging import get_logger
from mgmt.core.resource import ResourceUuidRow
from mgmt.identity.models import AccountRow, AccountType, SessionRow
from mgmt.identity.passwords import hash_password
from mgmt.identity.sessions import ADMIN_NAME

log = get_logger(__name__)


class PasswordSource(StrEnum):
    GENERATED = "generated"  # made here; the caller must show it once, it is not kept
    GIVEN = "given"  # ZCLOUD_ADMIN_PASSWORD, a flag or a prompt
    EXISTING = "existing"  # the account was there already: its password was not touched


@dataclass(frozen=True)
class AdminPassword:
    """What became of the admin's password. ``password`` is set only when generated."""

    account: str
    source: PasswordSource
    password: str | None = None


def generate_password() -> str:
    return secrets.token_urlsafe(12)


async def bootstrap_admin(db: Database, password: str | None) -> AdminPassword:
    """Create the ``admin`` account if there is none (safe when several nodes start at
    once: the losers of the race answer ``EXISTING``)."""
    async with db.session() as s:
        if await s.scalar(select(AccountRow.uuid).where(AccountRow.name == ADMIN_NAME)):
            return AdminPassword(ADMIN_NAME, PasswordSource.EXISTING)
    outcome = AdminPassword(ADMIN_NAME, PasswordSource.GIVEN)
    if not password:
        password = generate_password()
        outcome = AdminPassword(ADMIN_NAME, PasswordSource.GENERATED, password)
    now = await db.now()
    insert = postgresql.insert if db.is_postgres else sqlite.insert
    admin_uuid = str(uuid.uuid4())
    async with db.session() as s, s.begin():
        result = await s.execute(
            insert(AccountRow)
            .values(
                uuid=admin_uuid,
                name=ADMIN_NAME,
                type=AccountType.ADMIN,
                description="created on first start",
                password_hash=await hash_password(password),
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["name"])
        )
        if getattr(result, "rowcount", 0):  # its UUID is held like any resource's
            s.add(
                ResourceUuidRow(
                    uuid=admin_uuid,
                    resource_type="Account",
                    owner_account_uuid=admin_uuid,
                    job_uuid="bootstrap",
                    created_at=now,
                )
            )
    if not getattr(result, "rowcount", 0):
        return AdminPassword(ADMIN_NAME, PasswordSource.EXISTING)  # another node won the race
    log.info("identity.admin_created", password=outcome.source.value)
    return outcome


class NoAdminAccount(Exception):
    """The database has no ``admin`` account (no node has started on it yet)."""


async def reset_admin_password(db: Database, password: str | None) -> AdminPassword:
    """Set the admin's password (a generated one when ``password`` is empty) and revoke the
    admin's own sessions: whoever held the lost password is logged out. ``NoAdminAccount``
    when there is no admin to reset."""
    source = PasswordSource.GIVEN
    if not password:
        password, source = generate_password(), PasswordSource.GENERATED
    hashed = await hash_password(password)
    now = await db.now()
    async with db.session() as s, s.begin():
        admin_uuid = await s.scalar(select(AccountRow.uuid).where(AccountRow.name == ADMIN_NAME))
        if admin_uuid is None:
            raise NoAdminAccount(ADMIN_NAME)
        await s.execute(
            update(AccountRow)
            .where(AccountRow.uuid == admin_uuid)
            .values(password_hash=hashed, updated_at=now)
        )
        await s.execute(
            update(SessionRow)
            .where(
                SessionRow.account_uuid == admin_uuid,
                SessionRow.user_uuid.is_(None),
                SessionRow.revoked.is_(False),
            )
            .values(revoked=True)
        )
    log.info("identity.admin_password_reset", password=source.value)
    return AdminPassword(
        ADMIN_NAME, source, password if source is PasswordSource.GENERATED else None
    )
