"""Tags go with their resource: a cascade observer deleting the tags of deleted resources."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.cascade.graph import CASCADE_OBSERVERS
from mgmt.core.plugins import Extension
from mgmt.core.tags.service import TagService


class TagCascadeObserver:
    name = "tags"

    def __init__(self, tags: TagService) -> None:
        self._tags = tags

    @classmethod
    def plugin(cls, tags: TagService) -> TagCascadeObserver:
        return cls(tags)

    def extensions(self) -> Sequence[Extension]:
        return [Extension(CASCADE_OBSERVERS, self)]

    async def resources_deleted(
        self, session: AsyncSession, type_name: str, uuids: Sequence[str]
    ) -> None:
        for uuid in uuids:
            await self._tags.delete_all_for(session, uuid)
