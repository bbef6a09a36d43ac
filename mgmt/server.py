"""Process entry points: ``zcloud mgmt`` and ``zcloud api`` (the all-in-one is ``allinone``).

Each builds its parts from the one ``Settings`` object, upgrades the schema where it owns it,
serves HTTP with uvicorn, and shuts down in order on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from mgmt.app import ManagementNode, admin_line, build_api, build_node, make_transport
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.core.db.migrate import upgrade
from mgmt.core.logging import get_logger
from mgmt.core.metrics import BusMetrics
from mgmt.frontend import FrontendContext, create_app
from mgmt.http_protocol import HttpProtocol
from mgmt.settings import Settings

log = get_logger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process handles signals once, here."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class StartupError(Exception):
    """The process cannot start, for a reason the operator can fix (a port in use). The
    entry point prints it as one line and exits non-zero, without a traceback."""


def bind_port(host: str, port: int, what: str) -> socket.socket:
    """A listening socket on ``host:port``, taken before anything else starts: a port in
    use then fails the start before any state (the admin account, a lease) is created."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            message = f"{what} port {host}:{port} is in use (another zcloud running?)"
        else:
            message = f"cannot listen on {host}:{port} for the {what}: {exc.strerror or exc}"
        raise StartupError(message) from exc
    return sock


class HttpServer:
    """One uvicorn server. Given ``sock`` (from ``bind_port``) it serves on that socket,
    else it binds ``host:port`` itself when started."""

    def __init__(
        self, app: FastAPI, host: str, port: int, sock: socket.socket | None = None
    ) -> None:
        self._sock = sock
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            http=HttpProtocol,  # httptools, keeping the body of an h2c upgrade offer
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sockets = [self._sock] if self._sock is not None else None
        self._task = asyncio.create_task(self._server.serve(sockets), name="http")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the bind error
                raise RuntimeError("HTTP server stopped during start-up")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


def stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def node_health_app(node: ManagementNode) -> FastAPI:
    """The management node's own small HTTP surface (no API, no callbacks)."""
    app = FastAPI(title="zcloud management node", docs_url=None, redoc_url=None)

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {
            "status": "ok",
            "node": node.settings.node_id,
            "partitions": len(node.runtime.owned),
        }

    @app.get("/ready")
    async def ready() -> JSONResponse:
        ok = not node.runtime.membership.fenced and node.runtime.bus.transport.connected
        body = {
            "ready": ok,
            "partitions": sorted(node.runtime.owned),
            "members": sorted(node.runtime.membership.members),
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(node.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def start_db(settings: Settings, *, migrate: bool) -> Database:
    db = Database(settings.db_url, pool_size=settings.db_pool_size)
    if migrate:
        # A database that is still starting is the normal case in a fresh deployment.
        for attempt in range(60):
            try:
                await upgrade(db)
                break
            except OSError as exc:
                log.warning("db.not_ready", error=str(exc), attempt=attempt)
                await asyncio.sleep(1.0)
        else:
            await upgrade(db)
    return db


async def run_mgmt(settings: Settings) -> None:
    stop = stop_event()
    sock = bind_port(settings.mgmt_host, settings.mgmt_port, "health")
    db = await start_db(settings, migrate=True)
    try:
        node = build_node(settings, db, make_transport(settings))
    except Exception:
        await db.close()
        raise
    await node.start()
    http = HttpServer(node_health_app(node), settings.mgmt_host, settings.mgmt_port, sock)
    await http.start()
    log.info("mgmt.started", port=settings.mgmt_port, partitions=settings.partitions)
    if node.admin is not None and node.admin.password:  # the one node that created it
        print(f"zcloud: {admin_line(node.admin)}", flush=True)
    await stop.wait()
    log.info("mgmt.stopping")
    await http.stop()
    try:
        # a clean stop hands partitions over at once; never let it hang the exit
        async with asyncio.timeout(settings.drain_timeout + 15):
            await node.stop()
    except TimeoutError:
        log.error("mgmt.stop_timed_out")
    await db.close()
    log.info("mgmt.stopped")


async def run_api(settings: Settings) -> None:
    stop = stop_event()
    sock = bind_port(settings.api_host, settings.api_port, "API")
    # a frontend may start first on a fresh database; upgrading is serialised and idempotent
    db = await start_db(settings, migrate=True)
    registry = CollectorRegistry()
    bus = Bus(
        make_transport(settings),
        node_id=f"api-{settings.node_id}",
        partitions=settings.partitions,
        metrics=BusMetrics(registry),
        default_timeout=settings.default_timeout,
        max_message_bytes=settings.max_message_bytes,
    )
    await bus.start()
    api = build_api(settings, db, bus, registry)
    await api.start()
    app = create_app(
        FrontendContext(
            db,
            bus,
            f"api-{settings.node_id}",
            registry,
            max_callback_bytes=settings.max_message_bytes,
            api=api.writes,
            reads=api.reads,
            audit=api.audit,
        )
    )
    http = HttpServer(app, settings.api_host, settings.api_port, sock)
    await http.start()
    log.info("api.started", port=settings.api_port)
    await stop.wait()
    await http.stop()
    await api.stop()
    await bus.close()
    await db.close()
