"""MigrateVm, under the state machine (Migrating while it runs; Running after, on the
destination — or on its source when anything failed):

``allocate-destination`` (the allocator: a host other than the current one, of the VM's
hypervisor, on its L3 networks and reaching its root volume's primary storage — a root
volume on LocalStorage cannot move, a 409; the CPU and memory reserved there under
``<run>/allocate-destination``) → ``migrate-on-host`` (``MigrateVm`` to the source's
agent; undone by ``MigrateVm`` back from the destination — also when it timed out, since
the move may happen late: the engine undoes a timed-out agent step once the command has
ended on the agent) → ``switch-host`` (the point of
no return, one transaction: the row names the destination and its allocation, the
source becomes ``lastHostUuid`` and the source's reservations are released).

Capacity moves atomically: until ``switch-host`` commits, the source holds the VM and
the destination a reservation that the rollback gives back; after it, only the
destination holds it. A node killed mid-run: the partition's next owner resumes the run
(the agent step re-attaches to the task it sent, never sends it twice), so the VM ends
Running on one host with both hosts' counters exact.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from agent.protocol import MigrateVm
from mgmt.allocator import (
    AllocatedHost,
    AllocateHost,
    AllocationSpec,
    HostAllocator,
    allocation_reservations,
)
from mgmt.core.agenttasks import AgentCall, AgentStep
from mgmt.core.api import ApiCodes
from mgmt.core.counters import release
from mgmt.core.db import Database, utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.core.flow import NO_RETRY, FlowDef, Interrupt, Step
from mgmt.core.logging import get_logger
from mgmt.core.states import StatefulOperation
from mgmt.storage import root_volume_storages
from mgmt.vm.flows.steps import AgentUrl, VmCtx
from mgmt.vm.models import VmInstanceRow
from mgmt.vm.states import MIGRATE, VM_STATES

log = get_logger(__name__)

LOCAL = "LocalStorage"


class MigrateCtx(VmCtx):
    """A migrate's context: the source is ``hostUuid``/``agentUrl``, as in every VM flow."""

    rootPrimaryStorageUuid: str | None = None
    hypervisorType: str | None = None
    destHostUuid: str | None = None
    destClusterUuid: str | None = None
    destZoneUuid: str | None = None
    destAgentUrl: str = ""
    destAllocation: str | None = None


def _spec(ctx: MigrateCtx) -> AllocationSpec:
    return AllocationSpec(
        account_uuid=ctx.accountUuid,
        cpu_num=ctx.cpuNum,
        memory_size=ctx.memorySize,
        l3_network_uuids=tuple(ctx.l3NetworkUuids),
        hypervisor_type=ctx.hypervisorType,
        host_uuid=ctx.wantHostUuid,
        primary_storage_uuid=ctx.rootPrimaryStorageUuid,
        avoid_host_uuids=tuple(h for h in (ctx.hostUuid,) if h),
        instance_offering_uuid=ctx.instanceOfferingUuid,
    )


def _placed(ctx: MigrateCtx, host: AllocatedHost) -> None:
    ctx.destHostUuid, ctx.destClusterUuid = host.host_uuid, host.cluster_uuid
    ctx.destZoneUuid, ctx.destAllocation = host.zone_uuid, host.reservation_id


