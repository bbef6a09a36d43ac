"""The simulator's HTTP application: protocol commands per host and per backup storage,
admin and fault endpoints.

``/sim/hosts/{hostUuid}`` is a simulated host's agent base URL; protocol paths go under it
(primary storage mounts too: a host mounts them). ``/sim/backup-storage/{uuid}`` is a
simulated ImageStore's, made on its first ``ConnectBackupStorage``, with the same faults
(``/sim/backup-storage/{uuid}/faults``), run counts and task reads as a host.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from agent.protocol import (
    ALL_COMMANDS,
    TASK_UUID_HEADER,
    AgentCommand,
    AgentReply,
    ConnectBackupStorage,
    ConnectHost,
    DeleteImageBits,
    DownloadImage,
    DownloadProgress,
    MigrateVm,
    MigrateVmReply,
    MountPrimaryStorage,
    UnmountPrimaryStorage,
    VmPowerState,
    VmStateChangedReport,
)
from agent.server import AgentEndpoint, CallbackSender, TaskRegistry
from agent.sim import storage
from agent.sim.commands import Override, execute
from agent.sim.hosts import Fault, FaultAction, SimHost
from agent.sim.runs import KeyedLocks, RunCounts
from agent.sim.settings import SimSettings

BACKUP_STORAGE_COMMANDS: frozenset[type[AgentCommand]] = frozenset(
    {ConnectBackupStorage, DownloadImage, DownloadProgress, DeleteImageBits}
)
BY_PATH: dict[str, type[AgentCommand]] = {
    c.path: c for c in ALL_COMMANDS if c not in BACKUP_STORAGE_COMMANDS
}
BS_BY_PATH: dict[str, type[AgentCommand]] = {c.path: c for c in BACKUP_STORAGE_COMMANDS}


class HostSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uuid: str | None = None
    cpuNum: int | None = Field(default=None, ge=1)
    memoryBytes: int | None = Field(default=None, ge=1)


class CreateHosts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hosts: list[HostSpec] = Field(default_factory=list, max_length=100_000)
    count: int = Field(default=0, ge=0, le=100_000)


def sim_bytes(name: str, size: int) -> bytes:
    """``size`` bytes that depend only on ``name`` (what ``/sim/files/{name}`` serves)."""
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def _not_found(what: str) -> JSONResponse:
    return JSONResponse({"error": {"details": f"{what} not found"}}, status_code=404)


def create_app(settings: SimSettings, initial_hosts: int = 0) -> FastAPI:
    """The simulator app; ``initial_hosts`` hosts exist before it serves its first request."""
    hosts: dict[str, SimHost] = {}
    registry = CollectorRegistry()
    Gauge("zcloud_sim_hosts", "Simulated hosts", registry=registry).set_function(lambda: len(hosts))
    endpoint = AgentEndpoint(
        registry,
        callbacks=(callbacks := CallbackSender(settings.callback_retry_seconds)),
        tasks=TaskRegistry(settings.task_retention, settings.task_ttl),
        max_body_bytes=settings.max_body_bytes,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await endpoint.close()
        await app.state.fetcher.aclose()

    app = FastAPI(title="zcloud simulator agent", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.hosts = hosts
    app.state.endpoint = endpoint
    runs = app.state.runs = RunCounts(settings.task_retention)
    #: one command per VM at a time, as a real agent serialises a domain's operations: a
    #: rollback's command (a migration back, a destroy) waits for a delayed one to end
    vm_locks = KeyedLocks()

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

    _admin_routes(app, hosts, new_host, armed, initial_hosts, callbacks)

    @app.get("/sim/runs")
    async def run_counts(taskUuid: str | None = None) -> dict[str, object]:
        return runs.summary(task_uuid=taskUuid)

    @app.get("/sim/hosts/{host_uuid}/runs")
    async def host_run_counts(host_uuid: str, taskUuid: str | None = None) -> Response:
        if host_uuid not in hosts:
            return _not_found("host")
        return JSONResponse(runs.summary(task_uuid=taskUuid, host_uuid=host_uuid))

    async def serve(
        node: SimHost | None,
        command_type: type[AgentCommand],
        request: Request,
        override: Callable[[AgentCommand], Override | None],
    ) -> Response:
        assert node is not None
        if node.crashed:
            return JSONResponse({"error": {"details": "host is down"}}, status_code=503)
        fault = node.take_fault(command_type.command_name(), command_type.path)
        if fault is not None and fault.action is FaultAction.CRASH:
            node.crash()
            return JSONResponse({"error": {"details": "host crashed"}}, status_code=503)
        if fault is not None and fault.action is FaultAction.SILENT:
            await asyncio.sleep(fault.seconds or 3600)  # the caller gives up first
            return Response(status_code=504)

        task_uuid = request.headers.get(TASK_UUID_HEADER)

        async def run(cmd: AgentCommand) -> tuple[AgentReply, int]:
            # the endpoint calls this once per new task: a repeat of a known UUID never does
            runs.ran(node.uuid, command_type.path, task_uuid)
            return await _execute_in_turn(vm_locks, node, cmd, fault, override(cmd))

        return await endpoint.handle(request, command_type, run)

    def task_status(node: SimHost | None, task_uuid: str) -> Response:
        if node is None:
            return _not_found("host")
        if node.crashed:
            return JSONResponse({"error": {"details": "host is down"}}, status_code=503)
        record = endpoint.tasks.get(task_uuid)
        if record is None:
            return _not_found("task")
        return JSONResponse(record.status().model_dump(mode="json"))

    @app.get("/sim/hosts/{host_uuid}/tasks/{task_uuid}")
    async def host_task(host_uuid: str, task_uuid: str) -> Response:
        return task_status(hosts.get(host_uuid), task_uuid)

    @app.post("/sim/hosts/{host_uuid}/{path:path}")
    async def command(host_uuid: str, path: str, request: Request) -> Response:
        command_type = BY_PATH.get("/" + path)
        if command_type is None:
            return _not_found(f"command /{path}")
        host = hosts.get(host_uuid)
        if host is None:
            if command_type is not ConnectHost:
                return _not_found("host")
            host = new_host(HostSpec(uuid=host_uuid))
        return await serve(host, command_type, request, _host_override(host, settings, hosts))

    _backup_storage_routes(app, settings, serve, task_status, runs)

    return app


async def _execute_in_turn(
    locks: KeyedLocks,
    node: SimHost,
    cmd: AgentCommand,
    fault: Fault | None,
    override: Override | None,
) -> tuple[AgentReply, int]:
    """A command about a VM waits for the VM's command before it (a hung one excepted:
    it never runs, so it holds nothing)."""
    vm = getattr(cmd, "vmUuid", "")
    if not vm or (fault is not None and fault.action is FaultAction.HANG):
        return await execute(node, cmd, fault, override)
    async with locks.hold(vm):
        return await execute(node, cmd, fault, override)


def _admin_routes(
    app: FastAPI,
    hosts: dict[str, SimHost],
    new_host: Callable[[HostSpec], SimHost],
    armed: dict[str, list[Fault]],
    initial_hosts: int,
    callbacks: CallbackSender,
) -> None:
    """Hosts, faults and VM changes: what tests and operators drive the simulator with;
    the ``initial_hosts`` are made here, before the app serves anything."""
    _vm_change_routes(app, hosts, callbacks)
    for _ in range(initial_hosts):
        new_host(HostSpec())

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
        host.clear_faults()
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
            host.clear_faults()
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


class VmChange(BaseModel):
    """What ``POST /sim/hosts/{h}/vms/{vm}/state`` makes happen on the host's own."""

    model_config = ConfigDict(extra="forbid")
    state: Literal["Running", "Paused", "Stopped", "Gone"]
    cpuNum: int = Field(default=1, ge=1, description="A VM that appears: its vCPUs.")
    memoryBytes: int = Field(default=1 << 30, ge=1, description="A VM that appears: memory.")
    report: bool = Field(default=True, description="POST a change report to management.")


