"""VM service: thin handlers — validate, load, run the operation's flow, reply.

Creates run the strategy's create flow (``flows/create.py``); every other operation runs
under the VM state machine (``StatefulRunner``: 409 naming the state and the operations
allowed now when it may not begin). The VM state sync (``sync.py``) runs per host owner.
Messages about one VM are routed by its UUID, so its
operations queue in order on its partition's owner; different VMs run in parallel.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.allocator import HostAllocator
from mgmt.core.agenttasks import AgentReported
from mgmt.core.api import ApiCodes, caller_of, invalid_field
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.errors import PermanentError, error
from mgmt.core.flow import FlowDef
from mgmt.core.messages import Message
from mgmt.core.module import NodeParts
from mgmt.core.node import PartitionListener
from mgmt.core.states import StateCodes, StatefulOperation, illegal
from mgmt.host import (
    HOST_BACKENDS,
    EvacuateHost,
    EvacuateHostReply,
    HostAtRunTime,
    connected_hosts,
    host_disks,
)
from mgmt.network import IP_ALLOCATE_STRATEGY, STATIC_IP
from mgmt.vm.config import DELETION_POLICY, DIRECT, HOSTNAME, STOP_GRACE, hostname_of
from mgmt.vm.evacuate import evacuate
from mgmt.vm.expunge import VmExpungeTracker
from mgmt.vm.flows.change_offering import (
    ChangeOfferingCtx,
    change_offering_operation,
    offering_shape,
)
from mgmt.vm.flows.create import create_vm_flows
from mgmt.vm.flows.destroy import destroy_delayed_operation, destroy_operation
from mgmt.vm.flows.expunge import expunge_operation
from mgmt.vm.flows.migrate import MigrateCtx, migrate_operation
from mgmt.vm.flows.pause import pause_operation
from mgmt.vm.flows.reboot import reboot_operation
from mgmt.vm.flows.recover import RecoverCtx, recover_operation
from mgmt.vm.flows.resume import resume_operation
from mgmt.vm.flows.start import start_operations
from mgmt.vm.flows.steps import VmCtx
from mgmt.vm.flows.stop import stop_operation
from mgmt.vm.flows.sync import sync_host_flow
from mgmt.vm.messages import (
    ChangeInstanceOffering,
    CreateVmInstance,
    DestroyVmInstance,
    ExpungeVmInstance,
    MigrateVm,
    PauseVmInstance,
    RebootVmInstance,
    RecoverVmInstance,
    ResumeVmInstance,
    StartVmInstance,
    StopVmInstance,
    VmInstanceDeleted,
    VmInstanceReply,
)
from mgmt.vm.models import VmInstanceRow
from mgmt.vm.reconcile import VmReconciler
from mgmt.vm.resources import inventory, nics_of
from mgmt.vm.states import CHANGE_OFFERING, NO_HOT_PLUG, START, VM_STATES, VmState
from mgmt.vm.sync import VmSyncer


def static_ips(tags: Sequence[str], l3s: Sequence[str]) -> dict[str, str]:
    """l3 → the IP its ``staticIp::{l3Uuid}::{ip}`` tag asks for (400 for an L3 the VM
    has no NIC on, or two IPs for one L3)."""
    wanted = {u.replace("-", "").lower(): u for u in l3s}
    out: dict[str, str] = {}
    for text in tags:
        if not STATIC_IP.matches(text):
            continue
        tokens = STATIC_IP.parse(text)
        l3 = wanted.get(tokens["l3Uuid"].replace("-", "").lower())
        if l3 is None:
            raise PermanentError(
                error(
                    ApiCodes.INVALID_ARGUMENT,
                    f"systemTags: {text} names an L3 network not in l3NetworkUuids",
                    field="systemTags",
                )
            )
        if out.get(l3, tokens["ip"]) != tokens["ip"]:
            raise PermanentError(
                error(
                    ApiCodes.INVALID_ARGUMENT,
                    f"systemTags: two static IPs for L3 network {l3}",
                    field="systemTags",
                )
            )
        out[l3] = tokens["ip"]
    return out


class VmService:
    def __init__(self, parts: NodeParts) -> None:
        self._db = parts.db
        self._engine = parts.engine
        self._states = parts.states
        self._gconfig = parts.gconfig
        self._deleter = parts.deleter
        self._vms = parts.resource("VmInstance")
        self._types = parts.types
        self._tags = parts.tags
        self._bus = parts.bus
        plugins = parts.plugins
        allocator = HostAllocator.of(parts.db, parts.types, parts.gconfig, parts.plugins)

        async def agent_url(s: AsyncSession, host_uuid: str) -> tuple[str, str]:
            disk = (await host_disks(s, [host_uuid])).get(host_uuid)
            access = next(
                (
                    h
                    for h in (await connected_hosts(s, disk.cluster_uuid) if disk else [])
                    if h.hostUuid == host_uuid
                ),
                None,
            )
            if access is None:
                raise PermanentError(
                    error(
                        ApiCodes.CONFLICT, f"host {host_uuid} is not Connected", hostUuid=host_uuid
                    )
                )
            backend = plugins.strategy(HOST_BACKENDS, access.hypervisorType)
            return backend.agent_url(access), access.hypervisorType

        self._agent_url = agent_url
        agents = parts.agents
        self._creates = create_vm_flows(
            parts.db,
            parts.bus,
            self._vms,
            parts.types,
            allocator,
            agent_url,
            agents,
            parts.settings.node_id,
        )
        self._start_again, self._start_first = start_operations(
            parts.db, allocator, agent_url, agents
        )
        self._stop = stop_operation(parts.db, allocator, agents)
        self._reboot = reboot_operation(agents)
        self._pause = pause_operation(agents)
        self._resume = resume_operation(agents)
        self._destroy = destroy_operation(parts.db, allocator, agents)
        self._migrate = migrate_operation(parts.db, allocator, agent_url, agents)
        self._change_offering = change_offering_operation(parts.db)
        self._destroy_delayed = destroy_delayed_operation(parts.db, allocator, agents)
        self._recover = recover_operation(parts.db)
        self._expunge = expunge_operation(parts.db)
        self._tracker = VmExpungeTracker(parts.db, parts.bus, parts.gconfig, self.expunge_vm)
        reconciler = VmReconciler(parts.db, parts.bus)
        self._sync = sync_host_flow(reconciler, agents)

        def host_agent_url(host: HostAtRunTime) -> str:
            backend = plugins.strategy(HOST_BACKENDS, host.access.hypervisorType)
            return backend.agent_url(host.access)

        self._syncer = VmSyncer(
            parts.db, parts.bus, parts.gconfig, parts.engine, self._sync, reconciler, host_agent_url
        )

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            CreateVmInstance: self.create,
            StartVmInstance: self.start,
            StopVmInstance: self.stop,
            RebootVmInstance: self.reboot,
            PauseVmInstance: self.pause,
            ResumeVmInstance: self.resume,
            DestroyVmInstance: self.destroy,
            MigrateVm: self.migrate,
            ChangeInstanceOffering: self.change_offering,
            RecoverVmInstance: self.recover,
            ExpungeVmInstance: self.expunge,
            AgentReported: self._syncer.on_report,
            EvacuateHost: self.evacuate_host,
        }

    def partition_listeners(self) -> Sequence[PartitionListener]:
        return (self._tracker, self._syncer)

    def stateful_operations(self) -> Sequence[StatefulOperation[Any]]:
        # the create flows hold the VM they insert (start by insertion): registering them
        # lets the releaser and the sweeper end that hold however the run ends
        creates = [StatefulOperation(VM_STATES, START, f) for f in self._creates.values()]
        return (
            *creates,
            self._start_again,
            self._start_first,
            self._stop,
            self._reboot,
            self._pause,
            self._resume,
            self._destroy,
            self._migrate,
            self._change_offering,
            self._destroy_delayed,
            self._recover,
            self._expunge,
        )

    def flows(self) -> Sequence[FlowDef[Any]]:
        return [*(op.flow for op in self.stateful_operations()), self._sync]

    async def create(self, msg: CreateVmInstance, ctx: HandlerContext) -> VmInstanceReply:
        request = msg if msg.jobUuid else msg.model_copy(update={"jobUuid": ctx.message_id})
        caller = caller_of(msg)
        start = VmCtx(
            vmUuid=msg.resourceUuid,
            accountUuid=caller.accountUuid,
            request=request.model_dump(mode="json"),
            name=msg.name,
            imageUuid=msg.imageUuid,
            instanceOfferingUuid=msg.instanceOfferingUuid,
            l3NetworkUuids=list(msg.l3NetworkUuids),
            staticIps=static_ips(msg.systemTags, msg.l3NetworkUuids),
            hostname=hostname_of(msg.systemTags),
            ipStrategy=str(self._gconfig.value(IP_ALLOCATE_STRATEGY)),
            wantZoneUuid=msg.zoneUuid,
            wantClusterUuid=msg.clusterUuid,
            wantHostUuid=msg.hostUuid,
            wantPrimaryStorageUuid=msg.primaryStorageUuidForRootVolume,
        )
        await self._engine.run(
            self._creates[msg.strategy],
            start,
            resource_uuid=msg.resourceUuid,
            flow_uuid=ctx.message_id,  # a redelivered message joins this run
            deadline=ctx.deadline,
        )
        return await self._reply(msg.resourceUuid)

    async def _ctx(self, row: VmInstanceRow, *, host: str | None) -> VmCtx:
        url = ""
        async with self._db.session() as s:
            nics = [n.l3_network_uuid for n in await nics_of(s, row.uuid)]
            named = await self._tags.system_tag_value(s, row.uuid, HOSTNAME)
            if host is not None:
                try:
                    url, _ = await self._agent_url(s, host)
                except PermanentError:
                    url = ""
        return VmCtx(
            vmUuid=row.uuid,
            accountUuid=row.owner_account_uuid,
            name=row.name,
            cpuNum=row.cpu_num,
            memorySize=row.memory_size,
            instanceOfferingUuid=row.instance_offering_uuid,
            l3NetworkUuids=nics,
            hostUuid=host,
            clusterUuid=row.cluster_uuid,
            zoneUuid=row.zone_uuid,
            agentUrl=url,
            hostname=named["hostname"] if named else "",
        )

    async def _load(self, msg: Any) -> VmInstanceRow:
        async with self._db.session() as s:
            row: VmInstanceRow = await self._vms.visible(s, msg.resourceUuid, caller_of(msg))
            return row

    async def _run(self, op: StatefulOperation[VmCtx], start: VmCtx, ctx: HandlerContext) -> None:
        await self._states.run(
            op, start, resource_uuid=start.vmUuid, run_id=ctx.message_id, deadline=ctx.deadline
        )

    async def start(self, msg: StartVmInstance, ctx: HandlerContext) -> VmInstanceReply:
        row = await self._load(msg)
        start = await self._ctx(row, host=None)
        first = row.state == VmState.CREATED or (
            row.op_holder == ctx.message_id and row.op_from == VmState.CREATED  # redelivered
        )
        if first:  # a JustCreate VM: everything a create would have allocated
            start.imageUuid = row.image_uuid
            start.l3NetworkUuids = list(json.loads(row.l3_network_uuids))
            start.staticIps = dict(json.loads(row.static_ips))
            start.ipStrategy = str(self._gconfig.value(IP_ALLOCATE_STRATEGY))
            placement = json.loads(row.placement)
            start.wantZoneUuid = placement.get("zoneUuid")
            start.wantClusterUuid = placement.get("clusterUuid")
            start.wantHostUuid = placement.get("hostUuid")
            start.wantPrimaryStorageUuid = placement.get("primaryStorageUuid")
            await self._run(self._start_first, start, ctx)
        else:
            # its root volume is on its last host (LocalStorage): it starts there
            start.wantHostUuid = row.last_host_uuid
            await self._run(self._start_again, start, ctx)
        return await self._reply(msg.resourceUuid)

    async def stop(self, msg: StopVmInstance, ctx: HandlerContext) -> VmInstanceReply:
        row = await self._load(msg)
        start = await self._ctx(row, host=row.host_uuid)
        start.force = msg.type == "cold"
        start.graceSeconds = int(self._gconfig.value(STOP_GRACE))
        await self._run(self._stop, start, ctx)
        return await self._reply(msg.resourceUuid)

    async def reboot(self, msg: RebootVmInstance, ctx: HandlerContext) -> VmInstanceReply:
        row = await self._load(msg)
        await self._run(self._reboot, await self._ctx(row, host=row.host_uuid), ctx)
        return await self._reply(msg.resourceUuid)

    async def pause(self, msg: PauseVmInstance, ctx: HandlerContext) -> VmInstanceReply:
        row = await self._load(msg)
        await self._run(self._pause, await self._ctx(row, host=row.host_uuid), ctx)
        return await self._reply(msg.resourceUuid)

    async def resume(self, msg: ResumeVmInstance, ctx: HandlerContext) -> VmInstanceReply:
        row = await self._load(msg)
        await self._run(self._resume, await self._ctx(row, host=row.host_uuid), ctx)
        return await self._reply(msg.resourceUuid)

    async def migrate(self, msg: MigrateVm, ctx: HandlerContext) -> VmInstanceReply:
        row = await self._load(msg)
        if msg.hostUuid is not None and msg.hostUuid == row.host_uuid:
            raise invalid_field("hostUuid", f"VM {row.uuid} runs on host {msg.hostUuid} already")
        base = await self._ctx(row, host=row.host_uuid)
        start = MigrateCtx(
            **base.model_dump(),
            rootPrimaryStorageUuid=row.root_primary_storage_uuid,
            hypervisorType=row.hypervisor_type,
        )
        start.wantHostUuid = msg.hostUuid
        await self._states.run(
            self._migrate,
            start,
            resource_uuid=row.uuid,
            run_id=ctx.message_id,
            deadline=ctx.deadline,
        )
        return await self._reply(msg.resourceUuid)

    async def change_offering(
        self, msg: ChangeInstanceOffering, ctx: HandlerContext
    ) -> VmInstanceReply:
        row = await self._load(msg)
        caller = caller_of(msg)
        async with self._db.session() as s:
            cpu, memory = await offering_shape(s, self._types, msg.instanceOfferingUuid, caller)
        if row.state in (VmState.RUNNING, VmState.PAUSED) and row.op_holder is None:
            refused = illegal(VM_STATES, row.uuid, CHANGE_OFFERING, row.state, None)
            raise PermanentError(
                error(
                    StateCodes.ILLEGAL,
                    f"{refused.details}; {NO_HOT_PLUG}",
                    **{**refused.extra, "reason": NO_HOT_PLUG},
                )
            )
        start = ChangeOfferingCtx(
            vmUuid=row.uuid,
            accountUuid=row.owner_account_uuid,
            instanceOfferingUuid=msg.instanceOfferingUuid,
            cpuNum=cpu,
            memorySize=memory,
            unlimited=caller.isAdmin and caller.accountUuid == row.owner_account_uuid,
        )
        await self._states.run(
            self._change_offering,
            start,
            resource_uuid=row.uuid,
            run_id=ctx.message_id,
            deadline=ctx.deadline,
        )
        return await self._reply(msg.resourceUuid)

    async def destroy(self, msg: DestroyVmInstance, ctx: HandlerContext) -> VmInstanceDeleted:
        """By ``vm.deletionPolicy``: Direct destroys and removes it (a VM a Delay destroy
        left Destroyed is expunged); Delay and Never leave it Destroyed (again: nothing)."""
        row = await self._load(msg)
        direct = self._gconfig.value(DELETION_POLICY) == DIRECT
        if row.destroyed_at is not None and row.op_holder != ctx.message_id:
            if not direct:
                return VmInstanceDeleted()
            return await self.expunge_vm(row.uuid, ctx.message_id, deadline=ctx.deadline)
        start = await self._ctx(row, host=row.host_uuid or row.last_host_uuid)
        if not direct:
            await self._run(self._destroy_delayed, start, ctx)
            return VmInstanceDeleted()
        await self._run(self._destroy, start, ctx)
        deleted = await self._deleter.delete(
            "VmInstance",
            msg.resourceUuid,
            "Enforcing",
            run_id=f"{msg.jobUuid or ctx.message_id}/delete",
            deadline=ctx.deadline,
        )
        return VmInstanceDeleted(deleted=deleted)

    async def recover(self, msg: RecoverVmInstance, ctx: HandlerContext) -> VmInstanceReply:
        row = await self._load(msg)
        caller = caller_of(msg)
        start = RecoverCtx(
            vmUuid=row.uuid,
            accountUuid=row.owner_account_uuid,
            l3NetworkUuids=list(json.loads(row.l3_network_uuids)),
            staticIps=dict(json.loads(row.static_ips)),
            ipStrategy=str(self._gconfig.value(IP_ALLOCATE_STRATEGY)),
            unlimited=caller.isAdmin and caller.accountUuid == row.owner_account_uuid,
        )
        await self._states.run(
            self._recover,
            start,
            resource_uuid=row.uuid,
            run_id=ctx.message_id,
            deadline=ctx.deadline,
        )
        return await self._reply(msg.resourceUuid)

    async def expunge(self, msg: ExpungeVmInstance, ctx: HandlerContext) -> VmInstanceDeleted:
        row = await self._load(msg)
        return await self.expunge_vm(row.uuid, ctx.message_id, deadline=ctx.deadline)

    async def expunge_vm(
        self, uuid: str, run_id: str, deadline: float | None = None
    ) -> VmInstanceDeleted:
        """Expunge a Destroyed VM (the API's and the tracker's): 409 in any other state."""
        start = VmCtx(vmUuid=uuid)
        await self._states.run(
            self._expunge, start, resource_uuid=uuid, run_id=run_id, deadline=deadline
        )
        deleted = await self._deleter.delete(
            "VmInstance", uuid, "Enforcing", run_id=f"{run_id}/delete", deadline=deadline
        )
        return VmInstanceDeleted(deleted=deleted)

    async def evacuate_host(self, msg: EvacuateHost, ctx: HandlerContext) -> EvacuateHostReply:
        """A host's maintenance: its VMs migrated away, or stopped (``mgmt/vm/evacuate.py``)."""
        return await evacuate(self._db, self._bus, msg)

    async def _reply(self, uuid: str) -> VmInstanceReply:
        async with self._db.session() as s:
            row = await s.get(VmInstanceRow, uuid)
            if row is None:  # destroyed while the operation ran
                raise PermanentError(error(ApiCodes.NOT_FOUND, f"VM instance {uuid} not found"))
            return VmInstanceReply(inventory=await inventory(s, row))
