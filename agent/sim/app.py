"""The simulator's HTTP application: protocol commands per host, admin and fault endpoints.

``/sim/hosts/{hostUuid}`` is a simulated host's agent base URL; protocol paths go under it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from agent.protocol import ALL_COMMANDS, TASK_UUID_HEADER, AgentCommand, AgentReply, ConnectHost
from agent.server import AgentEndpoint, CallbackSender, TaskRegistry
from agent.sim.commands import execute
from agent.sim.hosts import Fault, FaultAction, SimHost
from agent.sim.runs import RunCounts
from agent.sim.settings import SimSettings

BY_PATH: dict[str, type[AgentCommand]] = {c.path: c for c in ALL_COMMANDS}


class HostSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uuid: str | None = None
    cpuNum: int | None = Field(default=None, ge=1)
    memoryBytes: int | None = Field(default=None, ge=1)


class CreateHosts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hosts: list[HostSpec] = Field(default_factory=list, max_length=100_000)
    count: int = Field(default=0, ge=0, le=100_000)


def _not_found(what: str) -> JSONResponse:
    return JSONResponse({"error": {"details": f"{what} not found"}}, status_code=404)


def create_app(settings: SimSettings) -> FastAPI:
    hosts: dict[str, SimHost] = {}
    registry = CollectorRegistry()
    Gauge("zcloud_sim_hosts", "Simulated hosts", registry=registry).set_function(lambda: len(hosts))
    endpoint = AgentEndpoint(
        registry,
        callbacks=CallbackSender(settings.callback_retry_seconds),
        tasks=TaskRegistry(settings.task_retention, settings.task_ttl),
        max_body_bytes=settings.max_body_bytes,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await endpoint.close()

    app = FastAPI(title="zcloud simulator agent", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.hosts = hosts
    app.state.endpoint = endpoint
    runs = RunCounts(settings.task_retention)
    app.state.runs = runs

    #: faults armed for hosts not made yet (a test breaking the connect of a host it is about
    #: to add): a host made under that UUID starts with them
    armed: dict[str, list[Fault]] = {}

    def new_host(spec: HostSpec) -> SimHost:
        host = SimHost(
            spec.uuid or str(uuid.uuid4()),
            spec.cpuNum or settings.default_cpu,
            spec.memoryBytes or settings.default_memory,
        )
        host.faults.extend(armed.pop(host.uuid, []))
        hosts[host.uuid] = host
        return host

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {"status": "ok", "hosts": len(hosts)}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    _admin_routes(app, hosts, new_host, armed)

    @app.get("/sim/runs")
    async def run_counts(taskUuid: str | None = None) -> dict[str, object]:
        return runs.summary(task_uuid=taskUuid)

    @app.get("/sim/hosts/{host_uuid}/runs")
    async def host_run_counts(host_uuid: str, taskUuid: str | None = None) -> Response:
        if host_uuid not in hosts:
            return _not_found("host")
        return JSONResponse(runs.summary(task_uuid=taskUuid, host_uuid=host_uuid))

    @app.get("/sim/hosts/{host_uuid}/tasks/{task_uuid}")
    async def task_status(host_uuid: str, task_uuid: str) -> Response:
        host = hosts.get(host_uuid)
        if host is None:
            return _not_found("host")
        if host.crashed:
            return JSONResponse({"error": {"details": "host is down"}}, status_code=503)
        record = endpoint.tasks.get(task_uuid)
        if record is None:
            return _not_found("task")
        return JSONResponse(record.status().model_dump(mode="json"))

    @app.post("/sim/hosts/{host_uuid}/{path:path}")
    async def command(host_uuid: str, path: str, request: Request) -> Response:
        command_type = BY_PATH.get("/" + path)
        if command_type is None:
            return _not_found(f"command /{path}")
        name = command_type.command_name()
        host = hosts.get(host_uuid)
        if host is None:
            if command_type is not ConnectHost:
                return _not_found("host")
            host = new_host(HostSpec(uuid=host_uuid))
        if host.crashed:
            return JSONResponse({"error": {"details": "host is down"}}, status_code=503)
        fault = host.take_fault(name, command_type.path)
        if fault is not None and fault.action is FaultAction.CRASH:
            host.crash()
            return JSONResponse({"error": {"details": "host crashed"}}, status_code=503)
        if fault is not None and fault.action is FaultAction.SILENT:
            await asyncio.sleep(fault.seconds or 3600)  # the caller gives up first
            return Response(status_code=504)

        task_uuid = request.headers.get(TASK_UUID_HEADER)

        async def run(cmd: AgentCommand) -> tuple[AgentReply, int]:
            # the endpoint calls this once per new task: a repeat of a known UUID never does
            runs.ran(host.uuid, command_type.path, task_uuid)
            return await execute(host, cmd, fault)

        return await endpoint.handle(request, command_type, run)

    return app


def _admin_routes(
    app: FastAPI,
    hosts: dict[str, SimHost],
    new_host: Callable[[HostSpec], SimHost],
    armed: dict[str, list[Fault]],
) -> None:
    """Hosts and faults: what tests and operators drive the simulator with."""

    @app.post("/sim/hosts")
    async def create_hosts(body: CreateHosts) -> dict[str, object]:
        created = [new_host(spec) for spec in body.hosts]
        created += [new_host(HostSpec()) for _ in range(body.count)]
        return {"hosts": [h.summary() for h in created]}

    @app.get("/sim/hosts")
    async def list_hosts() -> dict[str, object]:
        return {"hosts": [h.summary() for h in hosts.values()], "total": len(hosts)}

    @app.get("/sim/hosts/{host_uuid}")
    async def get_host(host_uuid: str) -> Response:
        host = hosts.get(host_uuid)
        return JSONResponse(host.detail()) if host else _not_found("host")

    @app.delete("/sim/hosts/{host_uuid}")
    async def delete_host(host_uuid: str) -> Response:
        return Response(status_code=204) if hosts.pop(host_uuid, None) else _not_found("host")

    @app.post("/sim/hosts/{host_uuid}/faults")
    async def add_fault(host_uuid: str, fault: Fault) -> Response:
        host = hosts.get(host_uuid)
        if host is None:  # armed: the host this UUID names gets it when it is made
            armed.setdefault(host_uuid, []).append(fault)
            faults = [f.model_dump(mode="json") for f in armed[host_uuid]]
            return JSONResponse({"uuid": host_uuid, "armed": True, "faults": faults})
        host.faults.append(fault)
        return JSONResponse(host.detail())

    @app.delete("/sim/hosts/{host_uuid}/faults")
    async def clear_faults(host_uuid: str) -> Response:
        host = hosts.get(host_uuid)
        if host is None:
            return Response(status_code=204) if armed.pop(host_uuid, None) else _not_found("host")
        host.faults.clear()
        return Response(status_code=204)

    @app.post("/sim/faults")
    async def add_fault_everywhere(fault: Fault) -> dict[str, int]:
        for host in hosts.values():
            host.faults.append(fault.model_copy())
        return {"hosts": len(hosts)}

    @app.delete("/sim/faults")
    async def clear_faults_everywhere() -> Response:
        armed.clear()
        for host in hosts.values():
            host.faults.clear()
        return Response(status_code=204)

    @app.post("/sim/hosts/{host_uuid}/recover")
    async def recover(host_uuid: str) -> Response:
        host = hosts.get(host_uuid)
        if host is None:
            return _not_found("host")
        host.recover()
        return JSONResponse(host.detail())

    @app.post("/sim/crash")
    async def crash_process() -> None:
        os._exit(137)  # a process crash, on purpose: no clean-up, no flush
