"""``ResourceType``: a resource declared once, and what the kit derives from it.

A service declares each of its resource types here — table, inventory model, parents,
quota, REST collection — and gets from the declaration: row → inventory, the query
mapping (fields and relations in both directions, so ZQL and ``q=`` reach parents and
children), the readable resource of the REST API, and the cascade declaration with quota
release and the release of its UUID. ``ResourceTypes`` builds them for every declared type
at once, because a relation is declared on the child only and its reverse lands on the
parent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, Generic, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel
from sqlalchemy import String, Text, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core import quota
from mgmt.core.api import CallerContext
from mgmt.core.api.reads import Inventories, Inventory, ReadableResource, plain
from mgmt.core.cascade.table import Check, Cleanup, Hook, TableCascade
from mgmt.core.db.types import UtcDateTime
from mgmt.core.query import QueryableResource, Relation
from mgmt.core.quota import Quota
from mgmt.core.resource.uuids import forget


class ResourceColumns:
    """The columns every resource table has (a mixin of its model)."""

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_account_uuid: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


#: inventory field → column attribute, where the names do not follow camelCase ↔ snake_case
_COMMON = {"createDate": "created_at", "lastOpDate": "updated_at"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def column_name(field_name: str) -> str:
    """``hypervisorType`` → ``hypervisor_type``; ``createDate`` → ``created_at``."""
    return _COMMON.get(field_name) or _CAMEL.sub("_", field_name).lower()


@dataclass(frozen=True)
class Parent:
    """This type belongs to a ``type`` resource through ``column`` (``ClusterRow.zone_uuid``).

    ``relation`` names the way up (``zone``), ``children`` the way down from the parent
    (``clusters``); both are queryable. A parent deleted takes its children with it
    (``cascade``) unless it is only a reference. ``shared_use``: an account may create a
    child under a parent shared with it (a VIP on a shared L3 network); otherwise the
    parent must be its own."""

    type: str
    column: Any
    relation: str
    children: str
    cascade: bool = True
    shared_use: bool = False


RowT = TypeVar("RowT")
InvT = TypeVar("InvT", bound=BaseModel)


@dataclass(frozen=True, eq=False)
class ResourceType(Generic[RowT, InvT]):
    """One resource type. Only ``name``, ``collection``, ``table`` and ``inventory`` are
    required; every inventory field maps to the column of the same name in snake case
    unless ``columns`` says otherwise, or ``inventory_of`` builds the inventory itself."""

    name: str
    collection: str
    table: type[RowT]
    inventory: type[InvT]
    parents: tuple[Parent, ...] = ()
    quota: Quota | None = None
    #: inventory field → column, where the snake-case rule does not hold
    columns: Mapping[str, Any] = field(default_factory=dict)
    #: inventory fields that are columns but not queryable (a JSON document …)
    unqueryable: frozenset[str] = frozenset()
    #: fields whose values are one of a fixed set, besides those the inventory types as a
    #: ``Literal`` or an enum (a query for another value is a 400 naming the allowed ones)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: the attribute holding the owner account (tenancy); None: no owner (visible to all)
    owner: str | None = "owner_account_uuid"
    #: more relations than those to parents (declared once, on one side)
    relations: tuple[Relation, ...] = ()
    #: how a row becomes an inventory when it needs more than the row (group members …)
    inventory_of: Inventory | None = None
    #: the same for a page of rows at once (reads of collections use it when given)
    inventories_of: Inventories | None = None
    #: cascade: a veto, a hook in the delete transaction, a cleanup after it
    check: Check | None = None
    before_delete: Hook | None = None
    cleanup: Cleanup | None = None
    admin_only_reads: bool = False

    @property
    def uuid_column(self) -> Any:
        return self.table.uuid  # type: ignore[attr-defined]

    @property
    def owner_column(self) -> Any:
        return None if self.owner is None else getattr(self.table, self.owner)

    def may_act(self, caller: CallerContext, row: Any) -> bool:
        """Whether ``caller`` may change ``row``: an admin, or its owner."""
        return (
            caller.isAdmin or self.owner is None or getattr(row, self.owner) == caller.accountUuid
        )

    def field_columns(self) -> dict[str, Any]:
        """Inventory field → column, for every field the table holds (checked here, so a
        field with no column fails at start-up, not at the first read)."""
        mapped: dict[str, Any] = {}
        for name in self.inventory.model_fields:
            if name in self.unqueryable:
                continue
            column = self.columns.get(name)
            if column is None:
                attr = "owner_account_uuid" if name == "ownerAccountUuid" else column_name(name)
                column = getattr(self.table, attr, None)
            if column is None and self.inventory_of is None:
                raise ValueError(f"{self.name}.{name}: no column {column_name(name)!r}")
            if column is not None:
                mapped[name] = column
        return mapped

    def field_choices(self) -> dict[str, tuple[str, ...]]:
        """Fixed value sets of queryable fields: declared, or read off the inventory."""
        found: dict[str, tuple[str, ...]] = {}
        queryable = self.field_columns()
        for name, info in self.inventory.model_fields.items():
            values = _fixed_values(info.annotation)
            if values and name in queryable:
                found[name] = values
        return {**found, **self.choices}

    @cached_property
    def _keys(self) -> dict[str, str]:
        """Inventory field → the row attribute holding it."""
        return {name: col.key for name, col in self.field_columns().items()}

    def to_inventory(self, row: Any) -> InvT:
        return self.inventory(**{name: getattr(row, key) for name, key in self._keys.items()})

    @property
    def owns_itself(self) -> bool:
        """An account: its owner column is its own UUID."""
        return self.owner == "uuid"

    def cascade(self) -> TableCascade:
        links = {p.type: p.column for p in self.parents if p.cascade}
        if self.owner_column is not None and not self.owns_itself:
            links["Account"] = self.owner_column
        return TableCascade(
            self.name,
            self.table,
            parents=links,
            check=self.check,
            before_delete=_chain(self._release_quota(), self.before_delete, forget),
            cleanup=self.cleanup,
        )

    def _release_quota(self) -> Hook | None:
        declared, owner = self.quota, self.owner_column
        if declared is None or owner is None:
            return None
        table = self.table

        async def release(session: AsyncSession, uuids: Sequence[str]) -> None:
            owners = await session.execute(
                select(owner, func.count())
                .where(table.uuid.in_(uuids))  # type: ignore[attr-defined]
                .group_by(owner)
            )
            for account, n in owners.all():
                await quota.release(session, account, declared.name, int(n))

        return release


def _fixed_values(annotation: Any) -> tuple[str, ...]:
    """``Literal["A", "B"]`` → ("A", "B"); a ``StrEnum`` → its values; else ()."""
    if get_origin(annotation) is Literal:
        return tuple(str(a) for a in get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return tuple(m.value for m in annotation)
    return ()


def _chain(*hooks: Hook | None) -> Hook | None:
    present = [h for h in hooks if h is not None]
    if not present:
        return None

    async def run(session: AsyncSession, uuids: Sequence[str]) -> None:
        for hook in present:
            await hook(session, uuids)

    return run


class ResourceTypes:
    """Every declared type of a process: their queries, reads and cascades, with each
    relation queryable from both ends."""

    def __init__(self, types: Iterable[ResourceType[Any, Any]]) -> None:
        self.types: dict[str, ResourceType[Any, Any]] = {}
        for t in types:
            if t.name in self.types:
                raise ValueError(f"resource type {t.name!r} declared twice")
            self.types[t.name] = t

    def _relations(self) -> dict[str, dict[str, Relation]]:
        out: dict[str, dict[str, Relation]] = {name: {} for name in self.types}

        def add(owner: str, relation: Relation) -> None:
            if relation.name in out[owner]:
                raise ValueError(f"relation {owner}.{relation.name} declared twice")
            out[owner][relation.name] = relation

        for t in self.types.values():
            for r in t.relations:
                add(t.name, r)
            for p in t.parents:
                parent = self.types.get(p.type)
                if parent is None:
                    raise ValueError(f"{t.name}: parent type {p.type!r} is not declared")
                add(t.name, Relation(p.relation, p.type, p.column, parent.uuid_column))
                add(p.type, Relation(p.children, t.name, parent.uuid_column, p.column))
        return out

    def queryables(self) -> list[QueryableResource]:
        relations = self._relations()
        return [
            QueryableResource(
                t.name,
                t.table,
                t.uuid_column,
                t.field_columns(),
                relations=relations[t.name],
                owner=t.owner_column,
                choices=t.field_choices(),
            )
            for t in self.types.values()
        ]

    def readables(self) -> list[ReadableResource]:
        return [
            ReadableResource(
                query,
                t.collection,
                t.inventory_of or plain(t.to_inventory),
                t.inventory,
                admin_only=t.admin_only_reads,
                inventories=t.inventories_of,
            )
            for t, query in zip(self.types.values(), self.queryables(), strict=True)
        ]

    def cascades(self) -> list[TableCascade]:
        return [t.cascade() for t in self.types.values()]

    def quotas(self) -> dict[str, int]:
        return {t.quota.name: t.quota.default for t in self.types.values() if t.quota}