def _vm_change_routes(app: FastAPI, hosts: dict[str, SimHost], callbacks: CallbackSender) -> None:
    """A VM stops, crashes, pauses or appears on its own, as a guest would; the host
    reports it to the ``reportUrl`` it was connected with (in the background: the change
    stands whether or not management hears of it)."""
    sending: set[asyncio.Task[bool]] = set()

    @app.post("/sim/hosts/{host_uuid}/vms/{vm_uuid}/state")
    async def change_vm(host_uuid: str, vm_uuid: str, change: VmChange) -> Response:
        host = hosts.get(host_uuid)
        if host is None:
            return _not_found("host")
        host.set_vm_state(vm_uuid, change.state, change.cpuNum, change.memoryBytes)
        vm = host.vms.get(vm_uuid)
        power = vm.state if vm is not None else VmPowerState.UNKNOWN
        reported = bool(change.report and host.report_url)
        if reported:
            body = VmStateChangedReport(hostUuid=host_uuid, vmUuid=vm_uuid, powerState=power)
            task = asyncio.create_task(callbacks.report(host.report_url, body.model_dump()))
            sending.add(task)
            task.add_done_callback(sending.discard)
        return JSONResponse({**host.detail(), "reported": reported})


def _host_override(
    host: SimHost, settings: SimSettings, hosts: dict[str, SimHost]
) -> Callable[[AgentCommand], Override | None]:
    def pick(cmd: AgentCommand) -> Override | None:
        if isinstance(cmd, MigrateVm):

            async def do_migrate() -> AgentReply:
                dest = hosts.get(cmd.destHostUuid)
                if dest is None:
                    return MigrateVmReply(
                        success=False,
                        error=f"no destination host {cmd.destHostUuid}",
                        errorCode="NOT_FOUND",
                    )
                vm = host.migrate_vm(cmd.vmUuid, dest)  # VmError: a failed reply
                return MigrateVmReply(vmUuid=vm.uuid, powerState=vm.state, hostUuid=dest.uuid)

            return do_migrate
        if isinstance(cmd, MountPrimaryStorage):
            size = settings.storage_bytes

            async def do_mount() -> AgentReply:
                return storage.mount(host, cmd, size)

            return do_mount
        if isinstance(cmd, UnmountPrimaryStorage):

            async def do_unmount() -> AgentReply:
                return storage.unmount(host, cmd)

            return do_unmount
        return None

    return pick


