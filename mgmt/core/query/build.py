"""Conditions on a queryable resource compiled to SQLAlchemy ``Select`` statements.

Called by the API frontend for ``GET`` on a collection (``build_select``) and by ``zql.py``
(through ``Compiler``). Semantics, the same for both front ends:

- a condition on a field of the root is a plain ``WHERE`` term (SQL semantics: ``!=``,
  ``not in`` and ``not like`` do not match NULL);
- a dotted path walks relations and becomes a correlated ``EXISTS`` per condition: "some
  related row satisfies it", so a to-many relation never duplicates root rows (and two
  conditions on ``vmNics.*`` may be met by different NICs). Each walked resource's
  visibility clause is inside its subquery, so a caller cannot probe rows of other tenants
  through nested conditions;
- ``__systemTag__`` / ``__userTag__`` match the tags of the resource at the end of the path:
  ``=``, ``>``, ``?=``, ``~=``… "has a tag that matches", ``!=``, ``!?=``, ``!~=`` "has no tag
  that matches the positive form", ``is null`` "has no tag", ``not null`` "has one";
- every value is a bound parameter converted to the column's type first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    String,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import aliased
from sqlalchemy.sql.util import ClauseAdapter

from mgmt.core.query.conditions import SYSTEM_TAG, TAG_FIELDS, Condition, Op
from mgmt.core.query.convert import convert, is_text
from mgmt.core.query.errors import QueryError, shown
from mgmt.core.query.schema import (
    ColumnLike,
    QueryableResource,
    QueryRegistry,
    Visibility,
    as_column,
)
from mgmt.core.tags.models import SYSTEM, USER, TagRow

AnySelect: TypeAlias = Select[*tuple[Any, ...]]
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
COUNT_LABEL = "count"


@dataclass(frozen=True)
class QueryPlan:
    """What ``build_select`` made: ``rows`` (model entities; labelled columns named after the
    fields when ``fields`` was given; ``(group field, count)`` with ``group_by``) and
    ``count``, the number of matching root rows regardless of ``limit`` / ``start``."""

    rows: AnySelect
    count: AnySelect
    fields: tuple[str, ...] | None = None
    group_by: str | None = None


@dataclass(frozen=True)
class Ordering:
    field: str
    descending: bool = False


class _Scope:
    """A resource as one (sub)query sees it: the root's own table, or a fresh alias."""

    def __init__(self, resource: QueryableResource, *, aliased_: bool) -> None:
        self.resource = resource
        self.from_: FromClause = resource.selectable.alias() if aliased_ else resource.selectable
        self._adapter = ClauseAdapter(self.from_) if aliased_ else None

    def col(self, column: ColumnLike) -> ColumnElement[Any]:
        return self.clause(as_column(column))

    def clause(self, clause: ColumnElement[Any]) -> ColumnElement[Any]:
        if self._adapter is None:
            return clause
        return self._adapter.traverse(clause)


