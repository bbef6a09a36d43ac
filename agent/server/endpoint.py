"""From an HTTP request to a command run exactly once and a reply delivered."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.protocol import (
    CALLBACK_URL_HEADER,
    RESOURCE_UUID_HEADER,
    TASK_STATE_HEADER,
    TASK_UUID_HEADER,
    AgentCommand,
    AgentReply,
    TaskState,
)
from agent.server.callbacks import CallbackSender
from agent.server.tasks import TaskRecord, TaskRegistry

log = structlog.stdlib.get_logger(__name__)

#: Runs one command; returns its reply and how many times to POST the callback (1; a
#: simulator fault may drop it, 0, or repeat it, 2). A bool still works: True is 1.
CommandRunner = Callable[[AgentCommand], Awaitable[tuple[AgentReply, int]]]


def _error(status: int, field: str, details: str) -> JSONResponse:
    return JSONResponse({"error": {"field": field, "details": details}}, status_code=status)


class AgentEndpoint:
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        callbacks: CallbackSender,
        tasks: TaskRegistry,
        max_body_bytes: int = 1 << 20,
    ) -> None:
        self.tasks = tasks
        self._callbacks = callbacks
        self._max_body = max_body_bytes
        self._running: set[asyncio.Task[None]] = set()
        self._received = Counter(
            "zcloud_agent_commands_total", "Commands received", ["command"], registry=registry
        )
        self._failed = Counter(
            "zcloud_agent_commands_failed_total",
            "Commands that failed",
            ["command"],
            registry=registry,
        )
        self._latency = Histogram(
            "zcloud_agent_command_seconds", "Command run time", ["command"], registry=registry
        )

    async def read_body(self, request: Request) -> bytes | Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._max_body):
            return _error(413, "body", f"larger than {self._max_body} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self._max_body:
                return _error(413, "body", f"larger than {self._max_body} bytes")
        return bytes(body)

    async def handle(
        self, request: Request, command_type: type[AgentCommand], run: CommandRunner
    ) -> Response:
        """Validate and run (sync: 200 with the reply; async: 202, reply to the callback)."""
        name = command_type.command_name()
        self._received.labels(name).inc()
        task_uuid = request.headers.get(TASK_UUID_HEADER)
        callback = request.headers.get(CALLBACK_URL_HEADER)
        if command_type.is_async:
            if not task_uuid:
                return _error(400, TASK_UUID_HEADER, "header is required")
            try:
                task_uuid = str(uuid.UUID(task_uuid))
            except ValueError:
                return _error(400, TASK_UUID_HEADER, "not a UUID")
            if not callback or not callback.startswith(("http://", "https://")):
                return _error(400, CALLBACK_URL_HEADER, "header with an http(s) URL is required")
            known = self.tasks.get(task_uuid)
            if known is not None:
                return self._repeat(known)
        body = await self.read_body(request)
        if isinstance(body, Response):
            return body
        try:
            command = command_type.model_validate_json(body or b"{}")
        except ValidationError as exc:
            fields = [".".join(map(str, e["loc"])) or "body" for e in exc.errors()]
            return _error(400, ",".join(fields), "invalid command body")
        if not command_type.is_async:
            reply, _ = await self._run(name, command, run)
            return JSONResponse(reply.model_dump(mode="json"))
        assert task_uuid is not None and callback is not None
        if self.tasks.get(task_uuid) is not None:  # a twin arrived while we read the body
            return self._repeat(self.tasks.get(task_uuid))  # type: ignore[arg-type]
        record = TaskRecord(task_uuid, name, callback, request.headers.get(RESOURCE_UUID_HEADER))
        self.tasks.add(record)
        task = asyncio.create_task(self._background(record, command, run), name=f"task-{task_uuid}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return Response(status_code=202, headers={TASK_STATE_HEADER: TaskState.RUNNING})

    def _repeat(self, record: TaskRecord) -> Response:
        if record.state is TaskState.DONE and record.reply is not None:
            self._spawn_callback(record)  # the first callback may have been lost
        return Response(status_code=202, headers={TASK_STATE_HEADER: record.state})

    async def _run(
        self, name: str, command: AgentCommand, run: CommandRunner
    ) -> tuple[AgentReply, int]:
        started = time.perf_counter()
        try:
            reply, deliver = await run(command)
        except Exception as exc:
            log.exception("agent.command_failed", command=name)
            reply = type(command).reply_type(success=False, error=f"{type(exc).__name__}: {exc}")
            deliver = 1
        self._latency.labels(name).observe(time.perf_counter() - started)
        if not reply.success:
            self._failed.labels(name).inc()
        return reply, deliver

    async def _background(
        self, record: TaskRecord, command: AgentCommand, run: CommandRunner
    ) -> None:
        with structlog.contextvars.bound_contextvars(
            task_uuid=record.task_uuid, command=record.command
        ):
            reply, deliver = await self._run(record.command, command, run)
            self.tasks.finish(record, json.loads(reply.model_dump_json()))
            if not deliver:
                log.info("agent.callback_dropped")
            for _ in range(int(deliver)):  # twice only when a simulator fault says so
                await self._deliver(record)

    def _spawn_callback(self, record: TaskRecord) -> None:
        task = asyncio.create_task(self._deliver(record), name=f"callback-{record.task_uuid}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _deliver(self, record: TaskRecord) -> None:
        assert record.reply is not None
        await self._callbacks.send(
            record.callback_url, record.task_uuid, record.reply, record.resource_uuid
        )

    async def close(self) -> None:
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        await self._callbacks.close()
