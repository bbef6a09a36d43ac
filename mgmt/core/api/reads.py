"""What makes a resource readable through the REST API: its query schema, its collection
and how a row becomes its inventory. Services declare these; the frontend serves
``GET /v1/<collection>``, ``GET /v1/<collection>/{uuid}`` and ZQL from them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api.spec import CallerContext
from mgmt.core.query import QueryableResource

Inventory = Callable[[AsyncSession, Any], Awaitable[BaseModel]]
#: the inventories of a page of rows at once (what ``Inventory`` gives, row by row)
Inventories = Callable[[AsyncSession, Sequence[Any]], Awaitable[list[BaseModel]]]


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
    #: a page's inventories in a few queries (an inventory that reads other tables)
    inventories: Inventories | None = None

    @property
    def name(self) -> str:
        return self.query.name


SubRead = Callable[[AsyncSession, str, BaseModel | None], Awaitable[BaseModel]]


class NoParams(BaseModel):
    """A resource read that takes no query parameters."""


@dataclass(frozen=True)
class ResourceRead:
    """A read about one resource that is not its inventory, contributed by a service
    module (``ServiceModule.resource_reads``): ``GET /v1/<collection>/{uuid}/<path>``.

    The frontend mounts it next to the resource's own reads: it authenticates, authorizes
    ``operation_id`` on the UUID, answers 404 unless the caller sees the resource (its
    own, shared with it, or public, as ``GET /v1/<collection>/{uuid}``), validates the
    query string against ``params`` (400 naming the field) and returns what ``read``
    returns for ``(session, uuid, params)``, read in a read-only session.
    """

    resource: str
    path: str
    operation_id: str
    summary: str
    reply: type[BaseModel]
    read: SubRead
    #: the query parameters (each field is one, documented from its description)
    params: type[BaseModel] = field(default=NoParams)


class Sees(Protocol):
    """Does the caller of a read see the resource ``uuid`` of type ``resource`` (own,
    shared with it, or public; admins all), as ``GET /v1/<collection>/{uuid}`` decides?"""

    async def __call__(self, resource: str, uuid: str) -> bool: ...


CollectionReadFn = Callable[[AsyncSession, CallerContext, Sees, BaseModel], Awaitable[BaseModel]]


@dataclass(frozen=True)
class CollectionRead:
    """A read about a collection that is not a query of it, contributed by a service module
    (``ServiceModule.collection_reads``): ``GET /v1/<collection>/<path>`` (the allocator's
    ``GET /v1/vm-instances/candidates``).

    The frontend mounts it before the collection's own reads (so ``<path>`` is never taken
    for a UUID): it authenticates, authorizes ``operation_id`` on ``*``, refuses non-admins
    when ``admin_only`` (404, as an admin-only collection), validates the query string
    against ``params`` (400 naming the field) and returns what ``read`` returns for
    ``(session, caller, sees, params)``, read in a read-only session. ``read`` checks every
    UUID it is given with ``sees`` and raises ``PermanentError`` naming the field.
    """

    collection: str
    path: str
    operation_id: str
    summary: str
    reply: type[BaseModel]
    read: CollectionReadFn
    params: type[BaseModel] = field(default=NoParams)
    admin_only: bool = False


class Owners:
    """Who owns a resource of any readable type (for APIs that act on other resources:
    tags, sharing). Built from the same declarations as the reads."""

    def __init__(self, readables: list[ReadableResource]) -> None:
        self._by_type = {r.query.tag_type: r.query for r in readables}
        self._by_type.update({r.name: r.query for r in readables})

    def types(self) -> list[str]:
        return sorted(self._by_type)

    async def owner_of(self, session: AsyncSession, resource_type: str, uuid: str) -> str | None:
        """The owner account of the resource; None if there is no such resource (or type).
        A resource type with no owner column is owned by nobody: ''."""
        query = self._by_type.get(resource_type)
        if query is None:
            return None
        owner = query.owner if query.owner is not None else literal("")
        row = (await session.execute(select(owner).where(query.uuid == uuid))).first()
        return None if row is None else str(row[0])
