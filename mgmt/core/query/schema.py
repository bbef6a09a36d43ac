"""How a resource makes itself queryable: fields, relations and the tenancy column.

Each service declares one ``QueryableResource`` per model and adds it to the process's
``QueryRegistry`` in the composition root; ``validate()`` then checks that every relation
leads somewhere. The query builders (``build.py``, ``zql.py``) read only these declarations,
so no resource has query code of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast

from sqlalchemy import ColumnElement, FromClause, inspect
from sqlalchemy.orm import Mapper, QueryableAttribute
from sqlalchemy.sql.util import find_tables

ColumnLike: TypeAlias = ColumnElement[Any] | QueryableAttribute[Any]
"""A column as declared: a model attribute (``VmInstance.name``) or a Core column."""


def as_column(column: ColumnLike) -> ColumnElement[Any]:
    """The Core expression behind a declared column."""
    if isinstance(column, QueryableAttribute):
        return column.expression
    return column


@dataclass(frozen=True, eq=False)
class Relation:
    """A way from one resource to another, named as the API names it (``vmNics``).

    Rows of ``target`` match when ``remote == local`` (``VmNic.vm_uuid == VmInstance.uuid``).
    Always treated as possibly to-many: conditions through it become ``EXISTS``.
    """

    name: str
    target: str
    local: ColumnLike
    remote: ColumnLike


@dataclass(frozen=True, eq=False)
class QueryableResource:
    """One queryable resource.

    ``name`` is the resource name (``VmInstance``; ZQL also accepts it in any case);
    ``fields`` maps API field names (``memorySize``) to columns of ``model``; ``owner`` is the
    owner-account column visibility hooks filter on; ``resource_type`` is what its tags are
    stored under (defaults to ``name``); ``choices`` names the fields whose values are one of
    a fixed set (``state``: Enabled, Disabled), so that a condition comparing one to anything
    else is a 400 naming the allowed values rather than a query that silently matches nothing.
    """

    name: str
    model: type
    uuid: ColumnLike
    fields: Mapping[str, ColumnLike]
    relations: Mapping[str, Relation] = field(default_factory=dict)
    owner: ColumnLike | None = None
    resource_type: str | None = None
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def tag_type(self) -> str:
        return self.resource_type or self.name

    @property
    def selectable(self) -> FromClause:
        """The table (or mapped selectable) rows of this resource come from."""
        mapper = cast(Mapper[Any], inspect(self.model))
        return mapper.selectable


Visibility: TypeAlias = Callable[[QueryableResource], ColumnElement[bool] | None]
"""The WHERE clause restricting a resource to what the caller may see; ``None`` = all.

Written against the resource's own model columns. The builders apply it to the root resource
and, adapted to the subquery's alias, to every resource reached through a relation.
"""


def owned_by(account_uuid: str, *, unowned_visible: bool = True) -> Visibility:
    """Visibility of a tenant: rows whose owner is ``account_uuid``. Resources declared with
    no owner column (zones, offerings) are all visible, or none when not ``unowned_visible``.
    """

    def visible(resource: QueryableResource) -> ColumnElement[bool] | None:
        if resource.owner is None:
            return None if unowned_visible else as_column(resource.uuid).is_(None)
        return as_column(resource.owner) == account_uuid

    return visible


class QueryRegistry:
    """The queryable resources of a process, by name (looked up case-insensitively)."""

    def __init__(self, resources: Iterable[QueryableResource] = ()) -> None:
        self._by_key: dict[str, QueryableResource] = {}
        for resource in resources:
            self.add(resource)

    def add(self, resource: QueryableResource) -> None:
        """Register ``resource``; a second resource of the same name is a ``ValueError``."""
        key = resource.name.lower()
        if key in self._by_key:
            raise ValueError(f"queryable resource {resource.name!r} added twice")
        self._by_key[key] = resource

    def get(self, name: str) -> QueryableResource | None:
        return self._by_key.get(name.lower())

    def names(self) -> list[str]:
        return sorted(r.name for r in self._by_key.values())

    def validate(self) -> None:
        """Check every declaration: relation keys match their names, targets exist, and each
        column belongs to the table it claims to. Raises ``ValueError`` naming the culprit."""
        for resource in self._by_key.values():
            own = resource.selectable
            columns: dict[str, ColumnLike] = {"uuid": resource.uuid, **resource.fields}
            if resource.owner is not None:
                columns["owner"] = resource.owner
            for label, column in columns.items():
                _check_from(column, own, f"{resource.name}.{label}")
            for label, allowed in resource.choices.items():
                if label not in resource.fields or not allowed:
                    raise ValueError(f"choices of {resource.name}.{label}: not a field, or empty")
            for key, relation in resource.relations.items():
                where = f"relation {resource.name}.{key}"
                if key != relation.name:
                    raise ValueError(f"{where} is declared under the name {relation.name!r}")
                target = self.get(relation.target)
                if target is None:
                    raise ValueError(f"{where} targets unknown resource {relation.target!r}")
                _check_from(relation.local, own, f"{where} (local)")
                _check_from(relation.remote, target.selectable, f"{where} (remote)")


def _check_from(column: ColumnLike, table: FromClause, where: str) -> None:
    tables = find_tables(as_column(column), check_columns=True)
    if not tables or any(not table.is_derived_from(t) for t in tables):
        raise ValueError(f"{where} is not a column of {table.description!r}")