class AllocateDestination(AllocateHost[MigrateCtx]):
    """The allocator's step for the destination; a root volume on LocalStorage lives on
    the source host's disk, which no other host reaches: 409 before anything is taken."""

    def __init__(self, allocator: HostAllocator, db: Database, agent_url: AgentUrl) -> None:
        super().__init__(allocator, _spec, _placed, name="allocate-destination")
        self._db = db
        self._agent_url = agent_url

    async def run(self, ctx: MigrateCtx) -> Any:
        await self._check_storage(ctx)
        result = await super().run(ctx)  # a failure below: the engine releases it
        assert ctx.destHostUuid is not None
        async with self._db.session() as s:
            ctx.destAgentUrl, _ = await self._agent_url(s, ctx.destHostUuid)
        return result

    async def _check_storage(self, ctx: MigrateCtx) -> None:
        if not ctx.agentUrl:
            raise PermanentError(
                error(
                    ApiCodes.CONFLICT,
                    f"VM {ctx.vmUuid}'s host {ctx.hostUuid} is not Connected",
                    hostUuid=ctx.hostUuid,
                )
            )
        if not (ctx.rootPrimaryStorageUuid and ctx.clusterUuid and ctx.hostUuid):
            return
        async with self._db.session() as s:
            storages = await root_volume_storages(s, ctx.clusterUuid, ctx.hostUuid)
        kind = next((p.type for p in storages if p.uuid == ctx.rootPrimaryStorageUuid), None)
        if kind == LOCAL:
            raise PermanentError(
                error(
                    ApiCodes.CONFLICT,
                    f"VM {ctx.vmUuid}'s root volume is on LocalStorage "
                    f"{ctx.rootPrimaryStorageUuid} of host {ctx.hostUuid}: no other host "
                    "reaches it (a live migration needs shared primary storage)",
                    primaryStorageUuid=ctx.rootPrimaryStorageUuid,
                    hostUuid=ctx.hostUuid,
                )
            )


class MigrateOnHost(AgentStep[MigrateCtx]):
    """``MigrateVm`` on the source's agent; undone by ``MigrateVm`` from the destination
    back to the source (the agent's command is idempotent both ways, so undoing a move
    that never happened succeeds). Not retried: a failed move rolls the migrate back."""

    name = "migrate-on-host"
    retry = NO_RETRY

    def command(self, ctx: MigrateCtx) -> AgentCall:
        cmd = MigrateVm(
            vmUuid=ctx.vmUuid, destHostUuid=ctx.destHostUuid or "", destUrl=ctx.destAgentUrl
        )
        return AgentCall(ctx.agentUrl, cmd, ctx.hostUuid or "")

    def compensation(self, ctx: MigrateCtx, reply: dict[str, Any] | None) -> AgentCall | None:
        back = MigrateVm(vmUuid=ctx.vmUuid, destHostUuid=ctx.hostUuid or "", destUrl=ctx.agentUrl)
        return AgentCall(ctx.destAgentUrl, back, ctx.destHostUuid or "")


class SwitchHost(Step[MigrateCtx]):
    """The point of no return, one transaction: the VM is the destination's (its row and
    allocation), the source is its ``lastHostUuid`` and the source's CPU and memory go
    back. Idempotent: a re-run finds the row switched and releases nothing twice."""

    name = "switch-host"
    no_rollback = True

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: MigrateCtx) -> Any:
        async with self.db.session() as s, s.begin():
            row = await s.get(VmInstanceRow, ctx.vmUuid, with_for_update=True)
            if row is None or row.host_allocation == ctx.destAllocation:
                return {"switched": False}
            source = row.host_allocation
            for rid in allocation_reservations(source) if source else ():
                await release(s, rid)
            await s.execute(
                update(VmInstanceRow)
                .where(VmInstanceRow.uuid == ctx.vmUuid)
                .values(
                    host_uuid=ctx.destHostUuid,
                    cluster_uuid=ctx.destClusterUuid,
                    zone_uuid=ctx.destZoneUuid,
                    host_allocation=ctx.destAllocation,
                    last_host_uuid=ctx.hostUuid,
                    updated_at=utcnow(),
                )
            )
        return {"switched": True, "released": source}


def migrate_operation(
    db: Database, allocator: HostAllocator, agent_url: AgentUrl, agents: Any
) -> StatefulOperation[MigrateCtx]:
    flow = FlowDef(
        "MigrateVm",
        MigrateCtx,
        [AllocateDestination(allocator, db, agent_url), MigrateOnHost(agents), SwitchHost(db)],
        on_interrupt=Interrupt.RESUME,
    )
    return StatefulOperation(VM_STATES, MIGRATE, flow)
