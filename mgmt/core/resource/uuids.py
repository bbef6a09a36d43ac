"""The UUID registry: which resource holds a UUID, and which create claimed it.

A create claims its UUID by inserting ``(uuid, type, owner, job)`` here in the transaction
that inserts the resource's own row. The same create delivered again (same type, owner and
job) finds its own claim and answers with the row it made; anything else that names a held
UUID (another account, another type, or the same account with another request) is refused
with 409 naming ``resourceUuid`` and changes nothing. Deleting a resource forgets its claim.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.api.spec import UUID_PATTERN
from mgmt.core.db import Base, utcnow
from mgmt.core.db.types import UtcDateTime
from mgmt.core.errors import PermanentError, error


class ResourceCodes:
    INVALID_ARGUMENT = ("API.1000", "Invalid argument")
    CONFLICT = ("API.1009", "Resource in a conflicting state")


class ResourceUuidRow(Base):
    __tablename__ = "resource_uuid"

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    owner_account_uuid: Mapped[str] = mapped_column(String(36), index=True)
    job_uuid: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True)
class UuidClaim:
    """Who asks for a UUID: the type of the new resource, its owner and the request (API
    job, or bus message id for a create that did not come through the API)."""

    uuid: str
    resource_type: str
    owner: str
    job: str

    def matches(self, row: ResourceUuidRow) -> bool:
        return (row.resource_type, row.owner_account_uuid, row.job_uuid) == (
            self.resource_type,
            self.owner,
            self.job,
        )


#: a UUID as the API takes one: 32 hex digits, hyphenated 8-4-4-4-12 or not, either case
_UUID = re.compile(UUID_PATTERN)


def canonical_uuid(value: str, *, field: str = "resourceUuid") -> str:
    """``value`` as a canonical UUID (lower case, hyphenated), or 400 naming ``field``.

    Canonical, so that two spellings of one UUID cannot name two resources."""
    if not isinstance(value, str) or not _UUID.match(value):
        raise PermanentError(
            error(ResourceCodes.INVALID_ARGUMENT, f"{field}: not a UUID: {value!r}", field=field)
        )
    return str(uuidlib.UUID(value))


def uuid_taken(uuid: str) -> PermanentError:
    """The one answer to a create naming a UUID it may not have: it says nothing about
    the holder (a tenant must not learn what another account owns)."""
    return PermanentError(
        error(
            ResourceCodes.CONFLICT,
            f"resourceUuid: {uuid} is already used by another resource",
            field="resourceUuid",
        )
    )


async def holder_of(session: AsyncSession, uuid: str) -> ResourceUuidRow | None:
    return await session.get(ResourceUuidRow, uuid)


async def claim(session: AsyncSession, want: UuidClaim) -> bool:
    """Claim ``want.uuid`` inside the caller's transaction.

    True: the UUID is now claimed (the caller inserts its row). False: this very request
    claimed it before (a redelivery; the caller answers with the existing row). Raises 409
    when anything else holds it. One ``INSERT … ON CONFLICT DO NOTHING`` in the common case
    (a new UUID); only a UUID already held is read back to see by whom. Concurrent claims
    of one UUID are ordered by the bus (one partition and signature), and the primary key
    settles any other race: the loser finds the winner's row.
    """
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = await session.execute(
        insert(ResourceUuidRow)
        .values(
            uuid=want.uuid,
            resource_type=want.resource_type,
            owner_account_uuid=want.owner,
            job_uuid=want.job,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["uuid"])
        .returning(ResourceUuidRow.uuid)
    )
    if inserted.first() is not None:
        return True
    held = await holder_of(session, want.uuid)
    if held is not None and want.matches(held):
        return False
    raise uuid_taken(want.uuid)


async def forget(session: AsyncSession, uuids: Sequence[str]) -> None:
    """Release the UUIDs of deleted resources (in the delete's transaction)."""
    if uuids:
        await session.execute(delete(ResourceUuidRow).where(ResourceUuidRow.uuid.in_(uuids)))
