"""``TagRegistry``: the system tag patterns a node knows, and who listens to them.

Built by the composition root: each service hands over its patterns (``add``) and its
listeners (``listen``); nothing registers itself at import time. ``TagService`` asks it to
validate a tag and to find a tag's listeners.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.errors import PermanentError, error
from mgmt.core.tags.errors import TagCodes
from mgmt.core.tags.patterns import SystemTag


class SystemTagListener(Protocol):
    """Told when a tag of a pattern it listens to is created or deleted.

    Both methods are awaited inside the transaction that creates or deletes the tag (``session``
    is that transaction's; the tag's row is already flushed, or already deleted), one listener
    after another in registration order. Raising aborts the create or delete: the error reaches
    the caller, and the caller's transaction, rolled back, takes the row and whatever earlier
    listeners wrote with it. A listener must not commit.
    """

    async def tag_created(
        self,
        session: AsyncSession,
        resource_uuid: str,
        resource_type: str,
        tag: SystemTag,
        text: str,
    ) -> None: ...

    async def tag_deleted(
        self,
        session: AsyncSession,
        resource_uuid: str,
        resource_type: str,
        tag: SystemTag,
        text: str,
    ) -> None: ...


class TagRegistry:
    """System tag patterns (one per pattern text) and their listeners."""

    def __init__(self, tags: Iterable[SystemTag] = ()) -> None:
        self._tags: dict[str, SystemTag] = {}
        self._listeners: dict[str, list[SystemTagListener]] = {}
        for tag in tags:
            self.add(tag)

    def add(self, tag: SystemTag) -> None:
        """Know ``tag``; a second pattern with the same text is a ``ValueError``."""
        if tag.pattern in self._tags:
            raise ValueError(f"system tag {tag.pattern!r} is registered twice")
        self._tags[tag.pattern] = tag
        self._listeners[tag.pattern] = []

    def listen(self, tag: SystemTag, listener: SystemTagListener) -> None:
        """Call ``listener`` for every tag of ``tag``'s pattern created or deleted."""
        if self._tags.get(tag.pattern) is not tag:
            raise ValueError(f"system tag {tag.pattern!r} is not registered")
        self._listeners[tag.pattern].append(listener)

    def listeners(self, tag: SystemTag) -> tuple[SystemTagListener, ...]:
        return tuple(self._listeners.get(tag.pattern, ()))

    def tags(self, resource_type: str | None = None) -> list[SystemTag]:
        """The patterns, in registration order; of one resource type when given."""
        return [
            t
            for t in self._tags.values()
            if resource_type is None or resource_type in t.resource_types
        ]

    def find(self, text: str, resource_type: str) -> SystemTag | None:
        """The pattern of ``resource_type`` whose literals ``text`` has (tokens unchecked);
        of several, the one with the most literal segments, then the first registered."""
        found = [t for t in self.tags(resource_type) if t.matches(text)]
        return max(found, key=lambda t: t.literal_count) if found else None

    def validate_system_tag(self, text: str, resource_type: str, *, is_admin: bool) -> SystemTag:
        """The pattern of a valid ``text``, else ``PermanentError``: TAG.1002 when no pattern
        of ``resource_type`` matches, TAG.1003 when the pattern is admin-only and the
        caller is not an admin, TAG.1001 for a bad token value."""
        tag = self.find(text, resource_type)
        if tag is None:
            others = sorted(
                {rt for t in self._tags.values() if t.matches(text) for rt in t.resource_types}
            )
            hint = f" (a tag of {', '.join(others)})" if others else ""
            raise PermanentError(
                error(
                    TagCodes.UNKNOWN,
                    f"no system tag of {resource_type} matches {text!r}{hint}",
                    resourceType=resource_type,
                )
            )
        if tag.admin_only and not is_admin:  # before parse: no hints on values to non-admins
            raise PermanentError(
                error(
                    TagCodes.PERMISSION_DENIED,
                    f"only admins may set or remove {tag.pattern!r}",
                    tag=tag.pattern,
                )
            )
        tag.parse(text)
        return tag
