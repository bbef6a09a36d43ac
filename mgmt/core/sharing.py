"""Sharing: an owner makes a resource visible to other accounts, or to everyone.

A share is a row (resource, account or ``*`` for public). Reads apply ``visible_to``: an
account sees what it owns, what is shared with it and what is public; changing or deleting
stays with the owner (and admins). Only the owner (or an admin) shares and unshares.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, String, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.api import ApiCodes, ApiRequest, ApiSpec, caller_of, not_found
from mgmt.core.api.reads import Owners, ReadableResource, plain
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.db import Base, Database, utcnow
from mgmt.core.db.types import UtcDateTime
from mgmt.core.errors import PermanentError, error
from mgmt.core.messages import Message, Reply
from mgmt.core.query import QueryableResource, Visibility
from mgmt.core.query.schema import as_column

PUBLIC = "*"


class ShareRow(Base):
    __tablename__ = "resource_share"

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_uuid: Mapped[str] = mapped_column(String(64), index=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    owner_account_uuid: Mapped[str] = mapped_column(String(36), index=True)
    #: an account's UUID, or ``*``: everyone
    to_account_uuid: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


def visible_to(account_uuid: str) -> Visibility:
    """Own resources, those shared with the account and public ones; resources declared
    without an owner column are visible to all."""
    shared = select(ShareRow.resource_uuid).where(
        ShareRow.to_account_uuid.in_([account_uuid, PUBLIC])
    )

    def visible(resource: QueryableResource) -> ColumnElement[bool] | None:
        if resource.owner is None:
            return None
        return or_(as_column(resource.owner) == account_uuid, as_column(resource.uuid).in_(shared))

    return visible


async def shared_with(session: AsyncSession, resource_uuid: str, account_uuid: str) -> bool:
    """Whether the resource is shared with the account or public."""
    found = await session.scalar(
        select(ShareRow.uuid)
        .where(
            ShareRow.resource_uuid == resource_uuid,
            ShareRow.to_account_uuid.in_([account_uuid, PUBLIC]),
        )
        .limit(1)
    )
    return found is not None


class ShareInventory(BaseModel):
    uuid: str = Field(description="The share's UUID.")
    resourceUuid: str = Field(description="The shared resource.")
    resourceType: str = Field(description="Its type.")
    ownerAccountUuid: str = Field(description="Its owner.")
    toAccountUuid: str = Field(description="The account it is shared with, or `*` (public).")
    createDate: datetime = Field(description="When it was shared.")


class ShareReply(Reply):
    inventories: list[ShareInventory]


class UnshareReply(Reply):
    deleted: list[str] = Field(default_factory=list, description="What was removed.")


class ShareResource(ApiRequest[ShareReply]):
    """Share one of your resources with accounts, or make it public (read access)."""

    api = ApiSpec(
        "create", "resource-shares", "ResourceShare", "Share a resource", new_resource=False
    )
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"resourceUuid": "<zone uuid>", "resourceType": "Zone", "public": True}]
        }
    )

    resourceUuid: str = Field(min_length=1, max_length=64, description="The resource to share.")
    resourceType: str = Field(min_length=1, max_length=64, description="Its type, e.g. Zone.")
    toAccountUuids: list[str] = Field(
        default_factory=list, max_length=1000, description="Accounts to share it with."
    )
    public: bool = Field(default=False, description="Share it with every account.")


class UnshareResource(ApiRequest[UnshareReply]):
    """Stop sharing a resource (with the accounts named, or with everyone if none are)."""

    api = ApiSpec(
        "action", "resource-shares", "ResourceShare", "Stop sharing a resource", action="revoke"
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{"resourceType": "Zone"}]})

    resourceType: str = Field(min_length=1, max_length=64, description="Its type, e.g. Zone.")
    toAccountUuids: list[str] = Field(
        default_factory=list, max_length=1000, description="Accounts; empty: all shares."
    )


API_MESSAGES = (ShareResource, UnshareResource)


def _inventory(row: ShareRow) -> ShareInventory:
    return ShareInventory(
        uuid=row.uuid,
        resourceUuid=row.resource_uuid,
        resourceType=row.resource_type,
        ownerAccountUuid=row.owner_account_uuid,
        toAccountUuid=row.to_account_uuid,
        createDate=row.created_at,
    )


class SharingService:
    def __init__(self, db: Database, owners: Owners) -> None:
        self._db = db
        self._owners = owners

    def handlers(self) -> dict[type[Message], Handler]:
        return {ShareResource: self.share, UnshareResource: self.unshare}

    async def _owned(self, msg: Any, rtype: str, uuid: str) -> str:
        caller = caller_of(msg)
        async with self._db.session() as s:
            owner = await self._owners.owner_of(s, rtype, uuid)
        if owner is None or not (caller.isAdmin or owner == caller.accountUuid):
            raise PermanentError(not_found(rtype, uuid))
        if not owner:
            raise PermanentError(
                error(ApiCodes.INVALID_ARGUMENT, f"{rtype} has no owner to share from")
            )
        return owner

    async def share(self, msg: ShareResource, ctx: HandlerContext) -> ShareReply:
        owner = await self._owned(msg, msg.resourceType, msg.resourceUuid)
        targets = [PUBLIC] if msg.public else list(dict.fromkeys(msg.toAccountUuids))
        if not targets:
            raise PermanentError(
                error(
                    ApiCodes.INVALID_ARGUMENT,
                    "toAccountUuids: name an account or set public",
                    field="toAccountUuids",
                )
            )
        async with self._db.session() as s, s.begin():
            current = select(ShareRow).where(ShareRow.resource_uuid == msg.resourceUuid)
            existing = {r.to_account_uuid: r for r in (await s.execute(current)).scalars()}
            for i, target in enumerate(targets):
                if target not in existing:
                    row = ShareRow(
                        uuid=f"{msg.jobUuid or ctx.message_id}-{i}",
                        resource_uuid=msg.resourceUuid,
                        resource_type=msg.resourceType,
                        owner_account_uuid=owner,
                        to_account_uuid=target,
                        created_at=utcnow(),
                    )
                    s.add(row)
                    existing[target] = row
        return ShareReply(inventories=[_inventory(r) for r in existing.values()])

    async def unshare(self, msg: UnshareResource, ctx: HandlerContext) -> UnshareReply:
        await self._owned(msg, msg.resourceType, msg.resourceUuid)
        clause = ShareRow.resource_uuid == msg.resourceUuid
        async with self._db.session() as s, s.begin():
            stmt = delete(ShareRow).where(clause)
            if msg.toAccountUuids:
                stmt = stmt.where(ShareRow.to_account_uuid.in_(msg.toAccountUuids))
            await s.execute(stmt)
        return UnshareReply(deleted=["ResourceShare"])


def readables() -> list[ReadableResource]:
    query = QueryableResource(
        "ResourceShare",
        ShareRow,
        ShareRow.uuid,
        {
            "uuid": ShareRow.uuid,
            "resourceUuid": ShareRow.resource_uuid,
            "resourceType": ShareRow.resource_type,
            "ownerAccountUuid": ShareRow.owner_account_uuid,
            "toAccountUuid": ShareRow.to_account_uuid,
            "createDate": ShareRow.created_at,
        },
        owner=ShareRow.owner_account_uuid,
    )
    return [ReadableResource(query, "resource-shares", plain(_inventory), ShareInventory)]
