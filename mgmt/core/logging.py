"""Structured logs (structlog over stdlib logging).

Every line carries the node id; the bus binds ``message_id``, ``message_type`` and
``resource_uuid`` in context variables while a handler runs, so handler logs carry them too.
"""

from __future__ import annotations

import logging
import sys

import structlog

get_logger = structlog.stdlib.get_logger
bind = structlog.contextvars.bind_contextvars
bound = structlog.contextvars.bound_contextvars


def configure(level: str = "INFO", json: bool = True, node_id: str = "") -> None:
    """Configure logging for the process (called once by the entry point)."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    if node_id:
        shared.insert(0, _add_node(node_id))
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processor=renderer)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries chat at INFO about every connection; keep their warnings only.
    for noisy in ("aio_pika", "aiormq", "uvicorn.access", "httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _add_node(node_id: str) -> structlog.types.Processor:
    def add(_: object, __: str, event: structlog.types.EventDict) -> structlog.types.EventDict:
        event.setdefault("node", node_id)
        return event

    return add
