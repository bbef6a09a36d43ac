"""Reads about one resource that services contribute (``ResourceRead``), mounted by
``mount_reads`` beside the resource's own: ``GET /v1/<collection>/{uuid}/<path>``.

The caller must see the resource exactly as ``GET /v1/<collection>/{uuid}`` decides (own,
shared, public; admins all), else 404; the query string is the read's ``params`` model,
one documented query parameter per field, validated by FastAPI (400 naming the field).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any, get_origin

from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from mgmt.core.api import ApiCodes, CallerContext, http_status, not_found
from mgmt.core.api.reads import CollectionRead, ReadableResource, ResourceRead
from mgmt.core.db import Database
from mgmt.core.errors import ZCloudError, error
from mgmt.core.query import Condition, Op, QueryError, QueryRegistry, Visibility, build_select
from mgmt.frontend.auth import SECURED, ApiHttpError, Authenticator
from mgmt.frontend.errors import validation_error
from mgmt.frontend.openapi import error_responses


async def _sees(
    db: Database,
    registry: QueryRegistry,
    name: str,
    uuid: str,
    visibility: Visibility | None,
) -> bool:
    try:
        plan = build_select(
            registry, name, [Condition(("uuid",), Op.EQ, uuid)], visibility=visibility, limit=1
        )
    except QueryError:  # an id that cannot be one: no such resource
        return False
    async with db.read_session() as s:
        return int(await s.scalar(plan.count) or 0) == 1


_SCALAR_BOUNDS = ("ge", "le", "min_length", "max_length", "pattern")


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) in (list, tuple)


def _query_parameters(model: type[BaseModel]) -> list[inspect.Parameter]:
    """One keyword parameter per field, so FastAPI validates and documents each."""
    out = []
    for name, info in model.model_fields.items():
        # FastAPI parses the type and documents the bounds; the model validates them (a
        # list's own bounds stay the model's: its items carry theirs in the annotation)
        keys = ("ge", "le") if _is_list(info.annotation) else _SCALAR_BOUNDS
        bounds = {k: getattr(m, k) for m in info.metadata for k in keys if hasattr(m, k)}
        annotation: Any = info.annotation
        default = Query(default=info.default, description=info.description, **bounds)
        out.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
        )
    return out


def mount_resource_reads(
    app: FastAPI,
    *,
    db: Database,
    auth: Authenticator,
    registry: QueryRegistry,
    readables: Sequence[ReadableResource],
    reads: Sequence[ResourceRead],
    visibility: Any,
) -> None:
    """``visibility(caller)`` is the reads' own rule (None: sees everything)."""
    by_name = {r.name: r for r in readables}
    for read in reads:
        resource = by_name.get(read.resource)
        if resource is None:
            raise ValueError(f"{read.operation_id}: {read.resource} is not a readable resource")
        _mount(app, db, auth, registry, resource, read, visibility)


def _mount(
    app: FastAPI,
    db: Database,
    auth: Authenticator,
    registry: QueryRegistry,
    resource: ReadableResource,
    read: ResourceRead,
    visibility: Any,
) -> None:
    async def endpoint(request: Request, uuid: str, **params: Any) -> Response:
        caller: CallerContext = await auth.caller(request)
        if resource.admin_only and not caller.isAdmin:
            raise ApiHttpError(
                404, error(ApiCodes.NOT_FOUND, f"no collection {resource.collection}")
            )
        await auth.authorize(caller, read.operation_id, uuid)
        if not await _sees(db, registry, resource.name, uuid, visibility(caller)):
            raise ApiHttpError(404, not_found(resource.name, uuid))
        try:
            args = read.params.model_validate(params)
        except ValidationError as exc:
            raise validation_error(exc) from exc
        async with db.read_session() as s:
            reply = await read.read(s, uuid, args)
        return Response(reply.model_dump_json(), media_type="application/json")

    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
            ),
            inspect.Parameter(
                "uuid",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=Path(max_length=64, description=f"The {resource.name}'s UUID."),
                annotation=str,
            ),
            *_query_parameters(read.params),
        ]
    )
    app.add_api_route(
        f"/v1/{resource.collection}/{{uuid}}/{read.path}",
        endpoint,
        methods=["GET"],
        tags=[resource.collection],
        summary=read.summary,
        operation_id=read.operation_id,
        response_model=None,
        openapi_extra=SECURED,
        responses={200: {"model": read.reply}, **error_responses(403)},
    )


def mount_collection_reads(
    app: FastAPI,
    *,
    db: Database,
    auth: Authenticator,
    registry: QueryRegistry,
    reads: Sequence[CollectionRead],
    visibility: Any,
    statuses: Mapping[str, int] | None = None,
) -> None:
    """``GET /v1/<collection>/<path>`` for each read; ``visibility(caller)`` as above;
    ``statuses``: the services' error codes and their HTTP statuses."""
    for read in reads:
        _mount_collection(app, db, auth, registry, read, visibility, statuses or {})


def _mount_collection(
    app: FastAPI,
    db: Database,
    auth: Authenticator,
    registry: QueryRegistry,
    read: CollectionRead,
    visibility: Any,
    statuses: Mapping[str, int],
) -> None:
    async def endpoint(request: Request, **params: Any) -> Response:
        caller: CallerContext = await auth.caller(request)
        if read.admin_only and not caller.isAdmin:
            raise ApiHttpError(404, error(ApiCodes.NOT_FOUND, f"no read {read.path}"))
        await auth.authorize(caller, read.operation_id, "*")
        try:
            args = read.params.model_validate(params)
        except ValidationError as exc:
            raise validation_error(exc) from exc

        async def sees(resource: str, uuid: str) -> bool:
            return await _sees(db, registry, resource, uuid, visibility(caller))

        try:
            async with db.read_session() as s:
                reply = await read.read(s, caller, sees, args)
        except ZCloudError as exc:  # the read's refusal (a UUID it cannot use), named
            raise ApiHttpError(http_status(exc.error, statuses), exc.error) from exc
        return Response(reply.model_dump_json(), media_type="application/json")

    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
            ),
            *_query_parameters(read.params),
        ]
    )
    app.add_api_route(
        f"/v1/{read.collection}/{read.path}",
        endpoint,
        methods=["GET"],
        tags=[read.collection],
        summary=read.summary,
        operation_id=read.operation_id,
        response_model=None,
        openapi_extra=SECURED,
        # 404: a UUID the read was given that the caller cannot see (or the read itself,
        # for a non-admin, when it is admin-only)
        responses={200: {"model": read.reply}, **error_responses(403, 404)},
    )
