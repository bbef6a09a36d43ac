"""``zcloud up``: the whole of zcloud in one process, for trying it out and for demos.

SQLite under ``./var``, the in-process bus, one management node, the API frontend and the
simulator agent — the same code above the transport and database interfaces as a cluster,
so nothing here is a special case of the services. Unless ``--empty``, the demo
environment (``mgmt/demo.py``) is made through the REST API before the banner.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from agent.sim.app import create_app as create_sim_app
from agent.sim.settings import SimSettings
from mgmt.app import admin_line, build_api, build_node, make_transport
from mgmt.core.bus.inproc import InprocBroker
from mgmt.core.logging import get_logger
from mgmt.demo import banner_lines, bootstrap, write_demo_image
from mgmt.frontend import FrontendContext, create_app
from mgmt.identity.sessions import end_session, local_admin_session
from mgmt.server import HttpServer, StopSignal, bind_port, start_db
from mgmt.settings import Settings

log = get_logger(__name__)


async def run_up(settings: Settings) -> None:
    if settings.amqp_url:
        log.warning("up.ignoring_amqp_url", reason="the all-in-one uses the in-process bus")
    settings = settings.model_copy(
        update={
            "amqp_url": None,
            "callback_base_url": f"http://{settings.api_host}:{settings.api_port}",
        }
    )
    stop = StopSignal(settings.shutdown_grace)
    # both ports first: a busy one fails the start before the database or the admin exist
    api_sock = bind_port(settings.api_host, settings.api_port, "API")
    sim_sock = bind_port(settings.api_host, settings.sim_port, "simulator")
    db = await start_db(settings, migrate=True)
    registry = CollectorRegistry()
    try:
        node = build_node(
            settings, db, make_transport(settings, InprocBroker(settings.max_attempts)), registry
        )
    except Exception:
        await db.close()
        raise
    await node.start()

    async def node_ready() -> bool:
        return not node.runtime.membership.fenced

    rest = build_api(settings, db, node.runtime.bus, registry, gconfig=node.gconfig)
    await rest.start()
    api = HttpServer(
        create_app(
            FrontendContext(
                db,
                node.runtime.bus,
                settings.node_id,
                registry,
                extra_ready=node_ready,
                api=rest.writes,
                reads=rest.reads,
                audit=rest.audit,
            )
        ),
        settings.api_host,
        settings.api_port,
        api_sock,
    )
    files_dir = settings.var_dir / "files"
    sim = HttpServer(
        create_sim_app(
            SimSettings(host=settings.api_host, port=settings.sim_port, files_dir=files_dir)
        ),
        settings.api_host,
        settings.sim_port,
        sim_sock,
    )
    await api.start()
    await sim.start()
    sim_url = f"http://{settings.api_host}:{settings.sim_port}"
    api_url = f"http://{settings.api_host}:{settings.api_port}"
    demo = ""
    if settings.demo:
        session = await local_admin_session(db)
        try:
            image = write_demo_image(files_dir)
            image_url = f"{sim_url}/sim/files/{image.name}"
            made = await bootstrap(api_url, session.token, settings.sim_hosts, image_url)
            demo = banner_lines(made)
        finally:
            await end_session(db, session.uuid)
    print(
        f"zcloud all-in-one is up\n"
        f"  API        {api_url}   (health: {api_url}/health, metrics: {api_url}/metrics)\n"
        f"  simulator  {sim_url}   (simulated hosts: {sim_url}/sim/hosts)\n"
        f"{demo}"
        f"  database   {settings.db_url}\n"
        f"  admin      {admin_line(node.admin)}\n"
        f"  log in     zcloud login --url {api_url} --account admin\n"
        f"Press Ctrl-C to stop.",
        flush=True,
    )
    shutdown = await stop.wait()
    log.info("up.stopping", grace=shutdown.grace)
    await shutdown.run("http", api.stop(), share=0.2)
    await shutdown.run("sim", sim.stop(), share=0.05)
    await rest.stop(shutdown)
    await node.stop(shutdown)
    await shutdown.run("db", db.close(), share=0.05)
    await shutdown.finish(share=0.05)
