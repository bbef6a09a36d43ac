"""REST reads, straight from the database (no bus hop), for every readable resource.

``GET /v1/<collection>`` (``Query<Resource>``: repeated ``q=`` conditions, limit, start,
sort, fields, count, replyWithCount, groupBy), ``GET /v1/<collection>/{uuid}``
(``Get<Resource>``) and ``GET /v1/zql`` (``ZQLQuery``). The caller's visibility (its own
resources, unless admin) is applied to the resource and to every related resource a
condition reaches; values are always bound parameters; a bad token is a 400 naming it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, create_model
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from mgmt.core.api import ApiCodes, CallerContext, not_found
from mgmt.core.api.reads import CollectionRead, ReadableResource, ResourceRead
from mgmt.core.db import Database
from mgmt.core.db.lookup import RowByKey
from mgmt.core.errors import error
from mgmt.core.query import (
    Condition,
    Op,
    QueryError,
    QueryRegistry,
    Visibility,
    build_select,
    compile_zql,
    parse_condition,
    parse_zql,
)
from mgmt.core.query.conditions import SYSTEM_TAG
from mgmt.core.query.zql import Cond, Expr, Not
from mgmt.core.sharing import shared_with, visible_to
from mgmt.frontend.auth import SECURED, ApiHttpError, Authenticator
from mgmt.frontend.openapi import error_responses
from mgmt.frontend.query_params import QueryParams
from mgmt.frontend.resource_reads import mount_collection_reads, mount_resource_reads


@dataclass
class ReadContext:
    db: Database
    auth: Authenticator
    registry: QueryRegistry
    readables: Sequence[ReadableResource]
    #: services' reads about one resource (``GET /v1/l3-networks/{uuid}/ip-capacity``)
    resource_reads: Sequence[ResourceRead] = ()
    #: services' reads about a collection (``GET /v1/vm-instances/candidates``)
    collection_reads: Sequence[CollectionRead] = ()
    #: the services' error codes → HTTP status (a collection read's refusal)
    statuses: Mapping[str, int] = field(default_factory=dict)


def _visibility(caller: CallerContext) -> Visibility | None:
    """Admins see all; an account its own, what is shared with it and what is public."""
    return None if caller.isAdmin else visible_to(caller.accountUuid)


#: what a non-admin may ask of system tags: whole values only. Patterns and ranges would let
#: a caller read a sensitive or admin-only tag's value a character at a time.
_TAG_OPS = frozenset({Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.IS_NULL, Op.NOT_NULL})


def _no_tag_probe(caller: CallerContext, conditions: list[Condition]) -> None:
    if caller.isAdmin:
        return
    for c in conditions:
        if c.path and c.path[-1] == SYSTEM_TAG and c.op not in _TAG_OPS:
            raise QueryError(
                f"{SYSTEM_TAG} takes whole values (=, !=, ?=, !?=, is null) only",
                token=str(c.op.value),
            )


def _conditions_of(expr: Expr | None) -> list[Condition]:
    if expr is None:
        return []
    if isinstance(expr, Cond):
        return [expr.condition]
    if isinstance(expr, Not):
        return _conditions_of(expr.operand)
    return [c for operand in expr.operands for c in _conditions_of(operand)]


def _bad_query(exc: QueryError) -> ApiHttpError:
    return ApiHttpError(400, exc.error)


async def _inventories(
    s: AsyncSession, resource: ReadableResource, rows: Sequence[Any]
) -> list[dict[str, Any]]:
    if resource.inventories is not None:  # a page in a few queries, not one per row
        return [i.model_dump(mode="json") for i in await resource.inventories(s, rows)]
    return [(await resource.inventory(s, row)).model_dump(mode="json") for row in rows]


def mount_reads(app: FastAPI, ctx: ReadContext) -> None:
    by_name = {r.name.lower(): r for r in ctx.readables}
    # first: ``/v1/<collection>/<path>`` before ``/v1/<collection>/{uuid}`` matches it
    mount_collection_reads(
        app,
        db=ctx.db,
        auth=ctx.auth,
        registry=ctx.registry,
        reads=ctx.collection_reads,
        visibility=_visibility,
        statuses=ctx.statuses,
    )
    for resource in ctx.readables:
        _mount_resource(app, ctx, resource)
    mount_resource_reads(
        app,
        db=ctx.db,
        auth=ctx.auth,
        registry=ctx.registry,
        readables=ctx.readables,
        reads=ctx.resource_reads,
        visibility=_visibility,
    )

    class ZqlReply(BaseModel):
        kind: str = Field(description="query, count or sum.")
        inventories: list[dict[str, Any]] | None = Field(default=None, description="Rows.")
        total: int | None = Field(default=None, description="Matching rows (count/total).")
        sum: float | None = Field(default=None, description="The sum (sum).")
        groups: list[dict[str, Any]] | None = Field(default=None, description="Per group.")

    @app.get(
        "/v1/zql",
        tags=["query"],
        summary="Run a ZQL statement",
        operation_id="ZQLQuery",
        openapi_extra=SECURED,
        responses=error_responses(403),
        response_model=ZqlReply,
        response_model_exclude_none=True,
    )
    async def zql(
        request: Request,
        zql: str = Query(
            description="e.g. `query zone where name='z1' limit 10 return with (total)`",
            max_length=4096,
        ),
    ) -> ZqlReply:
        caller = await ctx.auth.caller(request)
        try:
            stmt = parse_zql(zql)
            resource = by_name.get(stmt.resource.lower())
            if resource is None or (resource.admin_only and not caller.isAdmin):
                raise QueryError(f"no resource {stmt.resource!r}", token=stmt.resource)
            await ctx.auth.authorize(caller, f"Query{resource.name}", "*")
            _no_tag_probe(caller, _conditions_of(stmt.where))
            plan = compile_zql(ctx.registry, stmt, _visibility(caller))
        except QueryError as exc:
            raise _bad_query(exc) from exc
        async with ctx.db.read_session() as s:
            result = await s.execute(plan.rows)
            if plan.kind == "query":
                if plan.fields:
                    rows = [dict(r._mapping) for r in result.all()]
                else:
                    rows = await _inventories(s, resource, result.scalars().all())
                total = (await s.scalar(plan.total)) if plan.total is not None else None
                return ZqlReply(kind="query", inventories=rows, total=total)
            if plan.group_by:
                groups = [{"value": _json(r[0]), plan.kind: _json(r[1])} for r in result.all()]
                return ZqlReply(kind=plan.kind, groups=groups)
            value = result.scalar()
            if plan.kind == "count":
                return ZqlReply(kind="count", total=int(value or 0))
            return ZqlReply(kind="sum", sum=float(value or 0))


def _inventory_response(inventory: BaseModel) -> Response:
    """``{"inventory": ...}``, serialised by pydantic in one step (no dict in between)."""
    body = '{"inventory":' + inventory.model_dump_json() + "}"
    return Response(body, media_type="application/json")


def _json(value: Any) -> Any:
    if isinstance(value, date):  # ISO 8601, as in an inventory (str() has no "T")
        return value.isoformat()
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


class _ByKey:
    """Reads one row by primary key (``RowByKey``: a plain connection, on PostgreSQL the
    driver's own) and checks the caller may see it; for resources keyed by a string column
    with a plain owner column."""

    def __init__(self, rows: RowByKey, owner_key: str | None) -> None:
        self._rows = rows
        self._owner_key = owner_key

    @classmethod
    def of(cls, resource: ReadableResource, dialect: Dialect) -> _ByKey | None:
        key, owner = resource.query.uuid, resource.query.owner
        string_key = isinstance(key, InstrumentedAttribute) and (
            getattr(getattr(key, "type", None), "python_type", None) is str
        )
        if not string_key or not (owner is None or isinstance(owner, InstrumentedAttribute)):
            return None
        table = cast(Any, resource.query.model).__table__
        rows = RowByKey(table, cast(Any, key).expression, dialect)
        return cls(rows, owner.key if isinstance(owner, InstrumentedAttribute) else None)

    async def read(self, conn: AsyncConnection, uuid: str, caller: CallerContext) -> Any | None:
        row = await self._rows.fetch(conn, uuid)
        if row is None:
            return None
        if caller.isAdmin or self._owner_key is None:
            return row
        if getattr(row, self._owner_key) == caller.accountUuid:
            return row
        async with AsyncSession(bind=conn) as s:
            return row if await shared_with(s, uuid, caller.accountUuid) else None


def _selectable(model: type[BaseModel]) -> type[BaseModel]:
    """A query's inventory: the model's fields, each there unless ``fields=`` leaves it
    out (a Get answers the whole inventory, every field required)."""
    fields: dict[str, Any] = {
        name: (info.annotation, Field(default=None, description=info.description))
        for name, info in model.model_fields.items()
    }
    return create_model(f"{model.__name__}Fields", __doc__=model.__doc__, **fields)


def _reply_models(resource: ReadableResource) -> tuple[type[BaseModel], type[BaseModel]]:
    """The documented replies of a Get and of a Query."""
    name = resource.name
    single = create_model(f"Get{name}Reply", inventory=(resource.model, ...))
    item = _selectable(resource.model)
    many = create_model(
        f"Query{name}Reply",
        inventories=(list[item] | None, None),  # type: ignore[valid-type,arg-type]
        total=(int | None, None),
        groups=(list[dict[str, Any]] | None, None),
    )
    return single, many


def _mount_resource(app: FastAPI, ctx: ReadContext, resource: ReadableResource) -> None:
    name = resource.name
    single, many = _reply_models(resource)

    by_key = _ByKey.of(resource, ctx.db.engine.dialect)
    params = QueryParams.of(ctx.registry, name)

    def allowed(caller: CallerContext) -> None:
        if resource.admin_only and not caller.isAdmin:
            missing = error(ApiCodes.NOT_FOUND, f"no collection {resource.collection}")
            raise ApiHttpError(404, missing)

    @app.get(
        f"/v1/{resource.collection}",
        tags=[resource.collection],
        summary=f"Query {name}",
        operation_id=f"Query{name}",
        response_model=None,
        openapi_extra=SECURED,
        # an admin-only collection is not found for anyone else (as if it did not exist)
        responses={200: {"model": many}, **error_responses(403, *[404] * resource.admin_only)},
    )
    async def query(
        request: Request,
        q: list[str] = Query(
            default=[],
            description="Conditions, ANDed: `name=z1`, `state!=Disabled`, `clusters.name~=c%`.",
        ),
        limit: int = Query(default=1000, ge=0, le=10_000, description="Page size."),
        start: int = Query(default=0, ge=0, description="Offset."),
        sort: str | None = Query(
            default=None,
            description="`+field` or `-field`.",
            json_schema_extra=params.sort_schema(),
        ),
        fields: str | None = Query(
            default=None,
            description="Comma list: return only these.",
            json_schema_extra=params.fields_schema(),
        ),
        count: bool = Query(default=False, description="Only the number of matches."),
        replyWithCount: bool = Query(default=False, description="Add `total` to the page."),
        groupBy: str | None = Query(
            default=None,
            description="Count per value of a field.",
            json_schema_extra=params.group_by_schema(),
        ),
    ) -> JSONResponse:
        caller = await ctx.auth.caller(request)
        allowed(caller)
        await ctx.auth.authorize(caller, f"Query{name}", "*")
        try:
            conditions = [parse_condition(c) for c in q]
            _no_tag_probe(caller, conditions)
            plan = build_select(
                ctx.registry,
                name,
                conditions,
                visibility=_visibility(caller),
                sort=params.sort(sort),
                limit=limit,
                start=start,
                fields=params.selected(fields),
                group_by=params.group_by(groupBy),
            )
        except QueryError as exc:
            raise _bad_query(exc) from exc
        async with ctx.db.read_session() as s:
            if count:
                return JSONResponse({"total": int(await s.scalar(plan.count) or 0)})
            result = await s.execute(plan.rows)
            body: dict[str, Any] = {}
            if plan.group_by:
                body["groups"] = [{"value": _json(r[0]), "count": int(r[1])} for r in result.all()]
            elif plan.fields:
                body["inventories"] = [
                    {k: _json(v) for k, v in r._mapping.items()} for r in result.all()
                ]
            else:
                body["inventories"] = await _inventories(s, resource, result.scalars().all())
            if replyWithCount:
                body["total"] = int(await s.scalar(plan.count) or 0)
            return JSONResponse(body)

    @app.get(
        f"/v1/{resource.collection}/{{uuid}}",
        tags=[resource.collection],
        summary=f"Get a {name}",
        operation_id=f"Get{name}",
        response_model=None,
        openapi_extra=SECURED,
        responses={200: {"model": single}, **error_responses(403)},
    )
    async def get_one(
        request: Request,
        uuid: str = Path(max_length=64, description=f"The {name}'s UUID."),
    ) -> Response:
        caller = await ctx.auth.caller(request)
        allowed(caller)
        await ctx.auth.authorize(caller, f"Get{name}", uuid)
        if by_key is not None:
            async with ctx.db.autocommit.connect() as conn:
                row = await by_key.read(conn, uuid, caller)
                if row is None:
                    raise ApiHttpError(404, not_found(name, uuid))
                async with AsyncSession(bind=conn) as s:
                    inventory = await resource.inventory(s, row)
            return _inventory_response(inventory)
        try:
            plan = build_select(
                ctx.registry,
                name,
                [Condition(("uuid",), Op.EQ, uuid)],
                visibility=_visibility(caller),
                limit=1,
            )
        except QueryError as exc:  # an id that cannot be one (wrong type): no such resource
            raise ApiHttpError(404, not_found(name, uuid)) from exc
        async with ctx.db.read_session() as s:
            row = (await s.execute(plan.rows)).scalars().first()
            if row is None:
                raise ApiHttpError(404, not_found(name, uuid))
            inventory = await resource.inventory(s, row)
        return _inventory_response(inventory)
