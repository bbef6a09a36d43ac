"""CreateVmInstance: the recipe, top to bottom.

``create-row`` (the kit's one create path: UUID claimed, image, offering and L3 networks
visible to the caller, quotas ``vm.totalNum``, ``vm.num``, ``vm.cpuNum``, ``vm.memorySize``
consumed; the row inserted already held by this run in Starting) → ``allocate-host`` (the allocator:
CPU and memory reserved; a designated zone, cluster or host honoured) → ``allocate-nics``
(IPAM per L3, static IPs honoured, MACs unique) → ``reserve-root-volume-capacity`` (the
image's size on the host's cluster's primary storage) → ``start-on-host`` (``StartVm``)
→ ``mark-running``. ``CreateStopped`` ends with ``mark-stopped`` instead of the start
(its host capacity given back, as for a stop); ``JustCreate`` is only ``create-row``
(state Created; the first start allocates the rest).

A failure at any step rolls every earlier one back: no VM row, no UUID claim, capacity,
IPs and quotas as before. A node killed mid-flow: the partition's next owner rolls the
run back (``Interrupt.ROLLBACK``) — or resumes it once ``mark-running`` is done — so the
VM ends Running or is gone, never left Starting.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.allocator import HostAllocator
from mgmt.core import quota
from mgmt.core.api import ApiCodes, caller_of, invalid_field, not_found
from mgmt.core.bus import Bus, HandlerContext
from mgmt.core.db import Database, utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.core.flow import FlowDef, Interrupt, Step
from mgmt.core.resource import ResourceTypes, ResourceUuidRow, forget
from mgmt.core.resource.handlers import ResourceHandlers
from mgmt.core.sharing import shared_with
from mgmt.core.states import finish
from mgmt.image import image_disk
from mgmt.vm.flows.steps import (
    AgentUrl,
    AllocateNics,
    AllocateVmHost,
    ReserveRootVolumeCapacity,
    StartOnHost,
    VmCtx,
    run_id,
)
from mgmt.vm.messages import CreateVmInstance
from mgmt.vm.models import VmInstanceRow, VmNicRow
from mgmt.vm.resources import VM_CPU, VM_MEMORY, VM_NUM, VM_TOTAL
from mgmt.vm.states import START, VM_STATES, VmState
from mgmt.volume import remove_root_volume

CREATE_VM = "CreateVmInstance"
Strategy = Literal["InstantStart", "CreateStopped", "JustCreate"]


class CreateVmRow(Step[VmCtx]):
    """The one create path with the row already held by this run (``begin`` by
    insertion: no moment exists where the VM is Starting and nothing owns it); a
    JustCreate VM is inserted Created and not held."""

    name = "create-row"

    def __init__(
        self,
        db: Database,
        bus: Bus,
        vms: ResourceHandlers[Any, Any],
        types: ResourceTypes,
        node: str,
        held: bool,
    ) -> None:
        self.db = db
        self.bus = bus
        self.vms = vms
        self.types = types
        self.node = node
        self.held = held

    async def run(self, ctx: VmCtx) -> Any:
        assert ctx.request is not None
        msg = CreateVmInstance.model_validate(ctx.request)
        caller = caller_of(msg)
        run = run_id()
        here = HandlerContext(
            self.bus, run, msg.resourceUuid, None, 1, self.bus.partition_of(run), self.node
        )
        now = await self.db.now()
        async with self.db.session() as s, s.begin():
            cpu, memory = await self._shape(s, msg)

            fresh: list[bool] = []

            async def check(s: AsyncSession) -> None:  # a new row only
                await self._check_refs(s, msg)
                fresh.append(True)

            state: dict[str, Any] = (
                {
                    "state": VmState.STARTING,
                    "op_holder": run,
                    "op_name": START,
                    "op_from": VmState.CREATED,
                    "op_since": now,
                }
                if self.held
                else {"state": VmState.CREATED}
            )
            row = await self.vms.create_row(
                s,
                msg,
                here,
                values={
                    "cpu_num": cpu,
                    "memory_size": memory,
                    "default_l3_network_uuid": msg.defaultL3NetworkUuid or msg.l3NetworkUuids[0],
                    "l3_network_uuids": json.dumps(list(msg.l3NetworkUuids)),
                    "static_ips": json.dumps(ctx.staticIps, sort_keys=True),
                    "placement": json.dumps(
                        {
                            "zoneUuid": ctx.wantZoneUuid,
                            "clusterUuid": ctx.wantClusterUuid,
                            "hostUuid": ctx.wantHostUuid,
                            "primaryStorageUuid": ctx.wantPrimaryStorageUuid,
                        }
                    ),
                    # designations are where to look, not where it is
                    "zone_uuid": None,
                    "cluster_uuid": None,
                    "host_uuid": None,
                    **state,
                },
                check=check,
            )
            if fresh:
                # after the kit's vm.totalNum: every transaction takes the quota rows in one
                # order (vm.totalNum, vm.num, vm.cpuNum, vm.memorySize), as the releases do
                await quota.consume(s, caller.accountUuid, VM_NUM, 1, is_admin=caller.isAdmin)
                await quota.consume(s, caller.accountUuid, VM_CPU, cpu, is_admin=caller.isAdmin)
                await quota.consume(
                    s, caller.accountUuid, VM_MEMORY, memory, is_admin=caller.isAdmin
                )
            ctx.cpuNum, ctx.memorySize = row.cpu_num, row.memory_size
        return {"jobUuid": msg.jobUuid}

    async def _shape(self, s: AsyncSession, msg: CreateVmInstance) -> tuple[int, int]:
        if msg.instanceOfferingUuid is None:
            if msg.cpuNum is None or msg.memorySize is None:
                raise invalid_field(
                    "instanceOfferingUuid", "give an offering, or cpuNum and memorySize"
                )
            return msg.cpuNum, msg.memorySize
        table = self.types.types["InstanceOffering"].table
        offering = await s.get(table, msg.instanceOfferingUuid)
        if offering is None:
            raise invalid_field(
                "instanceOfferingUuid", f"no instance offering {msg.instanceOfferingUuid}"
            )
        return int(offering.cpu_num), int(offering.memory_size)

    async def _usable(
        self, s: AsyncSession, msg: CreateVmInstance, type_name: str, uuid: str, field: str
    ) -> None:
        """A 400 naming ``field`` unless the caller may use resource ``uuid`` (its own,
        shared with it or public)."""
        caller = caller_of(msg)
        kind = self.types.types[type_name]
        found = await s.get(kind.table, uuid)
        if found is None or not (
            kind.may_act(caller, found) or await shared_with(s, uuid, caller.accountUuid)
        ):
            missing = not_found(type_name, uuid, field=field)
            raise PermanentError(error(ApiCodes.INVALID_ARGUMENT, missing.details, **missing.extra))

    async def _check_refs(self, s: AsyncSession, msg: CreateVmInstance) -> None:
        caller = caller_of(msg)
        if len(set(msg.l3NetworkUuids)) != len(msg.l3NetworkUuids):
            raise invalid_field("l3NetworkUuids", "an L3 network is named twice")
        if msg.defaultL3NetworkUuid and msg.defaultL3NetworkUuid not in msg.l3NetworkUuids:
            raise invalid_field("defaultL3NetworkUuid", "must be one of l3NetworkUuids")
        for l3 in msg.l3NetworkUuids:
            await self._usable(s, msg, "L3Network", l3, "l3NetworkUuids")
        if msg.hostUuid is not None and not caller.isAdmin:
            raise PermanentError(
                error(
                    ApiCodes.PERMISSION_DENIED,
                    "hostUuid: only an admin places a VM on a host",
                    field="hostUuid",
                )
            )
        ps = msg.primaryStorageUuidForRootVolume
        if ps is not None:
            await self._usable(s, msg, "PrimaryStorage", ps, "primaryStorageUuidForRootVolume")
        image = await image_disk(s, msg.imageUuid)
        if image is not None and image.status != "Ready":
            raise invalid_field("imageUuid", f"image {msg.imageUuid} is {image.status}, not Ready")

    async def rollback(self, ctx: VmCtx, result: Any) -> None:
        assert ctx.request is not None
        uuid, job = ctx.request["resourceUuid"], ctx.request["jobUuid"]
        async with self.db.session() as s, s.begin():
            claim = await s.get(ResourceUuidRow, uuid)
            if claim is None or claim.job_uuid != job:
                return  # never ours (a refused claim): touch nothing of the holder's
            row = await s.get(VmInstanceRow, uuid)
            if row is not None:
                owner = row.owner_account_uuid
                await quota.release(s, owner, VM_TOTAL.name, 1)
                await quota.release(s, owner, VM_NUM.name, 1)
                await quota.release(s, owner, VM_CPU.name, row.cpu_num)
                await quota.release(s, owner, VM_MEMORY.name, row.memory_size)
            await s.execute(delete(VmNicRow).where(VmNicRow.vm_instance_uuid == uuid))
            await remove_root_volume(s, uuid)
            await s.execute(delete(VmInstanceRow).where(VmInstanceRow.uuid == uuid))
            await forget(s, [uuid])


class MarkRunning(Step[VmCtx]):
    """The point of no return: the VM is Running and this run lets go of it."""

    name = "mark-running"
    no_rollback = True

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: VmCtx) -> Any:
        async with self.db.session() as s, s.begin():
            await finish(s, VM_STATES, ctx.vmUuid, run_id(), success=True)
        return None


class MarkStopped(Step[VmCtx]):
    """CreateStopped's end: the host's capacity goes back (as on a stop; the host stays
    its ``lastHostUuid``, where its root volume is) and the VM is Stopped, let go of."""

    name = "mark-stopped"
    no_rollback = True

    def __init__(self, allocator: HostAllocator, db: Database) -> None:
        self.allocator = allocator
        self.db = db

    async def run(self, ctx: VmCtx) -> Any:
        async with self.db.session() as s:
            row = await s.get(VmInstanceRow, ctx.vmUuid)
            rid = row.host_allocation if row is not None else None
        if rid:
            await self.allocator.release(rid)
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(VmInstanceRow)
                .where(VmInstanceRow.uuid == ctx.vmUuid, VmInstanceRow.op_holder == run_id())
                .values(
                    state=VmState.STOPPED,
                    op_holder=None,
                    op_name=None,
                    op_from=None,
                    op_since=None,
                    host_uuid=None,
                    host_allocation=None,
                    last_host_uuid=ctx.hostUuid,
                    updated_at=utcnow(),
                )
            )
        return None


def create_vm_flows(
    db: Database,
    bus: Bus,
    vms: ResourceHandlers[Any, Any],
    types: ResourceTypes,
    allocator: HostAllocator,
    agent_url: AgentUrl,
    agents: Any,
    node: str,
) -> dict[str, FlowDef[VmCtx]]:
    """The create flow of each strategy."""

    def row(held: bool) -> CreateVmRow:
        return CreateVmRow(db, bus, vms, types, node, held)

    def placed() -> list[Step[VmCtx]]:
        return [
            AllocateVmHost(allocator, db, agent_url),
            AllocateNics(db),
            ReserveRootVolumeCapacity(db),
        ]

    return {
        "InstantStart": FlowDef(
            CREATE_VM,
            VmCtx,
            [row(True), *placed(), StartOnHost(agents), MarkRunning(db)],
            on_interrupt=Interrupt.ROLLBACK,
        ),
        "CreateStopped": FlowDef(
            "CreateVmInstanceStopped",
            VmCtx,
            [row(True), *placed(), MarkStopped(allocator, db)],
            on_interrupt=Interrupt.ROLLBACK,
        ),
        "JustCreate": FlowDef(
            "CreateVmInstanceJustCreate", VmCtx, [row(False)], on_interrupt=Interrupt.ROLLBACK
        ),
    }
