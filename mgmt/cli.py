"""The ``zcloud`` command: ``up``, ``mgmt``, ``api``, ``agent sim``, ``bench``, ``db upgrade``.

Builds the one ``Settings`` object from the environment (``ZCLOUD_*``) and the flags, sets
up logging, and hands over to the process entry point.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import Any

from mgmt.core.logging import configure
from mgmt.settings import Settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="zcloud",
        description="zcloud IaaS cloud manager",
        epilog="API commands: zcloud login --url URL --account NAME; zcloud apis; "
        "zcloud <ApiName> key=value ... (see docs/cli.md)",
    )
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="all-in-one: SQLite, in-process bus, simulated hosts")
    up.add_argument("--port", type=int, help="API port (default 8080)")
    up.add_argument("--sim-port", type=int, help="simulator agent port (default 7070)")
    up.add_argument("--sim-hosts", type=int, help="hosts of the demo environment (default 4)")
    up.add_argument(
        "--empty", action="store_true", help="no demo environment (zone, hosts, networks …)"
    )

    sub.add_parser("mgmt", help="a management node (needs ZCLOUD_DB_URL, ZCLOUD_AMQP_URL)")
    api = sub.add_parser("api", help="an API frontend")
    api.add_argument("--port", type=int)

    agent = sub.add_parser("agent", help="run an agent")
    agent.add_argument("kind", choices=["sim"])
    agent.add_argument("args", nargs=argparse.REMAINDER, help="options of the agent")

    bench = sub.add_parser("bench", help="benchmarks (last line: one JSON object)")
    bench.add_argument("name", choices=["bus", "failover", "flow", "api", "infra", "vm"])
    bench.add_argument("args", nargs=argparse.REMAINDER)

    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])

    admin = sub.add_parser(
        "admin",
        help="the admin account, directly in the database (ZCLOUD_DB_URL; no API, no login)",
    )
    admin_sub = admin.add_subparsers(dest="action", required=True)
    reset = admin_sub.add_parser(
        "reset-password",
        help="set a new admin password and end the admin's sessions",
        description="Sets the password of the 'admin' account in the database the settings "
        "name (ZCLOUD_DB_URL, default ./var/zcloud.db). The password comes from --password, "
        "--prompt or ZCLOUD_ADMIN_PASSWORD; else a new one is generated and printed.",
    )
    how = reset.add_mutually_exclusive_group()
    how.add_argument("--password", help="the new password (it shows in ps; prefer --prompt)")
    how.add_argument("--prompt", action="store_true", help="ask for the new password")
    return p


#: the process and operator commands; anything else is a client command (``zcloud login``,
#: ``zcloud CreateZone name=z1``, ``zcloud QueryZone state=Enabled`` …)
_COMMANDS = frozenset({"up", "mgmt", "api", "agent", "bench", "db", "admin", "-h", "--help"})


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run a server process on uvloop (faster I/O; uvicorn[standard] brings it), else on
    the standard event loop."""
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] not in _COMMANDS:
        from mgmt.client.cli import main as client_main  # noqa: PLC0415 - the API client

        return client_main(argv)
    args = _parser().parse_args(argv)
    if args.command == "agent":
        from agent.sim.main import main as sim_main  # noqa: PLC0415 - the agent is its own program

        return sim_main(args.args)
    if args.command == "bench":
        from mgmt.bench import run_bench  # noqa: PLC0415 - benchmarks load only when asked for

        return run_bench(args.name, args.args)

    overrides: dict[str, Any] = {}
    if getattr(args, "port", None) is not None:
        overrides["api_port"] = args.port
    if getattr(args, "sim_port", None) is not None:
        overrides["sim_port"] = args.sim_port
    if getattr(args, "sim_hosts", None) is not None:
        overrides["sim_hosts"] = args.sim_hosts
    if getattr(args, "empty", False):
        overrides["demo"] = False
    if args.command in ("up", "admin") and "ZCLOUD_LOG_JSON" not in os.environ:
        overrides["log_json"] = False  # a person is watching this terminal
    if args.command == "admin" and "ZCLOUD_LOG_LEVEL" not in os.environ:
        overrides["log_level"] = "WARNING"  # the command's own line says what it did
    settings = Settings(**overrides)
    configure(settings.log_level, settings.log_json, settings.node_id)

    if args.command == "db":
        from mgmt.server import start_db  # noqa: PLC0415

        async def _upgrade() -> None:
            db = await start_db(settings, migrate=True)
            await db.close()

        asyncio.run(_upgrade())
        print(f"database at head: {settings.db_url.split('@')[-1]}")
        return 0
    if args.command == "admin":
        from mgmt.admincli import reset_password  # noqa: PLC0415

        return reset_password(settings, args.password, prompt=args.prompt)
    from mgmt.core.plugins import PluginError  # noqa: PLC0415
    from mgmt.server import StartupError  # noqa: PLC0415

    try:
        if args.command == "mgmt":
            from mgmt.server import run_mgmt  # noqa: PLC0415

            _run(run_mgmt(settings))
        elif args.command == "api":
            from mgmt.server import run_api  # noqa: PLC0415

            _run(run_api(settings))
        elif args.command == "up":
            from mgmt.allinone import run_up  # noqa: PLC0415

            _run(run_up(settings))
    except (PluginError, StartupError) as exc:
        print(f"zcloud {args.command}: start-up failed: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
