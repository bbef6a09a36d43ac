"""Bus messages of the tag framework, handled by ``TagService.handlers()``.

Sent by API frontends (``systemTags``/``userTags`` of a create call, the tag endpoints) and by
services tagging their own resources. Routed by ``resourceUuid``, so the tags of one resource
change one at a time.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from mgmt.core.messages import Reply, Request

_ADMIN = "Set by the API frontend from the session; the bus is trusted."


class TagInventory(BaseModel):
    """A tag as callers see it (sensitive system tag values masked unless revealed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uuid: str = Field(description="The tag's UUID.")
    resourceUuid: str = Field(description="The tagged resource.")
    resourceType: str = Field(description="The tagged resource's type, e.g. VmInstance.")
    type: Literal["System", "User"] = Field(description="System (typed pattern) or User (text).")
    tag: str = Field(description="The tag text.")
    createDate: datetime = Field(description="When the tag was created (UTC).")


class TagReply(Reply):
    inventory: TagInventory = Field(description="The tag created.")


class DeleteTagReply(Reply):
    """The tag is gone (its listeners have run)."""


class CreateSystemTag(Request[TagReply]):
    """Put a system tag on a resource: validated against the registered patterns."""

    route_by: ClassVar[str] = "resourceUuid"

    resourceUuid: str = Field(min_length=1, max_length=64, description="The resource to tag.")
    resourceType: str = Field(
        min_length=1, max_length=64, description="The resource's type, e.g. VmInstance."
    )
    tag: str = Field(max_length=65536, description="The tag, e.g. hostname::web-1.")
    callerIsAdmin: bool = Field(default=True, description=_ADMIN)


class CreateUserTag(Request[TagReply]):
    """Put a user tag (free text, 1 to 2048 characters once stripped) on a resource."""

    route_by: ClassVar[str] = "resourceUuid"

    resourceUuid: str = Field(min_length=1, max_length=64, description="The resource to tag.")
    resourceType: str = Field(
        min_length=1, max_length=64, description="The resource's type, e.g. VmInstance."
    )
    tag: str = Field(max_length=65536, description="The tag text.")
    callerIsAdmin: bool = Field(default=True, description=_ADMIN)


class DeleteTag(Request[DeleteTagReply]):
    """Remove one tag (system or user) of a resource."""

    route_by: ClassVar[str] = "resourceUuid"

    resourceUuid: str = Field(
        min_length=1, max_length=64, description="The resource the tag is on."
    )
    tagUuid: str = Field(min_length=1, max_length=36, description="The tag to remove.")
    callerIsAdmin: bool = Field(default=True, description=_ADMIN)
