"""REST writes and API jobs, derived from the API message declarations.

For every ``ApiRequest`` class the frontend mounts one route (``ApiSpec`` says which), with
the request-body schema derived from the message's fields, so validation and the OpenAPI
spec come from the one declaration. A write is accepted as a job: the row (holding the
whole message) is committed before the 202, then the message goes on the bus, routed by the
resource UUID. ``X-Job-UUID`` makes a retry return the same job; ``Prefer: wait=N`` answers
with the result when it is ready within N seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import re
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import UnionType
from typing import Annotated, Any, Protocol, Union, get_args, get_origin

from fastapi import Body, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    create_model,
)
from sqlalchemy import select

from mgmt.core.api import (
    UUID_PATTERN,
    ApiCodes,
    ApiJobInserts,
    ApiJobRow,
    ApiRequest,
    CallerContext,
    JobState,
    body_fields,
    http_status,
    innermost_meaningful,
    not_found,
)
from mgmt.core.bus import Bus
from mgmt.core.db import Database, utcnow
from mgmt.core.errors import ErrorCode, PermanentError, error
from mgmt.core.logging import get_logger
from mgmt.core.resource import UuidClaim, canonical_uuid, holder_of, uuid_taken
from mgmt.core.ring import partition_of
from mgmt.frontend.auth import SECURED, ApiHttpError, Authenticator
from mgmt.frontend.errors import validation_error
from mgmt.frontend.openapi import JOB_ERRORS

log = get_logger(__name__)

_JOB_UUID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
_MAX_WAIT = 60.0
_WEBHOOK = re.compile(r"^https?://[^\s]{1,2000}$")


@dataclass
class WriteContext:
    db: Database
    bus: Bus
    auth: Authenticator
    jobs: ApiJobInserts
    partitions: int
    job_retention: float
    apis: tuple[type[ApiRequest[Any]], ...]
    #: error code → HTTP status, of the services' own codes (the core's are built in)
    statuses: Mapping[str, int] = field(default_factory=dict)


def mount_writes(app: FastAPI, ctx: WriteContext) -> None:
    for message in ctx.apis:
        _mount(app, ctx, message)

    @app.get(
        "/v1/api-jobs/{uuid}",
        tags=["api-jobs"],
        summary="Get an API job",
        operation_id="GetApiJob",
        openapi_extra=SECURED,
        responses={
            200: {"description": "Done: the API's result."},
            202: {"description": "Still running: `{uuid, state}`."},
            **JOB_ERRORS,  # the job's own outcome
            404: {"description": "No such job, or it expired; or the job's result."},
        },
    )
    async def get_job(
        request: Request, uuid: str = Path(description="The job's UUID.")
    ) -> Response:
        caller = await ctx.auth.caller(request)
        job = await _load_job(ctx.db, uuid)
        if job is None or not (caller.isAdmin or job.account_uuid == caller.accountUuid):
            raise ApiHttpError(404, not_found("ApiJob", uuid))
        return _job_response(job, ctx.statuses)


def _mount(app: FastAPI, ctx: WriteContext, message: type[ApiRequest[Any]]) -> None:
    spec = message.api
    fields = body_fields(message)
    params = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
    ]
    if spec.kind != "create":
        params.append(
            inspect.Parameter(
                "uuid",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str,
                default=Path(description=f"The {spec.resource}'s UUID."),
            )
        )
    if spec.kind == "delete":  # no body: options come in the query string
        for name, f in fields.items():
            params.append(
                inspect.Parameter(
                    name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=f.annotation,
                    default=Query(f.default, description=f.description),
                )
            )
    else:
        body_model = _body_model(message, fields)
        params.append(
            inspect.Parameter(
                "body", inspect.Parameter.KEYWORD_ONLY, annotation=body_model, default=Body(...)
            )
        )

    async def endpoint(request: Request, **kw: Any) -> Response:
        caller = await ctx.auth.caller(request)
        path_uuid = kw.pop("uuid", None)
        body = kw.pop("body", None)
        data: dict[str, Any] = body.model_dump(exclude_unset=True) if body is not None else kw
        return await _submit(ctx, request, caller, message, data, path_uuid)

    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    endpoint.__name__ = message.__name__
    app.add_api_route(
        spec.path,
        endpoint,
        methods=[spec.method],
        status_code=202,
        summary=spec.summary,
        description=(message.__doc__ or "").strip(),
        tags=[spec.collection],
        operation_id=message.__name__,
        openapi_extra=SECURED,
        responses={
            200: {
                "description": "Done within `Prefer: wait=N`: the result.",
                "model": message.reply_type(),
            },
            202: {"description": "Accepted: poll the job at `Location`."},
            **JOB_ERRORS,  # answered at once, or by the job within `Prefer: wait=N`
        },
    )


#: what a create's ``resourceUuid`` may be: a UUID, hyphenated or not, in either case
_NEW_UUID = Field(
    default=None,
    pattern=UUID_PATTERN,
    description="The new resource's UUID (optional: the server picks one); one no other "
    "resource holds.",
)


def _body_model(message: type[ApiRequest[Any]], fields: dict[str, Any]) -> type[BaseModel]:
    extra = message.model_config.get("json_schema_extra")
    declared = {name: (_json_typed(f.annotation), f) for name, f in fields.items()}
    if message.api.claims_uuid:  # the schema says what the server checks
        declared["resourceUuid"] = (str | None, _NEW_UUID)
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"{message.__name__}Body",
        __config__=ConfigDict(extra="forbid", json_schema_extra=extra),
        __doc__=message.__doc__,
        **declared,
    )


def _not_a_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number, not a boolean")
    return value


_NUMBER = {t: Annotated[t, BeforeValidator(_not_a_bool)] for t in (int, float)}


def _json_typed(annotation: Any) -> Any:
    """A body field as strict as the JSON Schema the document gives for it: JSON has
    ``true``/``false`` and numbers, so a ``0`` for a boolean or a ``false`` for a number
    is a mistake to refuse, not a value to guess."""
    if annotation is bool:
        return StrictBool
    if annotation in _NUMBER:
        return _NUMBER[annotation]
    args = get_args(annotation)
    if get_origin(annotation) in (Union, UnionType) and len(args) == 2 and type(None) in args:
        inner = args[0] if args[1] is type(None) else args[1]
        if inner in _NUMBER:
            # around the whole optional: inside the union, the field's bounds (ge=1) would
            # reach the document as "ge" instead of "minimum", and a fuzzer sends 0
            return Annotated[annotation, BeforeValidator(_not_a_bool)]
        typed = _json_typed(inner)
        return annotation if typed is inner else typed | None
    return annotation


async def _submit(
    ctx: WriteContext,
    request: Request,
    caller: CallerContext,
    message: type[ApiRequest[Any]],
    data: dict[str, Any],
    path_uuid: str | None,
) -> Response:
    spec = message.api
    if spec.admin_only and not caller.isAdmin:
        raise ApiHttpError(
            403, error(ApiCodes.PERMISSION_DENIED, f"{message.__name__} is admin-only")
        )
    job_uuid = request.headers.get("x-job-uuid") or str(uuidlib.uuid4())
    if not _JOB_UUID.match(job_uuid):
        raise ApiHttpError(
            400,
            error(
                ApiCodes.INVALID_ARGUMENT,
                "X-Job-UUID: 8-64 letters, digits or '-'",
                field="X-Job-UUID",
            ),
        )
    digest = request_digest(message, caller, path_uuid, data)  # what was sent, as sent
    given = data.get("resourceUuid")
    if spec.claims_uuid and given is not None:
        given = data["resourceUuid"] = _canonical(given)
        await _refuse_held(ctx.db, given, spec.resource, caller, job_uuid)
    resource_uuid = path_uuid or given or str(uuidlib.uuid4())
    await ctx.auth.authorize(caller, message.type_name(), resource_uuid)
    webhook = request.headers.get("x-web-hook")
    if webhook is not None and not _WEBHOOK.match(webhook):
        raise ApiHttpError(
            400, error(ApiCodes.INVALID_ARGUMENT, "X-Web-Hook: an http(s) URL", field="X-Web-Hook")
        )
    try:
        msg = message.model_validate(
            {**data, "resourceUuid": resource_uuid, "caller": caller, "jobUuid": job_uuid}
        )
    except ValidationError as exc:
        raise validation_error(exc) from exc
    msg = await msg.prepare()
    request.state.resource_uuid = msg.resourceUuid  # for the audit log
    job: _Job
    job, fresh = await _create_job(ctx, msg, caller, job_uuid, webhook, digest)
    if (
        job.api != message.type_name()
        or job.account_uuid != caller.accountUuid
        or (job.request_digest is not None and job.request_digest != digest)
    ):
        raise ApiHttpError(
            409,
            error(
                ApiCodes.CONFLICT,
                "X-Job-UUID: already names another request",
                field="X-Job-UUID",
            ),
        )
    if fresh:
        try:
            await ctx.bus.send(msg)
        except Exception as exc:  # the job row stands: a node's sweeper publishes it again
            log.warning("api.publish_failed", job=job_uuid, error=f"{type(exc).__name__}: {exc}")
    wait = _prefer_wait(request.headers.get("prefer", ""))
    if wait > 0 and job.state not in (JobState.SUCCEEDED, JobState.FAILED):
        job = await _wait_job(ctx.db, job_uuid, wait) or job
    return _job_response(job, ctx.statuses)


def request_digest(
    message: type[ApiRequest[Any]],
    caller: CallerContext,
    path_uuid: str | None,
    data: dict[str, Any],
) -> str:
    """What a request asked, as a digest: the same request sent again has the same one.

    Taken from the body as sent (before the server picks a UUID or hashes a password, both
    of which differ on each try)."""
    what = [message.type_name(), caller.accountUuid, caller.userUuid, path_uuid, data]
    # the stdlib encoder: a body may hold integers past 64 bits (refused later, by the
    # handler), which orjson cannot encode and which must not make the digest a 500
    canonical = json.dumps(what, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _canonical(value: Any) -> str:
    try:
        return canonical_uuid(str(value))
    except PermanentError as exc:
        raise ApiHttpError(400, exc.error) from None


async def _refuse_held(
    db: Database, uuid: str, resource_type: str, caller: CallerContext, job_uuid: str
) -> None:
    """409 at once for a create naming a UUID something else holds (the node checks again
    in the create's transaction; this answers before a job exists or is audited)."""
    async with db.read_session() as s:
        held = await holder_of(s, uuid)
    if held is not None and not UuidClaim(
        uuid, resource_type, caller.accountUuid, job_uuid
    ).matches(held):
        raise ApiHttpError(409, uuid_taken(uuid).error)


async def _create_job(
    ctx: WriteContext,
    msg: ApiRequest[Any],
    caller: CallerContext,
    job_uuid: str,
    webhook: str | None,
    digest: str,
) -> tuple[_Job, bool]:
    now = utcnow()
    values: dict[str, Any] = {
        "uuid": job_uuid,
        "api": msg.type_name(),
        "resource_uuid": msg.resourceUuid,
        "partition": partition_of(msg.resourceUuid, ctx.partitions),
        "account_uuid": caller.accountUuid,
        "state": JobState.PENDING,
        "message": msg.model_dump_json(),
        "webhook": webhook,
        "request_digest": digest,
        "created_at": now,
        "updated_at": now,
        "expires_at": now + timedelta(seconds=ctx.job_retention),
    }
    if await ctx.jobs.insert(values):  # what was inserted, without reading it back
        return _NewJob(job_uuid, values["api"], caller.accountUuid, digest), True
    job = await _load_job(ctx.db, job_uuid)
    assert job is not None
    return job, False


class _Job(Protocol):
    """What answering for a job needs: a stored row, or one just inserted."""

    @property
    def uuid(self) -> str: ...
    @property
    def api(self) -> str: ...
    @property
    def account_uuid(self) -> str: ...
    @property
    def request_digest(self) -> str | None: ...
    @property
    def state(self) -> str: ...
    @property
    def result(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...


@dataclass(frozen=True)
class _NewJob:
    uuid: str
    api: str
    account_uuid: str
    request_digest: str | None
    state: str = JobState.PENDING
    result: str | None = None
    error: str | None = None


async def _load_job(db: Database, job_uuid: str) -> ApiJobRow | None:
    async with db.read_session() as s:
        return (await s.execute(select(ApiJobRow).where(ApiJobRow.uuid == job_uuid))).scalar()


async def _wait_job(db: Database, job_uuid: str, seconds: float) -> ApiJobRow | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    delay = 0.01
    while True:
        job = await _load_job(db, job_uuid)
        if job is None or job.state in (JobState.SUCCEEDED, JobState.FAILED):
            return job
        if loop.time() + delay > deadline:
            return job
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


def _prefer_wait(header: str) -> float:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "wait":
            try:
                return max(0.0, min(float(value), _MAX_WAIT))
            except ValueError:
                return 0.0
    return 0.0


def _job_response(job: _Job, statuses: Mapping[str, int]) -> Response:
    location = {"Location": f"/v1/api-jobs/{job.uuid}"}
    if job.state == JobState.SUCCEEDED:
        return Response(
            job.result or "{}", status_code=200, media_type="application/json", headers=location
        )
    if job.state == JobState.FAILED:
        err = ErrorCode.model_validate_json(job.error or "{}")
        shown = innermost_meaningful(err, statuses)
        return JSONResponse(
            {"error": shown.model_dump(mode="json")}, status_code=http_status(err, statuses)
        )
    return JSONResponse({"uuid": job.uuid, "state": job.state}, status_code=202, headers=location)
