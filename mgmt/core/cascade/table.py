"""``TableCascade``: the cascade declaration of a resource kept in one table.

Most resource types need nothing more: which column links them to each parent type, and
optionally a veto check, a hook run in the delete transaction (quota release …) and an
external cleanup.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

Check = Callable[[AsyncSession, Sequence[str]], Awaitable[str | None]]
Hook = Callable[[AsyncSession, Sequence[str]], Awaitable[None]]
Cleanup = Callable[[Sequence[str]], Awaitable[None]]


class TableCascade:
    def __init__(
        self,
        type_name: str,
        model: Any,
        *,
        parents: Mapping[str, Any] | None = None,
        check: Check | None = None,
        before_delete: Hook | None = None,
        cleanup: Cleanup | None = None,
    ) -> None:
        self.type_name = type_name
        self._model = model
        self._links = dict(parents or {})
        self.parents: Sequence[str] = tuple(self._links)
        self._check = check
        self._before_delete = before_delete
        self._cleanup = cleanup

    async def dependents_of(
        self, session: AsyncSession, parent_type: str, parent_uuids: Sequence[str]
    ) -> list[str]:
        link = self._links[parent_type]
        rows = await session.execute(select(self._model.uuid).where(link.in_(parent_uuids)))
        return [u for (u,) in rows.all()]

    async def check(self, session: AsyncSession, uuids: Sequence[str]) -> str | None:
        return await self._check(session, uuids) if self._check else None

    async def delete(self, session: AsyncSession, uuids: Sequence[str], *, force: bool) -> None:
        if self._before_delete is not None:
            await self._before_delete(session, uuids)
        await session.execute(delete(self._model).where(self._model.uuid.in_(uuids)))

    async def cleanup(self, uuids: Sequence[str]) -> None:
        if self._cleanup is not None:
            await self._cleanup(uuids)
