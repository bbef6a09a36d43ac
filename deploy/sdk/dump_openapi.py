"""Write zcloud's OpenAPI document without starting a server.

Builds the API frontend's FastAPI application the way ``zcloud api`` and ``zcloud up`` do
(``mgmt.app.build_api`` + ``mgmt.frontend.create_app``) over an in-memory SQLite database
and an in-process bus, neither of which is ever started or connected, and prints
``app.openapi()``. The Java SDK (``deploy/sdk/build-java.sh``) is generated from it.

    .venv/bin/python deploy/sdk/dump_openapi.py [-o build/openapi.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from mgmt.app import build_api, make_transport
from mgmt.core.bus import Bus
from mgmt.core.bus.inproc import InprocBroker
from mgmt.core.db import Database
from mgmt.core.metrics import BusMetrics
from mgmt.frontend import FrontendContext, create_app
from mgmt.settings import Settings

NODE_ID = "openapi-dump"


def build_openapi() -> dict[str, Any]:
    """The OpenAPI document of the full REST API, as a served frontend would answer it."""
    settings = Settings(db_url="sqlite+aiosqlite:///:memory:", amqp_url=None, node_id=NODE_ID)
    registry = CollectorRegistry()
    bus = Bus(
        make_transport(settings, InprocBroker(settings.max_attempts)),
        node_id=NODE_ID,
        partitions=settings.partitions,
        metrics=BusMetrics(registry),
    )
    db = Database(settings.db_url)  # the engine connects lazily: this opens nothing
    try:
        api = build_api(settings, db, bus, registry)
        app = create_app(
            FrontendContext(
                db, bus, NODE_ID, registry, api=api.writes, reads=api.reads, audit=api.audit
            )
        )
        return app.openapi()
    finally:
        asyncio.run(db.close())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    text = json.dumps(build_openapi(), indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
