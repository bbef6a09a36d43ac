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
from mgmt.core.errors import is_transient
from mgmt.core.logging import get_logger
from mgmt.core.metrics import BusMetrics
from mgmt.core.shutdown import Shutdown
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
        self,
        app: FastAPI,
        host: str,
        port: int,
        sock: socket.socket | None = None,
        *,
        drain_seconds: float = 5.0,
        keep_alive: int = 5,
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
            # requests still running then (a long `Prefer: wait`) are cancelled by uvicorn
            timeout_graceful_shutdown=max(1, int(drain_seconds)),
            timeout_keep_alive=keep_alive,  # s an idle keep-alive connection is kept
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
        """Stop accepting, finish the requests in flight (up to ``drain_seconds``)."""
        self._server.should_exit = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


class StopSignal:
    """SIGTERM/SIGINT: the first starts the grace period (``Shutdown``, its watchdog armed
    at once, so even a stop that starts late or hangs ends in time); a second ends the
    process at once."""

    def __init__(self, grace: float) -> None:
        self._grace = grace
        self.requested = asyncio.Event()
        self.shutdown: Shutdown | None = None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig.name)

    def _on_signal(self, name: str) -> None:
        if self.shutdown is not None:
            self.shutdown.force(f"second {name}")
            return
        self.shutdown = Shutdown(self._grace)
        self.shutdown.arm()
        log.info("shutdown.requested", signal=name, grace=self._grace)
        self.requested.set()

    async def wait(self) -> Shutdown:
        await self.requested.wait()
        assert self.shutdown is not None
        return self.shutdown


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
        # A database that is still starting is the normal case in a fresh deployment, and
        # one out of connections for a moment (SQLSTATE 53300) a normal one under load.
        for attempt in range(60):
            try:
                await upgrade(db)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("db.not_ready", error=str(exc), attempt=attempt)
                await asyncio.sleep(1.0)
        else:
            await upgrade(db)
    return db


#: Shares of the grace period of the stages ``run_mgmt``/``run_api`` run themselves; the
#: node's and the frontend's own stages are in ``ManagementNode.stop``/``ApiFrontend.stop``.
_HTTP_SHARE = 0.05
_FRONTEND_HTTP_SHARE = 0.5
_DB_SHARE = 0.03


async def run_mgmt(settings: Settings) -> None:
    stop = StopSignal(settings.shutdown_grace)
    sock = bind_port(settings.mgmt_host, settings.mgmt_port, "health")
    db = await start_db(settings, migrate=True)
    try:
        node = build_node(settings, db, make_transport(settings))
    except Exception:
        await db.close()
        raise
    await node.start()
    http = HttpServer(
        node_health_app(node),
        settings.mgmt_host,
        settings.mgmt_port,
        sock,
        drain_seconds=settings.shutdown_grace * _HTTP_SHARE,
    )
    await http.start()
    log.info("mgmt.started", port=settings.mgmt_port, partitions=settings.partitions)
    if node.admin is not None and node.admin.password:  # the one node that created it
        print(f"zcloud: {admin_line(node.admin)}", flush=True)
    shutdown = await stop.wait()
    log.info("mgmt.stopping", grace=shutdown.grace)
    await shutdown.run("http", http.stop(), share=_HTTP_SHARE)
    await node.stop(shutdown)
    await shutdown.run("db", db.close(), share=_DB_SHARE)
    await shutdown.finish(share=_DB_SHARE)
    log.info("mgmt.stopped", overran=shutdown.overran, left=round(shutdown.remaining(), 3))
    shutdown.exit()


async def run_api(settings: Settings) -> None:
    stop = StopSignal(settings.shutdown_grace)
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
    # most of a frontend's grace goes to the requests in flight: each commits its job row
    # and publishes its message before it answers, so a finished request lost nothing
    http = HttpServer(
        app,
        settings.api_host,
        settings.api_port,
        sock,
        drain_seconds=settings.shutdown_grace * _FRONTEND_HTTP_SHARE * 0.8,
    )
    await http.start()
    log.info("api.started", port=settings.api_port)
    shutdown = await stop.wait()
    log.info("api.stopping", grace=shutdown.grace)
    await shutdown.run("http", http.stop(), share=_FRONTEND_HTTP_SHARE)
    await api.stop(shutdown)
    await shutdown.run("bus", bus.close(), share=0.05)
    await shutdown.run("db", db.close(), share=_DB_SHARE)
    await shutdown.finish(share=_DB_SHARE)
    log.info("api.stopped", overran=shutdown.overran, left=round(shutdown.remaining(), 3))
    shutdown.exit()
