"""Volume service: thin handlers — validate, load, run the operation's flow, reply.

Creates run a create flow (``flows/create.py``); every other operation runs under the
volume state machine (``StatefulRunner``: 409 naming the status and the operations
allowed now when it may not begin). Messages about one volume are routed by its UUID, so
its operations queue in order on its partition's owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api import ApiCodes, caller_of, conflict_field, invalid_field, not_found
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.errors import PermanentError, error
from mgmt.core.flow import FlowDef
from mgmt.core.messages import Message
from mgmt.core.module import NodeParts
from mgmt.core.states import StatefulOperation
from mgmt.volume.flows.attach import attach_operations
from mgmt.volume.flows.create import create_volume_flows
from mgmt.volume.flows.delete import delete_operation
from mgmt.volume.flows.resize import resize_operation
from mgmt.volume.flows.steps import VolumeCtx
from mgmt.volume.messages import (
    AttachDataVolumeToVm,
    CreateDataVolume,
    DeleteDataVolume,
    DetachDataVolumeFromVm,
    ResizeDataVolume,
    VolumeDeleted,
    VolumeReply,
)
from mgmt.volume.models import VolumeRow
from mgmt.volume.placement import agent_urls, placer
from mgmt.volume.resources import DATA, VOLUME
from mgmt.volume.snapshots import SnapshotHandlers
from mgmt.volume.states import INSTANTIATE, VOLUME_STATES, VolumeStatus

#: the VM states a volume is attached to or detached from in
_ATTACHABLE = ("Running", "Stopped")


class VolumeService:
    def __init__(self, parts: NodeParts) -> None:
        self._db = parts.db
        self._engine = parts.engine
        self._states = parts.states
        self._deleter = parts.deleter
        self._volumes = parts.resource("Volume")
        self._vm_type = parts.types.types["VmInstance"]
        self._ps_table = parts.types.types["PrimaryStorage"].table
        self._agent_url = agent_urls(parts.plugins)
        place = placer(self._agent_url, self._vm_type.table)
        agents = parts.agents
        self._create, self._record = create_volume_flows(
            parts.db, parts.bus, self._volumes, parts.types, place, agents, parts.settings.node_id
        )
        self._attach, self._detach = attach_operations(parts.db, place, agents)
        self._resize = resize_operation(parts.db, agents)
        self._delete = delete_operation(parts.db, agents)
        self._snapshots = SnapshotHandlers(parts, self._agent_url)

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            CreateDataVolume: self.create,
            AttachDataVolumeToVm: self.attach,
            DetachDataVolumeFromVm: self.detach,
            ResizeDataVolume: self.resize,
            DeleteDataVolume: self.delete,
            **self._snapshots.handlers(),
        }

    def stateful_operations(self) -> Sequence[StatefulOperation[Any]]:
        # the create flows hold the volume they insert (instantiate by insertion)
        return (
            StatefulOperation(VOLUME_STATES, INSTANTIATE, self._create),
            StatefulOperation(VOLUME_STATES, INSTANTIATE, self._record),
            self._attach,
            self._detach,
            self._resize,
            self._delete,
            *self._snapshots.stateful_operations(),
        )

    def flows(self) -> Sequence[FlowDef[Any]]:
        return [op.flow for op in self.stateful_operations()]

    async def create(self, msg: CreateDataVolume, ctx: HandlerContext) -> VolumeReply:
        request = msg if msg.jobUuid else msg.model_copy(update={"jobUuid": ctx.message_id})
        start = VolumeCtx(
            volumeUuid=msg.resourceUuid,
            accountUuid=caller_of(msg).accountUuid,
            request=request.model_dump(mode="json"),
            instantiate=msg.primaryStorageUuid is not None,
            primaryStorageUuid=msg.primaryStorageUuid,
        )
        await self._engine.run(
            self._create if msg.primaryStorageUuid else self._record,
            start,
            resource_uuid=msg.resourceUuid,
            flow_uuid=ctx.message_id,  # a redelivered message joins this run
            deadline=ctx.deadline,
        )
        return await self._reply(msg.resourceUuid)

    async def attach(self, msg: AttachDataVolumeToVm, ctx: HandlerContext) -> VolumeReply:
        caller = caller_of(msg)
        async with self._db.session() as s:
            row = await self._data(s, msg)
            redelivered = row.op_holder == ctx.message_id
            if row.vm_instance_uuid is not None and not redelivered:
                raise conflict_field(
                    "vmInstanceUuid", f"volume {row.uuid} is attached to {row.vm_instance_uuid}"
                )
            vm = await s.get(self._vm_type.table, msg.vmInstanceUuid)
            if vm is None or not self._vm_type.may_act(caller, vm):
                missing = not_found("VmInstance", msg.vmInstanceUuid, field="vmInstanceUuid")
                raise PermanentError(
                    error(ApiCodes.INVALID_ARGUMENT, missing.details, **missing.extra)
                )
            if vm.state not in _ATTACHABLE:
                raise _vm_state(vm)
            await self._same_host(s, row, vm)
            start = await self._ctx(s, row, vm)
            start.instantiate = row.primary_storage_uuid is None or (
                redelivered and row.op_from == VolumeStatus.NOT_INSTANTIATED
            )
            start.deviceId = await _next_device(s, vm.uuid)
        await self._run(self._attach, start, ctx)
        return await self._reply(msg.resourceUuid)

    async def detach(self, msg: DetachDataVolumeFromVm, ctx: HandlerContext) -> VolumeReply:
        async with self._db.session() as s:
            row = await self._data(s, msg)
            if row.vm_instance_uuid is None:
                raise conflict_field("vmInstanceUuid", f"volume {row.uuid} is not attached")
            vm = await s.get(self._vm_type.table, row.vm_instance_uuid)
            if vm is not None and vm.state not in _ATTACHABLE:
                raise _vm_state(vm)
            start = await self._ctx(s, row, vm)
        await self._run(self._detach, start, ctx)
        return await self._reply(msg.resourceUuid)

    async def resize(self, msg: ResizeDataVolume, ctx: HandlerContext) -> VolumeReply:
        async with self._db.session() as s:
            row = await self._data(s, msg)
            if msg.size <= row.size and row.op_holder != ctx.message_id:
                raise invalid_field("size", f"{msg.size} is not larger than {row.size}: grow only")
            start = await self._ctx(s, row, None)
            start.newSize = msg.size
            start.isAdmin = caller_of(msg).isAdmin
        await self._run(self._resize, start, ctx)
        return await self._reply(msg.resourceUuid)

    async def delete(self, msg: DeleteDataVolume, ctx: HandlerContext) -> VolumeDeleted:
        async with self._db.session() as s:
            row = await self._data(s, msg)
            vm = None
            if row.vm_instance_uuid is not None:
                vm = await s.get(self._vm_type.table, row.vm_instance_uuid)
            start = await self._ctx(s, row, vm)
        await self._run(self._delete, start, ctx)
        deleted = await self._deleter.delete(
            "Volume",
            msg.resourceUuid,
            "Enforcing",
            run_id=f"{msg.jobUuid or ctx.message_id}/delete",
            deadline=ctx.deadline,
        )
        return VolumeDeleted(deleted=deleted)

    async def _same_host(self, s: AsyncSession, row: VolumeRow, vm: Any) -> None:
        """A volume on a LocalStorage is on one host's disk: only a VM there may use it."""
        if row.primary_storage_uuid is None or row.host_uuid is None:
            return
        ps = await s.get(self._ps_table, row.primary_storage_uuid)
        host = vm.host_uuid or vm.last_host_uuid
        if ps is not None and ps.type == "LocalStorage" and host != row.host_uuid:
            raise conflict_field(
                "vmInstanceUuid",
                f"volume {row.uuid} is on the LocalStorage of host {row.host_uuid}, "
                f"VM {vm.uuid} is on host {host}",
            )

    async def _data(self, s: AsyncSession, msg: Any) -> VolumeRow:
        row: VolumeRow = await self._volumes.visible(s, msg.resourceUuid, caller_of(msg))
        if row.type != DATA:
            raise conflict_field("type", f"volume {row.uuid} is a {row.type} volume")
        return row

    async def _ctx(self, s: AsyncSession, row: VolumeRow, vm: Any) -> VolumeCtx:
        start = VolumeCtx(
            volumeUuid=row.uuid,
            accountUuid=row.owner_account_uuid,
            size=row.size,
            format=row.format,
            primaryStorageUuid=row.primary_storage_uuid,
            hostUuid=row.host_uuid,
            agentUrl=await self._agent_url(s, row.host_uuid) if row.host_uuid else "",
            installPath=row.install_path or "",
            deviceId=row.device_id,
        )
        if vm is not None:
            start.vmUuid = vm.uuid
            start.vmRunning = vm.state == "Running" and vm.host_uuid is not None
            start.vmHostUuid = vm.host_uuid
            if vm.host_uuid is not None:
                start.vmAgentUrl = await self._agent_url(s, vm.host_uuid)
        return start

    async def _run(
        self, op: StatefulOperation[VolumeCtx], start: VolumeCtx, ctx: HandlerContext
    ) -> None:
        await self._states.run(
            op, start, resource_uuid=start.volumeUuid, run_id=ctx.message_id, deadline=ctx.deadline
        )

    async def _reply(self, uuid: str) -> VolumeReply:
        async with self._db.session() as s:
            row = await s.get(VolumeRow, uuid)
            if row is None:
                raise PermanentError(error(ApiCodes.NOT_FOUND, f"volume {uuid} not found"))
            return VolumeReply(inventory=VOLUME.to_inventory(row))


def _vm_state(vm: Any) -> PermanentError:
    return PermanentError(
        error(
            ApiCodes.CONFLICT,
            f"vmInstanceUuid: VM {vm.uuid} is {vm.state}, not Running or Stopped",
            field="vmInstanceUuid",
            state=vm.state,
        )
    )


async def _next_device(s: AsyncSession, vm_uuid: str) -> int:
    """The VM's next free disk position (its root volume is 0)."""
    top = await s.scalar(
        select(func.max(VolumeRow.device_id)).where(VolumeRow.vm_instance_uuid == vm_uuid)
    )
    return int(top if top is not None else 0) + 1