Serve = Callable[
    [SimHost | None, type[AgentCommand], Request, Callable[[AgentCommand], Override | None]],
    Awaitable[Response],
]


def _backup_storage_routes(
    app: FastAPI,
    settings: SimSettings,
    serve: Serve,
    task_status: Callable[[SimHost | None, str], Response],
    runs: RunCounts,
) -> None:
    """Simulated ImageStore backup storages, and the test images they download."""
    stores: dict[str, storage.SimBackupStorage] = {}
    app.state.backup_storages = stores
    armed_stores: dict[str, list[Fault]] = {}
    fetcher = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))
    app.state.fetcher = fetcher

    def new_store(uuid_: str) -> storage.SimBackupStorage:
        store = storage.SimBackupStorage(uuid_, 0, 0, total_bytes=settings.backup_storage_bytes)
        store.faults.extend(armed_stores.pop(uuid_, []))
        stores[uuid_] = store
        return store

    def store_override(store: storage.SimBackupStorage) -> Callable[[AgentCommand], Override]:
        def pick(cmd: AgentCommand) -> Override:
            async def run() -> AgentReply:
                if isinstance(cmd, DownloadImage):
                    return await storage.download(store, cmd, fetcher)
                if isinstance(cmd, ConnectBackupStorage):
                    return storage.connect(store, cmd)
                if isinstance(cmd, DownloadProgress):
                    return storage.progress(store, cmd)
                assert isinstance(cmd, DeleteImageBits)
                return storage.delete_image(store, cmd)

            return run

        return pick

    @app.post("/sim/backup-storage/{bs_uuid}/faults")
    async def add_store_fault(bs_uuid: str, fault: Fault) -> Response:
        store = stores.get(bs_uuid)
        if store is None:
            armed_stores.setdefault(bs_uuid, []).append(fault)
            return JSONResponse({"uuid": bs_uuid, "armed": True})
        store.faults.append(fault)
        return JSONResponse(store.detail())

    @app.delete("/sim/backup-storage/{bs_uuid}/faults")
    async def clear_store_faults(bs_uuid: str) -> Response:
        armed_stores.pop(bs_uuid, None)
        store = stores.get(bs_uuid)
        if store is not None:
            store.clear_faults()
        return Response(status_code=204)

    @app.get("/sim/backup-storage/{bs_uuid}")
    async def get_store(bs_uuid: str) -> Response:
        store = stores.get(bs_uuid)
        if store is None:
            return _not_found("backup storage")
        images = [
            {"uuid": i.uuid, "installPath": i.install_path, "size": i.size, "md5Sum": i.md5}
            for i in store.images.values()
        ]
        return JSONResponse({**store.detail(), "images": images, "totalBytes": store.total_bytes})

    @app.get("/sim/backup-storage/{bs_uuid}/runs")
    async def store_runs(bs_uuid: str, taskUuid: str | None = None) -> Response:
        return JSONResponse(runs.summary(task_uuid=taskUuid, host_uuid=bs_uuid))

    @app.get("/sim/backup-storage/{bs_uuid}/tasks/{task_uuid}")
    async def store_task(bs_uuid: str, task_uuid: str) -> Response:
        return task_status(stores.get(bs_uuid), task_uuid)

    @app.post("/sim/backup-storage/{bs_uuid}/{path:path}")
    async def store_command(bs_uuid: str, path: str, request: Request) -> Response:
        command_type = BS_BY_PATH.get("/" + path)
        if command_type is None:
            return _not_found(f"command /{path}")
        store = stores.get(bs_uuid)
        if store is None:
            if command_type is not ConnectBackupStorage:
                return _not_found("backup storage")
            store = new_store(bs_uuid)
        return await serve(store, command_type, request, store_override(store))

    @app.get("/sim/files/{name}")
    async def file(name: str, size: int = 1 << 20, status: int = 200) -> Response:
        """A file of ``files_dir`` (the all-in-one's demo image), else a test image:
        ``size`` deterministic bytes (``status`` >= 400: that error)."""
        if status >= 400:
            return JSONResponse({"error": {"details": f"{name}: {status}"}}, status_code=status)
        if settings.files_dir is not None and "/" not in name and not name.startswith("."):
            path = settings.files_dir / name
            if path.is_file():
                return FileResponse(path)
        return Response(content=sim_bytes(name, min(size, 1 << 30)))
