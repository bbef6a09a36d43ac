"""``zcloud agent sim`` / ``python -m agent.sim``: serve the simulator."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from agent.sim.app import create_app
from agent.sim.settings import SimSettings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="zcloud agent sim", description="simulated hypervisor hosts")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 7070)")
    p.add_argument("--hosts", type=int, default=0, help="simulated hosts to create at start")
    args = p.parse_args(argv)
    overrides: dict[str, object] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    settings = SimSettings(**overrides)  # type: ignore[arg-type]
    app = create_app(settings, initial_hosts=args.hosts)
    asyncio.run(_serve(app, settings, args.hosts))
    return 0


async def _serve(app: object, settings: SimSettings, hosts: int) -> None:
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no event
        await asyncio.sleep(0.02)
    print(
        f"simulator listening on http://{settings.host}:{settings.port} with {hosts} hosts",
        flush=True,
    )
    await serving
