"""``TagService``: create, delete, list and interpret the tags of resources.

Services call the functions with their own ``AsyncSession`` so that tags join their
transactions (a resource created with its tags, deleted with them: ``delete_all_for``).
Interpreting points read a tag with ``system_tag_value``. The bus handlers at the end serve
``CreateSystemTag``, ``CreateUserTag`` and ``DeleteTag``, one transaction each.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.db import Database, first_time, utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.core.messages import Message
from mgmt.core.tags.errors import TagCodes
from mgmt.core.tags.messages import (
    CreateSystemTag,
    CreateUserTag,
    DeleteTag,
    DeleteTagReply,
    TagInventory,
    TagReply,
)
from mgmt.core.tags.models import SYSTEM, USER, TagKind, TagRow
from mgmt.core.tags.patterns import SystemTag
from mgmt.core.tags.registry import TagRegistry

MAX_TAG_LENGTH = 2048
# a redelivered create message makes the same tag UUID, so it finds its tag instead of failing
_MESSAGE_NS = uuid.UUID("5d0c7a52-3f7e-4c1b-9a61-2f4b6c0e8d13")


class TagService:
    def __init__(self, db: Database, registry: TagRegistry) -> None:
        self._db = db
        self._registry = registry

    @property
    def registry(self) -> TagRegistry:
        return self._registry

    async def create_system_tag(
        self,
        session: AsyncSession,
        resource_uuid: str,
        resource_type: str,
        text: str,
        *,
        is_admin: bool,
        tag_uuid: str | None = None,
    ) -> TagRow:
        """Validate ``text`` (see ``TagRegistry.validate_system_tag``), refuse TAG.1004 when
        the resource has it already or has a tag of its ``unique`` pattern, insert it, and run
        the pattern's ``tag_created`` listeners (a raising one aborts: see the listener)."""
        if len(text) > MAX_TAG_LENGTH:
            raise PermanentError(
                error(TagCodes.INVALID, f"system tags are at most {MAX_TAG_LENGTH} characters")
            )
        tag = self._registry.validate_system_tag(text, resource_type, is_admin=is_admin)
        for row in await self._rows(session, resource_uuid, SYSTEM):
            if row.tag == text or (tag.unique and self._pattern(row) is tag):
                raise PermanentError(
                    error(
                        TagCodes.DUPLICATE,
                        f"{resource_uuid} already has {tag.mask(row.tag)!r}"
                        + (f" and {tag.pattern!r} is one per resource" if tag.unique else ""),
                        tag=tag.pattern,
                        existing=row.uuid,
                    )
                )
        row = await self._insert(session, resource_uuid, resource_type, SYSTEM, text, tag_uuid)
        for listener in self._registry.listeners(tag):
            await listener.tag_created(session, resource_uuid, resource_type, tag, text)
        return row

    async def create_user_tag(
        self,
        session: AsyncSession,
        resource_uuid: str,
        resource_type: str,
        text: str,
        *,
        tag_uuid: str | None = None,
    ) -> TagRow:
        """Insert a user tag: ``text`` stripped, 1 to 2048 characters (else TAG.1001); the
        same text twice on one resource is TAG.1004."""
        text = text.strip()
        if not 1 <= len(text) <= MAX_TAG_LENGTH:
            raise PermanentError(
                error(TagCodes.INVALID, f"a user tag is 1 to {MAX_TAG_LENGTH} characters")
            )
        if any(row.tag == text for row in await self._rows(session, resource_uuid, USER)):
            raise PermanentError(
                error(TagCodes.DUPLICATE, f"{resource_uuid} already has user tag {text!r}")
            )
        return await self._insert(session, resource_uuid, resource_type, USER, text, tag_uuid)

    async def delete_tag(
        self,
        session: AsyncSession,
        tag_uuid: str,
        *,
        is_admin: bool,
        resource_uuid: str | None = None,
    ) -> None:
        """Delete a tag (TAG.1005 when there is none, or it is not on ``resource_uuid`` when
        given). Admin-only system tags, and those of a pattern no longer registered, need
        ``is_admin`` (TAG.1003). Then its pattern's ``tag_deleted`` listeners run."""
        row = await session.get(TagRow, tag_uuid)
        if row is None or (resource_uuid is not None and row.resource_uuid != resource_uuid):
            raise PermanentError(error(TagCodes.NOT_FOUND, f"no tag {tag_uuid}"))
        tag = self._pattern(row) if row.kind == SYSTEM else None
        if row.kind == SYSTEM and (tag is None or tag.admin_only) and not is_admin:
            raise PermanentError(
                error(TagCodes.PERMISSION_DENIED, f"only admins may remove tag {tag_uuid}")
            )
        await session.delete(row)
        await session.flush()
        if tag is not None:
            await self._deleted(session, row, tag)

    async def delete_all_for(self, session: AsyncSession, resource_uuid: str) -> int:
        """Delete every tag of a resource being deleted (no permission checks), running the
        ``tag_deleted`` listeners of its system tags; returns how many there were."""
        rows = await self._rows(session, resource_uuid, None)
        for row in rows:
            await session.delete(row)
        await session.flush()
        for row in rows:
            tag = self._pattern(row) if row.kind == SYSTEM else None
            if tag is not None:
                await self._deleted(session, row, tag)
        return len(rows)

    async def tags_of(
        self,
        session: AsyncSession,
        resource_uuid: str,
        *,
        kind: TagKind | None = None,
        reveal_sensitive: bool = False,
    ) -> list[TagInventory]:
        """The tags of a resource, oldest first; sensitive system tags masked unless
        ``reveal_sensitive``."""
        rows = await self._rows(session, resource_uuid, kind)
        return [self.inventory(row, reveal_sensitive=reveal_sensitive) for row in rows]

    async def system_tag_value(
        self, session: AsyncSession, resource_uuid: str, tag: SystemTag
    ) -> dict[str, str] | None:
        """The interpreting point's read: the tokens of the oldest tag of ``tag``'s pattern on
        the resource, or None when it has none."""
        stmt = self._of_pattern(tag).where(TagRow.resource_uuid == resource_uuid)
        for row in (await session.scalars(stmt)).all():
            if self._pattern(row) is tag:
                return tag.parse(row.tag)
        return None

    async def resources_with(
        self, session: AsyncSession, tag: SystemTag, **tokens: str
    ) -> list[str]:
        """UUIDs of the resources having a tag of ``tag``'s pattern whose tokens equal
        ``tokens`` (all of them, some, or none given); values compare as text."""
        if unknown := set(tokens) - set(tag.tokens):
            raise ValueError(f"{tag.pattern!r} has no tokens {sorted(unknown)}")
        stmt = self._of_pattern(tag)
        if set(tokens) == set(tag.tokens):
            stmt = stmt.where(TagRow.tag == tag.format(**tokens))
        found: dict[str, None] = {}
        for row in (await session.scalars(stmt)).all():
            if self._pattern(row) is not tag or row.resource_uuid in found:
                continue
            values = tag.parse(row.tag)
            if all(values[name] == value for name, value in tokens.items()):
                found[row.resource_uuid] = None
        return list(found)

    def inventory(self, row: TagRow, *, reveal_sensitive: bool = False) -> TagInventory:
        """``row`` as callers see it."""
        tag = self._pattern(row) if row.kind == SYSTEM else None
        return TagInventory(
            uuid=row.uuid,
            resourceUuid=row.resource_uuid,
            resourceType=row.resource_type,
            type="System" if row.kind == SYSTEM else "User",
            tag=row.tag if tag is None or reveal_sensitive else tag.mask(row.tag),
            createDate=row.created_at,
        )

    # -- bus handlers ------------------------------------------------------------------------

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            CreateSystemTag: self.handle_create_system_tag,
            CreateUserTag: self.handle_create_user_tag,
            DeleteTag: self.handle_delete_tag,
        }

    async def handle_create_system_tag(self, msg: CreateSystemTag, ctx: HandlerContext) -> TagReply:
        tag_uuid = str(uuid.uuid5(_MESSAGE_NS, ctx.message_id))
        async with self._db.session() as s, s.begin():
            row = await s.get(TagRow, tag_uuid) or await self.create_system_tag(
                s,
                msg.resourceUuid,
                msg.resourceType,
                msg.tag,
                is_admin=msg.callerIsAdmin,
                tag_uuid=tag_uuid,
            )
            return TagReply(inventory=self.inventory(row))

    async def handle_create_user_tag(self, msg: CreateUserTag, ctx: HandlerContext) -> TagReply:
        tag_uuid = str(uuid.uuid5(_MESSAGE_NS, ctx.message_id))
        async with self._db.session() as s, s.begin():
            row = await s.get(TagRow, tag_uuid) or await self.create_user_tag(
                s, msg.resourceUuid, msg.resourceType, msg.tag, tag_uuid=tag_uuid
            )
            return TagReply(inventory=self.inventory(row))

    async def handle_delete_tag(self, msg: DeleteTag, ctx: HandlerContext) -> DeleteTagReply:
        async with self._db.session() as s, s.begin():
            if await first_time(s, ctx.message_id):  # a redelivery finds the tag gone: fine
                await self.delete_tag(
                    s, msg.tagUuid, is_admin=msg.callerIsAdmin, resource_uuid=msg.resourceUuid
                )
        return DeleteTagReply()

    # -- helpers -----------------------------------------------------------------------------

    def _pattern(self, row: TagRow) -> SystemTag | None:
        return self._registry.find(row.tag, row.resource_type)

    async def _rows(
        self, session: AsyncSession, resource_uuid: str, kind: TagKind | None
    ) -> list[TagRow]:
        stmt = select(TagRow).where(TagRow.resource_uuid == resource_uuid)
        if kind is not None:
            stmt = stmt.where(TagRow.kind == kind)
        stmt = stmt.order_by(TagRow.created_at, TagRow.uuid)
        return list((await session.scalars(stmt)).all())

    @staticmethod
    def _of_pattern(tag: SystemTag) -> Select[TagRow]:
        return (
            select(TagRow)
            .where(
                TagRow.kind == SYSTEM,
                TagRow.tag.startswith(tag.prefix, autoescape=True),
                TagRow.resource_type.in_(tag.resource_types),
            )
            .order_by(TagRow.created_at, TagRow.uuid)
        )

    async def _insert(
        self,
        session: AsyncSession,
        resource_uuid: str,
        resource_type: str,
        kind: TagKind,
        text: str,
        tag_uuid: str | None,
    ) -> TagRow:
        row = TagRow(
            uuid=tag_uuid or str(uuid.uuid4()),
            resource_uuid=resource_uuid,
            resource_type=resource_type,
            kind=kind,
            tag=text,
            created_at=utcnow(),
        )
        session.add(row)
        try:
            await session.flush()
        except IntegrityError as exc:  # a concurrent create of the same text won the race
            raise PermanentError(
                error(TagCodes.DUPLICATE, f"{resource_uuid} already has this {kind} tag")
            ) from exc
        return row

    async def _deleted(self, session: AsyncSession, row: TagRow, tag: SystemTag) -> None:
        for listener in self._registry.listeners(tag):
            await listener.tag_deleted(session, row.resource_uuid, row.resource_type, tag, row.tag)
