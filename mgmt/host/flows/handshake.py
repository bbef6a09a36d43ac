"""The connect handshake's steps, shared by the add and reconnect flows.

In order: ``prepare-agent`` (the hypervisor backend makes its agent answer), ``connect``
(sync ``ConnectHost``: the agent learns its host UUID), ``collect-facts`` (async
``HostFacts``: CPUs, speed, memory, architecture, local storage), ``sync-vms`` (async
``GetVmStates``: the VMs the host runs) and ``define-capacity`` (the host row gets the
facts and the ``host.cpu`` / ``host.memory`` counters their totals). Every step may run
again after a take-over: the agent commands are ``AgentStep``s (task UUIDs derived from the
step: a resumed step re-attaches, never sends twice), the rest is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import update

from agent.protocol import ConnectHostReply, GetVmStates, HostFacts
from mgmt.core.agenttasks import AgentCall, AgentClient, AgentStep
from mgmt.core.bus import Bus
from mgmt.core.counters import define_counter, get_counter, set_total
from mgmt.core.db import Database, utcnow
from mgmt.core.errors import Codes, PermanentError, ZCloudError, error
from mgmt.core.flow import RetryPolicy, Step
from mgmt.host.backends import HostAccess, HostBackend
from mgmt.host.models import HostRow
from mgmt.host.reads import HostDisk, HostObserver, host_disks
from mgmt.host.resources import CPU, MEMORY

#: hypervisor type → its backend (the ``HOST_BACKENDS`` strategy)
Backends = Callable[[str], HostBackend]

#: a hung agent costs a timeout per attempt: two, so a transient failure still gets a retry
HANDSHAKE_RETRY = RetryPolicy(max_attempts=2, initial_delay=0.5)


class HostConnectCtx(BaseModel):
    hostUuid: str
    zoneUuid: str
    clusterUuid: str = ""
    hypervisorType: str
    managementIp: str
    username: str = "root"
    sshPort: int = 22
    cpuCapacity: int | None = None
    memoryCapacity: int | None = None
    #: add only: the AddHost message, for the step that makes the row
    request: dict[str, Any] | None = None
    agentVersion: str = ""
    cpuNum: int = 0
    cpuSpeedMhz: int = 0
    memoryBytes: int = 0
    architecture: str = ""
    localStorageBytes: int = 0
    vmCount: int = 0
    #: what ``sync-vms`` read: VM uuid → power state (for the connect extensions)
    vmStates: dict[str, str] = Field(default_factory=dict)

    def access(self) -> HostAccess:
        return HostAccess(
            hostUuid=self.hostUuid,
            managementIp=self.managementIp,
            hypervisorType=self.hypervisorType,
            username=self.username,
            sshPort=self.sshPort,
            cpuCapacity=self.cpuCapacity,
            memoryCapacity=self.memoryCapacity,
        )


class PrepareAgent(Step[HostConnectCtx]):
    name = "prepare-agent"
    retry = HANDSHAKE_RETRY

    def __init__(self, backends: Backends) -> None:
        self.backends = backends

    async def run(self, ctx: HostConnectCtx) -> Any:
        await self.backends(ctx.hypervisorType).prepare(ctx.access())
        return None


class Connect(Step[HostConnectCtx]):
    """Sync ``ConnectHost`` (cheap, idempotent: the agent learns its UUID again)."""

    name = "connect"
    retry = HANDSHAKE_RETRY

    def __init__(
        self, backends: Backends, agents: AgentClient, *, node_id: str, timeout: float
    ) -> None:
        self.backends = backends
        self.agents = agents
        self.node_id = node_id
        self.timeout = timeout

    async def run(self, ctx: HostConnectCtx) -> Any:
        backend = self.backends(ctx.hypervisorType)
        access = ctx.access()
        command = backend.connect_command(access, self.node_id)
        if not command.reportUrl:  # where the agent reports changes on its own
            command = command.model_copy(update={"reportUrl": self.agents.report_url})
        try:
            reply = await self.agents.call_sync(
                backend.agent_url(access), command, ConnectHostReply, timeout=self.timeout
            )
        except ZCloudError as exc:
            raise PermanentError(
                error(Codes.AGENT_ERROR, f"ConnectHost on host {ctx.hostUuid} failed").caused(
                    exc.error
                )
            ) from exc
        if not reply.success:
            raise PermanentError(
                error(
                    Codes.AGENT_ERROR,
                    f"ConnectHost on host {ctx.hostUuid} failed: {reply.error}",
                    hostUuid=ctx.hostUuid,
                    agentErrorCode=reply.errorCode,
                )
            )
        ctx.agentVersion = reply.agentVersion
        return {"agentVersion": reply.agentVersion}


class _HostCommand(AgentStep[HostConnectCtx]):
    retry = HANDSHAKE_RETRY

    def __init__(self, agents: AgentClient, backends: Backends) -> None:
        super().__init__(agents)
        self.backends = backends

    def url(self, ctx: HostConnectCtx) -> str:
        return self.backends(ctx.hypervisorType).agent_url(ctx.access())


class CollectFacts(_HostCommand):
    name = "collect-facts"

    def command(self, ctx: HostConnectCtx) -> AgentCall:
        return AgentCall(self.url(ctx), HostFacts(hostUuid=ctx.hostUuid), ctx.hostUuid)

    def merge(self, ctx: HostConnectCtx, reply: dict[str, Any]) -> None:
        ctx.cpuNum = int(reply.get("cpuNum", 0))
        ctx.cpuSpeedMhz = int(reply.get("cpuSpeedMhz", 0))
        ctx.memoryBytes = int(reply.get("memoryBytes", 0))
        ctx.architecture = str(reply.get("architecture", ""))
        ctx.localStorageBytes = sum(int(d.get("totalBytes", 0)) for d in reply["localStorage"])


class SyncVms(_HostCommand):
    """The VMs the host runs (an empty list asks for all). The handshake records how
    many; the states stay on the context, where the VM service's connect step reconciles
    them with the database."""

    name = "sync-vms"

    def command(self, ctx: HostConnectCtx) -> AgentCall:
        return AgentCall(self.url(ctx), GetVmStates(vmUuids=[]), ctx.hostUuid)

    def merge(self, ctx: HostConnectCtx, reply: dict[str, Any]) -> None:
        states = reply.get("states") or {}
        ctx.vmCount = len(states)
        ctx.vmStates = {str(k): str(v) for k, v in states.items()}


class DefineCapacity(Step[HostConnectCtx]):
    """The facts on the row and the capacity counters, in one transaction: defined on the
    first connect, resized on a reconnect (what VMs reserved stays reserved)."""

    name = "define-capacity"

    def __init__(self, db: Database, bus: Bus, observers: Sequence[HostObserver] = ()) -> None:
        self.db = db
        self.bus = bus
        self.observers = observers

    async def run(self, ctx: HostConnectCtx) -> Any:
        if ctx.cpuNum < 1 or ctx.memoryBytes < 1:
            raise PermanentError(
                error(
                    Codes.AGENT_ERROR,
                    f"host {ctx.hostUuid}: the agent reported {ctx.cpuNum} CPUs and "
                    f"{ctx.memoryBytes} bytes of memory",
                )
            )
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(HostRow)
                .where(HostRow.uuid == ctx.hostUuid)
                .values(
                    cpu_num=ctx.cpuNum,
                    cpu_speed_mhz=ctx.cpuSpeedMhz,
                    architecture=ctx.architecture,
                    total_cpu_capacity=ctx.cpuNum,
                    total_memory_capacity=ctx.memoryBytes,
                    local_storage_bytes=ctx.localStorageBytes,
                    vm_count=ctx.vmCount,
                    updated_at=utcnow(),
                )
            )
            for name, total in ((CPU, ctx.cpuNum), (MEMORY, ctx.memoryBytes)):
                if await get_counter(s, ctx.hostUuid, name) is None:
                    partition = self.bus.partition_of(ctx.hostUuid)
                    await define_counter(
                        s, ctx.hostUuid, name, total, partition=partition, owner_type="Host"
                    )
                else:
                    await set_total(s, ctx.hostUuid, name, total)
            if self.observers:
                host: HostDisk = (await host_disks(s, [ctx.hostUuid]))[ctx.hostUuid]
                for observer in self.observers:
                    await observer.host_connected(s, host)
        return {"cpu": ctx.cpuNum, "memory": ctx.memoryBytes}


def handshake_steps(
    db: Database,
    bus: Bus,
    agents: AgentClient,
    backends: Backends,
    *,
    node_id: str,
    timeout: float,
    observers: Sequence[HostObserver] = (),
    extra: Sequence[Step[HostConnectCtx]] = (),
) -> list[Step[HostConnectCtx]]:
    return [
        PrepareAgent(backends),
        Connect(backends, agents, node_id=node_id, timeout=timeout),
        CollectFacts(agents, backends),
        SyncVms(agents, backends),
        DefineCapacity(db, bus, observers),
        *extra,
    ]
