"""Tags through the REST API: the owner of a resource (or an admin) tags it.

``POST /v1/system-tags`` and ``POST /v1/user-tags`` name the tagged resource
(``resourceUuid`` + ``resourceType``) and are routed by it, so tag changes are ordered with
everything else about the resource; ``DELETE /v1/tags/{uuid}`` removes one;
``GET /v1/tags`` lists those of the caller's resources (sensitive values masked).
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from pydantic import ConfigDict, Field

from mgmt.core.api import ApiRequest, ApiSpec, CallerContext, caller_of, not_found
from mgmt.core.api.reads import Owners, ReadableResource, plain
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.db import Database
from mgmt.core.errors import PermanentError, error
from mgmt.core.messages import Message
from mgmt.core.query import QueryableResource
from mgmt.core.tags.errors import TagCodes
from mgmt.core.tags.messages import DeleteTagReply, TagInventory, TagReply
from mgmt.core.tags.models import SYSTEM, USER, TagRow
from mgmt.core.tags.registry import TagRegistry
from mgmt.core.tags.service import TagService

_NS = uuidlib.UUID("7d3c8f0e-4a39-4f53-9f2b-3d2f0b8a9c41")


class AddSystemTag(ApiRequest[TagReply]):
    """Add a system tag (a typed pattern such as `hostname::web-1`) to one of your resources."""

    api = ApiSpec("create", "system-tags", "SystemTag", "Add a system tag", new_resource=False)
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"resourceUuid": "<vm uuid>", "resourceType": "VmInstance", "tag": "hostname::web1"}
            ]
        }
    )

    resourceUuid: str = Field(min_length=1, max_length=64, description="The resource to tag.")
    resourceType: str = Field(min_length=1, max_length=64, description="Its type, e.g. Zone.")
    tag: str = Field(min_length=1, max_length=2048, description="The tag.")


class AddUserTag(ApiRequest[TagReply]):
    """Add a free-text user tag to one of your resources."""

    api = ApiSpec("create", "user-tags", "UserTag", "Add a user tag", new_resource=False)
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"resourceUuid": "<zone uuid>", "resourceType": "Zone", "tag": "team-a"}]
        }
    )

    resourceUuid: str = Field(min_length=1, max_length=64, description="The resource to tag.")
    resourceType: str = Field(min_length=1, max_length=64, description="Its type, e.g. Zone.")
    tag: str = Field(min_length=1, max_length=2048, description="The tag.")


class RemoveTag(ApiRequest[DeleteTagReply]):
    """Remove a tag from one of your resources."""

    api = ApiSpec("delete", "tags", "Tag", "Remove a tag")
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


API_MESSAGES = (AddSystemTag, AddUserTag, RemoveTag)


class TagApiService:
    def __init__(self, db: Database, tags: TagService, owners: Owners) -> None:
        self._db = db
        self._tags = tags
        self._owners = owners

    def handlers(self) -> dict[type[Message], Handler]:
        return {AddSystemTag: self.add_system, AddUserTag: self.add_user, RemoveTag: self.remove}

    async def _check(self, msg: Any, rtype: str, resource: str, *, field: str) -> CallerContext:
        caller = caller_of(msg)
        async with self._db.session() as s:
            owner = await self._owners.owner_of(s, rtype, resource)
        if owner is None or not (caller.isAdmin or owner == caller.accountUuid):
            raise PermanentError(not_found(rtype, resource, field=field))
        return caller

    async def add_system(self, msg: AddSystemTag, ctx: HandlerContext) -> TagReply:
        caller = await self._check(msg, msg.resourceType, msg.resourceUuid, field="resourceUuid")
        tag_uuid = str(uuidlib.uuid5(_NS, msg.jobUuid or ctx.message_id))
        async with self._db.session() as s, s.begin():
            row = await s.get(TagRow, tag_uuid)
            if row is None:
                row = await self._tags.create_system_tag(
                    s,
                    msg.resourceUuid,
                    msg.resourceType,
                    msg.tag,
                    is_admin=caller.isAdmin,
                    tag_uuid=tag_uuid,
                )
                row.owner_account_uuid = caller.accountUuid
            return TagReply(inventory=self._tags.inventory(row))

    async def add_user(self, msg: AddUserTag, ctx: HandlerContext) -> TagReply:
        caller = await self._check(msg, msg.resourceType, msg.resourceUuid, field="resourceUuid")
        tag_uuid = str(uuidlib.uuid5(_NS, msg.jobUuid or ctx.message_id))
        async with self._db.session() as s, s.begin():
            row = await s.get(TagRow, tag_uuid)
            if row is None:
                row = await self._tags.create_user_tag(
                    s, msg.resourceUuid, msg.resourceType, msg.tag, tag_uuid=tag_uuid
                )
                row.owner_account_uuid = caller.accountUuid
            return TagReply(inventory=self._tags.inventory(row))

    async def remove(self, msg: RemoveTag, ctx: HandlerContext) -> DeleteTagReply:
        async with self._db.session() as s:
            row = await s.get(TagRow, msg.resourceUuid)
        if row is None:
            raise PermanentError(not_found("Tag", msg.resourceUuid))
        caller = await self._check(msg, row.resource_type, row.resource_uuid, field="uuid")
        async with self._db.session() as s, s.begin():
            await self._tags.delete_tag(s, msg.resourceUuid, is_admin=caller.isAdmin)
        return DeleteTagReply()


def readables(tags: TagService) -> list[ReadableResource]:
    query = QueryableResource(
        "Tag",
        TagRow,
        TagRow.uuid,
        {
            "uuid": TagRow.uuid,
            "resourceUuid": TagRow.resource_uuid,
            "resourceType": TagRow.resource_type,
            "type": TagRow.kind,
            "tag": TagRow.tag,
            "createDate": TagRow.created_at,
        },
        owner=TagRow.owner_account_uuid,
        choices={"type": (SYSTEM, USER)},
    )
    return [ReadableResource(query, "tags", plain(tags.inventory), TagInventory)]


class TagsOnCreate:
    """``CreateTags`` of the API job wrapper: the tags a create names go on the new resource."""

    def __init__(self, db: Database, tags: TagService, registry: TagRegistry) -> None:
        self._db = db
        self._tags = tags
        self._registry = registry

    def validate(self, msg: Any) -> None:
        spec = type(msg).api
        if spec.kind != "create" or not (msg.systemTags or msg.userTags):
            return
        is_admin = bool(msg.caller and msg.caller.isAdmin)
        for text in msg.systemTags:
            self._registry.validate_system_tag(text, spec.resource, is_admin=is_admin)
        for text in msg.userTags:
            if not text.strip() or len(text) > 2048:
                raise PermanentError(
                    error(TagCodes.INVALID, "userTags: 1 to 2048 characters", field="userTags")
                )

    async def attach(self, msg: Any, message_id: str) -> None:
        spec = type(msg).api
        if spec.kind != "create" or not (msg.systemTags or msg.userTags):
            return
        job = msg.jobUuid or message_id
        is_admin = bool(msg.caller and msg.caller.isAdmin)
        owner = msg.caller.accountUuid if msg.caller else None
        async with self._db.session() as s, s.begin():
            for i, text in enumerate(msg.systemTags):
                tag_uuid = str(uuidlib.uuid5(_NS, f"{job}/system/{i}"))
                if await s.get(TagRow, tag_uuid) is None:
                    row = await self._tags.create_system_tag(
                        s,
                        msg.resourceUuid,
                        spec.resource,
                        text,
                        is_admin=is_admin,
                        tag_uuid=tag_uuid,
                    )
                    row.owner_account_uuid = owner
            for i, text in enumerate(msg.userTags):
                tag_uuid = str(uuidlib.uuid5(_NS, f"{job}/user/{i}"))
                if await s.get(TagRow, tag_uuid) is None:
                    row = await self._tags.create_user_tag(
                        s, msg.resourceUuid, spec.resource, text, tag_uuid=tag_uuid
                    )
                    row.owner_account_uuid = owner