class Compiler:
    """Compiles conditions, orderings and projections on one root resource.

    Raises ``QueryError`` for an unknown resource, field, relation or a bad value.
    """

    def __init__(
        self, registry: QueryRegistry, resource_name: str, visibility: Visibility | None
    ) -> None:
        resource = registry.get(resource_name)
        if resource is None:
            raise QueryError(f"unknown resource {shown(resource_name)!r}", token=resource_name)
        self.registry = registry
        self.root = resource
        self.visibility = visibility
        self._root_scope = _Scope(resource, aliased_=False)

    # ---- WHERE

    def where(self, clauses: Iterable[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
        """``clauses`` plus the root's visibility clause."""
        found = list(clauses)
        visible = self._visible(self.root)
        if visible is not None:
            found.append(visible)
        return found

    def condition(self, cond: Condition) -> ColumnElement[bool]:
        return self._at(self._root_scope, cond.path, cond)

    def _at(self, scope: _Scope, path: tuple[str, ...], cond: Condition) -> ColumnElement[bool]:
        resource, head, rest = scope.resource, path[0], path[1:]
        if not rest:
            if head in TAG_FIELDS:
                return self._tag(scope, head, cond)
            column = resource.fields.get(head)
            if column is None:
                hint = " (a relation: name one of its fields)" if head in resource.relations else ""
                raise _unknown(head, resource, hint)
            allowed = resource.choices.get(head)
            if allowed is not None:
                check_choice(cond, allowed)
            return compare(scope.col(column), cond)
        relation = resource.relations.get(head)
        if relation is None:
            hint = " (a field, not a relation)" if head in resource.fields else ""
            raise _unknown(head, resource, hint)
        target = self.registry.get(relation.target)
        if target is None:  # QueryRegistry.validate() catches this at start-up
            raise ValueError(f"relation {resource.name}.{head} targets {relation.target!r}")
        inner = _Scope(target, aliased_=True)
        terms = [inner.col(relation.remote) == scope.col(relation.local)]
        terms.append(self._at(inner, rest, cond))
        visible = self._visible(target)
        if visible is not None:
            terms.append(inner.clause(visible))
        return select(literal_column("1")).select_from(inner.from_).where(*terms).exists()

    def _tag(self, scope: _Scope, head: str, cond: Condition) -> ColumnElement[bool]:
        resource = scope.resource
        tag = aliased(TagRow)
        owner = scope.col(resource.uuid)
        if not is_text(owner):
            owner = sql_cast(owner, String)
        terms = [
            tag.resource_uuid == owner,
            tag.kind == (SYSTEM if head == SYSTEM_TAG else USER),
            tag.resource_type == resource.tag_type,
        ]
        if cond.op in (Op.IS_NULL, Op.NOT_NULL):
            negate = cond.op is Op.IS_NULL
        else:
            negate = cond.op.negative
            positive = Condition(cond.path, cond.op.positive, cond.value)
            terms.append(compare(as_column(tag.tag), positive))
        found = select(literal_column("1")).select_from(tag).where(*terms).exists()
        return ~found if negate else found

    def _visible(self, resource: QueryableResource) -> ColumnElement[bool] | None:
        return None if self.visibility is None else self.visibility(resource)

    # ---- root fields: projections, orderings, grouping

    def field(self, name: str, purpose: str) -> ColumnElement[Any]:
        """A field of the root itself (no paths: they could be to-many)."""
        column = self.root.fields.get(name)
        if column is None:
            raise QueryError(
                f"unknown {purpose} field {shown(name)!r} on {self.root.name!r}",
                token=name,
                resource=self.root.name,
            )
        return as_column(column)

    def rows(
        self,
        where: Sequence[ColumnElement[bool]],
        *,
        fields: Sequence[str] | None,
        order: Sequence[Ordering],
        limit: int,
        start: int,
    ) -> AnySelect:
        """Matching root rows: entities, or the named fields as labelled columns."""
        check_window(limit, start)
        stmt: AnySelect
        if fields:
            stmt = select(*(self.field(f, "selected").label(f) for f in fields))
        else:
            stmt = select(self.root.model)
        terms = [self.field(o.field, "sort") for o in order]
        by = [t.desc() if o.descending else t.asc() for t, o in zip(terms, order, strict=True)]
        by.append(as_column(self.root.uuid).asc())  # a stable order for paging
        stmt = stmt.select_from(self.root.selectable).where(*where).order_by(*by)
        return stmt.limit(limit).offset(start)

    def count(self, where: Sequence[ColumnElement[bool]]) -> AnySelect:
        return select(func.count()).select_from(self.root.selectable).where(*where)

    def grouped(
        self,
        where: Sequence[ColumnElement[bool]],
        group_by: str,
        aggregate: ColumnElement[Any],
        label: str,
    ) -> AnySelect:
        """``(group field, aggregate)`` per value of ``group_by``, in the group's order."""
        group = self.field(group_by, "group by")
        return (
            select(group.label(group_by), aggregate.label(label))
            .select_from(self.root.selectable)
            .where(*where)
            .group_by(group)
            .order_by(group.asc())
        )


def compare(column: ColumnElement[Any], cond: Condition) -> ColumnElement[bool]:
    """``column <op> value`` with the value converted to the column's type and bound."""
    field, op, value = cond.dotted, cond.op, cond.value
    if op is Op.IS_NULL:
        return column.is_(None)
    if op is Op.NOT_NULL:
        return column.is_not(None)
    if isinstance(value, tuple):
        if op not in (Op.IN, Op.NOT_IN):
            raise QueryError(f"operator {op.value!r} takes one value", token=op.value)
        values = [convert(column, field, v) for v in value]
        return column.in_(values) if op is Op.IN else column.not_in(values)
    if value is None:
        raise QueryError(f"operator {op.value!r} needs a value", token=op.value)
    if op in (Op.LIKE, Op.NOT_LIKE):
        if "\x00" in value:
            raise QueryError(f"invalid value for field {field!r}", token=value, field=field)
        text = column if is_text(column) else sql_cast(column, String)
        return text.like(value) if op is Op.LIKE else text.not_like(value)
    if op in (Op.IN, Op.NOT_IN):
        return compare(column, Condition(cond.path, op, (value,)))
    # an explicit bound literal: SQLAlchemy refuses ``>`` against a bare True/False
    bound = literal(convert(column, field, value), column.type)
    comparisons = {
        Op.EQ: column.__eq__,
        Op.NE: column.__ne__,
        Op.GT: column.__gt__,
        Op.GE: column.__ge__,
        Op.LT: column.__lt__,
        Op.LE: column.__le__,
    }
    return comparisons[op](bound)


def check_choice(cond: Condition, allowed: tuple[str, ...]) -> None:
    """A value compared to a field of fixed values must be one of them. Patterns (``~=``)
    are left alone: ``state~=En%`` is a fair question."""
    if cond.op in (Op.LIKE, Op.NOT_LIKE, Op.IS_NULL, Op.NOT_NULL):
        return
    values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
    for value in values:
        if value is not None and value not in allowed:
            raise QueryError(
                f"invalid value {shown(value)!r} for field {cond.dotted!r}: "
                f"expected one of {', '.join(allowed)}",
                token=value,
                field=cond.dotted,
                allowed=list(allowed),
            )


def check_window(limit: int, start: int) -> None:
    if not 0 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit {limit} is not within 0..{MAX_LIMIT}", token=str(limit))
    if start < 0:
        raise QueryError(f"start {start} is negative", token=str(start))


def parse_sort(sort: str) -> Ordering:
    """``+field`` / ``field`` ascending, ``-field`` descending. A ``+`` decoded from a URL
    arrives as a space, hence the strip."""
    text = sort.strip()
    descending = text.startswith("-")
    if text[:1] in "+-":
        text = text[1:]
    return Ordering(text, descending)


def build_select(
    registry: QueryRegistry,
    resource_name: str,
    conditions: Sequence[Condition],
    *,
    visibility: Visibility | None,
    sort: str | None = None,
    limit: int = DEFAULT_LIMIT,
    start: int = 0,
    fields: Sequence[str] | None = None,
    group_by: str | None = None,
) -> QueryPlan:
    """The statements answering a REST query: all ``conditions`` (AND) on ``resource_name``
    as ``visibility`` lets the caller see. ``group_by`` makes ``rows`` select
    ``(group field, count)``, ordered by the group or by ``sort`` (the group field or
    ``count``). Raises ``QueryError`` naming the offending token."""
    compiler = Compiler(registry, resource_name, visibility)
    where = compiler.where(compiler.condition(c) for c in conditions)
    order = [parse_sort(sort)] if sort is not None and sort.strip() else []
    check_window(limit, start)
    if group_by is not None:
        if fields:
            raise QueryError("fields cannot be combined with groupBy", token=group_by)
        grouped = compiler.grouped(where, group_by, func.count(), COUNT_LABEL)
        if order:
            grouped = _order_groups(grouped, order[0], group_by)
        return QueryPlan(
            grouped.limit(limit).offset(start), compiler.count(where), group_by=group_by
        )
    selected = tuple(dict.fromkeys(fields)) if fields else None
    rows = compiler.rows(where, fields=selected, order=order, limit=limit, start=start)
    return QueryPlan(rows, compiler.count(where), fields=selected)


def _order_groups(stmt: AnySelect, order: Ordering, group_by: str) -> AnySelect:
    if order.field not in (group_by, COUNT_LABEL):
        raise QueryError(
            f"sort field {shown(order.field)!r} is neither {group_by!r} nor {COUNT_LABEL!r}",
            token=order.field,
        )
    columns = {c.key: c for c in stmt.selected_columns}
    term = columns[order.field]
    by = term.desc() if order.descending else term.asc()
    return stmt.order_by(None).order_by(by, columns[group_by].asc())


def _unknown(name: str, resource: QueryableResource, hint: str = "") -> QueryError:
    return QueryError(
        f"unknown field {shown(name)!r} on {resource.name!r}{hint}",
        token=name,
        resource=resource.name,
    )
