"""The frontend's FastAPI application factory.

Serves ``/health`` (the process is up), ``/ready`` (database answers and the bus is
connected), ``/metrics`` (Prometheus), ``/docs`` (the API reference) and
``POST /v1/agent/callbacks`` (agent replies, handed to the resource's owner over the bus)
and ``POST /v1/agent/reports`` (agents' change reports, handed to the host's owner).
The process entry point owns the database and bus handles and passes them in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc

from agent.protocol import TASK_UUID_HEADER
from mgmt.core.agenttasks import receive_callback, receive_report
from mgmt.core.agenttasks.client import CALLBACK_PATH, REPORT_PATH
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.core.errors import Codes, TemporaryError, error, is_transient
from mgmt.core.logging import get_logger
from mgmt.frontend.audit import AuditMiddleware, AuditWriter
from mgmt.frontend.auth import declare_bearer_scheme, mount_sessions
from mgmt.frontend.docs import mount_docs
from mgmt.frontend.errors import install_error_handlers
from mgmt.frontend.openapi import document_errors
from mgmt.frontend.reads import ReadContext, mount_reads
from mgmt.frontend.rest import WriteContext, mount_writes
from mgmt.frontend.routing import PrefixRoute

log = get_logger(__name__)


async def _always_ready() -> bool:
    return True


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A bug, not the client's fault: say so as an ErrorCode, log it with the request. (An
    ``Exception`` handler runs outermost: uvicorn closes the connection after it.)"""
    log.exception("api.unexpected_error", path=request.url.path, method=request.method)
    body = {"error": {"code": "SYS.1000", "description": "Internal error", "details": ""}}
    return JSONResponse(body, status_code=500)


#: errors that may be the database or the network briefly gone; handled inside the app, so
#: the client keeps its connection
_MAYBE_TRANSIENT: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    TemporaryError,
    OSError,
)


async def _maybe_transient(request: Request, exc: Exception) -> Response:
    if not is_transient(exc):
        return await _unexpected(request, exc)
    log.warning("api.unavailable", path=request.url.path, error=f"{type(exc).__name__}")
    body = {"error": error(Codes.UNAVAILABLE, type(exc).__name__).model_dump(mode="json")}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})


class ReadyReply(BaseModel):
    ready: bool = Field(description="Every check passed.")
    checks: dict[str, bool] = Field(description="database, bus and node, each up or not.")


@dataclass
class FrontendContext:
    db: Database
    bus: Bus
    node_id: str
    registry: CollectorRegistry
    max_callback_bytes: int = 1 << 20
    #: extra readiness condition (the all-in-one adds "the management node is consuming")
    extra_ready: Callable[[], Awaitable[bool]] = field(default=_always_ready)
    #: the REST API (sessions, API writes and jobs); None serves only the runtime routes
    api: WriteContext | None = None
    reads: ReadContext | None = None
    #: where the audit log goes (the REST API is audited when set)
    audit: AuditWriter | None = None


def create_app(ctx: FrontendContext) -> FastAPI:
    app = FastAPI(
        title="zcloud",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        # no OpenTelemetry here (metrics are Prometheus): skip its per-request provider checks
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.router.route_class = PrefixRoute
    install_error_handlers(app)
    document_errors(app)
    mount_docs(app)
    if ctx.api is not None:
        for transient in _MAYBE_TRANSIENT:
            app.add_exception_handler(transient, _maybe_transient)
        app.add_exception_handler(Exception, _unexpected)
        declare_bearer_scheme(app)
        mount_sessions(app, ctx.api.auth)
        mount_writes(app, ctx.api)
    if ctx.reads is not None:
        mount_reads(app, ctx.reads)
    if ctx.audit is not None:
        app.add_middleware(AuditMiddleware, writer=ctx.audit)
    callbacks = Counter(
        "zcloud_agent_callbacks_total",
        "Agent callbacks received, by HTTP status answered",
        ["status"],
        registry=ctx.registry,
    )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "node": ctx.node_id}

    @app.get(
        "/ready",
        response_model=ReadyReply,
        responses={503: {"model": ReadyReply, "description": "Not ready: see `checks`."}},
    )
    async def ready() -> JSONResponse:
        checks = {
            "database": await ctx.db.ping(),
            "bus": ctx.bus.transport.connected,
            "node": await ctx.extra_ready(),
        }
        ok = all(checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={200: {"description": "Prometheus text exposition format."}},
    )
    async def metrics() -> Response:
        return Response(generate_latest(ctx.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(CALLBACK_PATH, include_in_schema=False)
    async def agent_callback(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared is not None and (
            not declared.isdigit() or int(declared) > ctx.max_callback_bytes
        ):
            callbacks.labels("413").inc()
            return JSONResponse({"error": {"code": "SYS.1004", "details": "body too large"}}, 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > ctx.max_callback_bytes:
                callbacks.labels("413").inc()
                return JSONResponse(
                    {"error": {"code": "SYS.1004", "details": "body too large"}}, 413
                )
        outcome = await receive_callback(
            ctx.db,
            ctx.bus,
            task_uuid=request.headers.get(TASK_UUID_HEADER),
            body=bytes(body),
            received_by=ctx.node_id,
        )
        callbacks.labels(str(outcome.status_code)).inc()
        if outcome.status_code >= 400:
            log.warning(
                "callback.rejected",
                status=outcome.status_code,
                task_uuid=request.headers.get(TASK_UUID_HEADER),
                details=outcome.body,
            )
        return JSONResponse(outcome.body, status_code=outcome.status_code)

    @app.post(REPORT_PATH, include_in_schema=False)
    async def agent_report(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > ctx.max_callback_bytes:
            return JSONResponse({"error": {"code": "SYS.1004", "details": "body too large"}}, 413)
        outcome = await receive_report(ctx.bus, body=body, received_by=ctx.node_id)
        if outcome.status_code >= 400:
            log.warning("report.rejected", status=outcome.status_code, details=outcome.body)
        return JSONResponse(outcome.body, status_code=outcome.status_code)

    return app
