"""What makes a resource readable through the REST API: its query schema, its collection
and how a row becomes its inventory. Services declare these; the frontend serves
``GET /v1/<collection>``, ``GET /v1/<collection>/{uuid}`` and ZQL from them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.query import QueryableResource

Inventory = Callable[[AsyncSession, Any], Awaitable[BaseModel]]


def plain(convert: Callable[[Any], BaseModel]) -> Inventory:
    """An inventory function that needs no database access."""

    async def inventory(session: AsyncSession, row: Any) -> BaseModel:
        return convert(row)

    return inventory


@dataclass(frozen=True)
class ReadableResource:
    query: QueryableResource
    collection: str
    inventory: Inventory
    #: the inventory model (for the OpenAPI schema of the reads)
    model: type[BaseModel]
    #: only admins may read it (the audit log)
    admin_only: bool = False

    @property
    def name(self) -> str:
        return self.query.name
