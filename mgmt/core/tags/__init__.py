"""System and user tags: typed system tag patterns that change behaviour, free user tags.

Composition: services declare ``SystemTag`` patterns and hand them to one ``TagRegistry``
(``add``, ``listen``); ``TagService`` stores, validates and reads tags, and serves the tag
messages. Core framework: imports nothing from services.
"""

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
from mgmt.core.tags.patterns import (
    HostnameToken,
    Ipv4Token,
    SizeToken,
    SystemTag,
    TextToken,
    TokenValidator,
    UuidToken,
    parse_size,
)
from mgmt.core.tags.registry import SystemTagListener, TagRegistry
from mgmt.core.tags.service import MAX_TAG_LENGTH, TagService

__all__ = [
    "MAX_TAG_LENGTH",
    "SYSTEM",
    "USER",
    "CreateSystemTag",
    "CreateUserTag",
    "DeleteTag",
    "DeleteTagReply",
    "HostnameToken",
    "Ipv4Token",
    "SizeToken",
    "SystemTag",
    "SystemTagListener",
    "TagCodes",
    "TagInventory",
    "TagKind",
    "TagRegistry",
    "TagReply",
    "TagRow",
    "TagService",
    "TextToken",
    "TokenValidator",
    "UuidToken",
    "parse_size",
]
