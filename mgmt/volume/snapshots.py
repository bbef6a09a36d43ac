"""Snapshot handlers (part of the volume service): thin — validate, load, run the
operation's flow, reply. The create runs its flow (``flows/snapshot.py``); revert and
delete run under the snapshot state machine (409 naming the status when not allowed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api import ApiCodes, caller_of, conflict_field
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.errors import PermanentError, error
from mgmt.core.messages import Message
from mgmt.core.module import NodeParts
from mgmt.core.states import StatefulOperation
from mgmt.volume.flows.snapshot import SnapshotCtx, snapshot_operations
from mgmt.volume.messages import (
    CreateVolumeSnapshot,
    DeleteVolumeSnapshot,
    RevertVolumeFromSnapshot,
    VolumeSnapshotDeleted,
    VolumeSnapshotReply,
)
from mgmt.volume.models import VolumeRow, VolumeSnapshotRow
from mgmt.volume.placement import AgentUrl
from mgmt.volume.resources import VOLUME_SNAPSHOT


class SnapshotHandlers:
    def __init__(self, parts: NodeParts, agent_url: AgentUrl) -> None:
        self._db = parts.db
        self._engine = parts.engine
        self._states = parts.states
        self._deleter = parts.deleter
        self._snapshots = parts.resource("VolumeSnapshot")
        self._vm_table = parts.types.types["VmInstance"].table
        self._agent_url = agent_url
        self._take, self._revert, self._delete = snapshot_operations(
            parts.db, parts.bus, self._snapshots, parts.agents, parts.settings.node_id
        )

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            CreateVolumeSnapshot: self.create,
            RevertVolumeFromSnapshot: self.revert,
            DeleteVolumeSnapshot: self.delete,
        }

    def stateful_operations(self) -> Sequence[StatefulOperation[Any]]:
        return (self._take, self._revert, self._delete)

    async def create(self, msg: CreateVolumeSnapshot, ctx: HandlerContext) -> VolumeSnapshotReply:
        request = msg if msg.jobUuid else msg.model_copy(update={"jobUuid": ctx.message_id})
        start = SnapshotCtx(
            snapshotUuid=msg.resourceUuid,
            volumeUuid=msg.volumeUuid,
            request=request.model_dump(mode="json"),
        )
        async with self._db.session() as s:
            volume = await s.get(VolumeRow, msg.volumeUuid)
            await self._where(s, start, volume)
        await self._engine.run(
            self._take.flow,
            start,
            resource_uuid=msg.resourceUuid,
            flow_uuid=ctx.message_id,  # a redelivered message joins this run
            deadline=ctx.deadline,
        )
        return await self._reply(msg.resourceUuid)

    async def revert(
        self, msg: RevertVolumeFromSnapshot, ctx: HandlerContext
    ) -> VolumeSnapshotReply:
        async with self._db.session() as s:
            row, start = await self._load(s, msg)
            if row.size == 0 and row.state == "Ready":
                raise conflict_field(
                    "resourceUuid",
                    f"snapshot {row.uuid} was taken before its volume had bits: "
                    "nothing to revert to",
                )
            volume = await s.get(VolumeRow, row.volume_uuid)
            vm_uuid = volume.vm_instance_uuid if volume is not None else None
            vm = await s.get(self._vm_table, vm_uuid) if vm_uuid else None
            if vm is not None and vm.state != "Stopped":
                raise PermanentError(
                    error(
                        ApiCodes.CONFLICT,
                        f"VM {vm.uuid} of volume {row.volume_uuid} is {vm.state}: stop it "
                        "to revert its volume",
                        vmInstanceUuid=vm.uuid,
                        state=vm.state,
                    )
                )
        await self._run(self._revert, start, ctx)
        return await self._reply(msg.resourceUuid)

    async def delete(self, msg: DeleteVolumeSnapshot, ctx: HandlerContext) -> VolumeSnapshotDeleted:
        async with self._db.session() as s:
            _, start = await self._load(s, msg)
        await self._run(self._delete, start, ctx)
        deleted = await self._deleter.delete(
            "VolumeSnapshot",
            msg.resourceUuid,
            "Enforcing",
            run_id=f"{msg.jobUuid or ctx.message_id}/delete",
            deadline=ctx.deadline,
        )
        return VolumeSnapshotDeleted(deleted=deleted)

    async def _load(self, s: AsyncSession, msg: Any) -> tuple[VolumeSnapshotRow, SnapshotCtx]:
        row: VolumeSnapshotRow = await self._snapshots.visible(s, msg.resourceUuid, caller_of(msg))
        start = SnapshotCtx(snapshotUuid=row.uuid, volumeUuid=row.volume_uuid, size=row.size)
        await self._where(s, start, await s.get(VolumeRow, row.volume_uuid))
        return row, start

    async def _where(self, s: AsyncSession, start: SnapshotCtx, volume: Any) -> None:
        """The agent that reaches the volume: the host it was made on (a root volume: its
        VM's host now, or last)."""
        host = volume.host_uuid if volume is not None else None
        if volume is not None and volume.vm_instance_uuid and volume.type == "Root":
            vm = await s.get(self._vm_table, volume.vm_instance_uuid)
            if vm is not None:
                host = vm.host_uuid or vm.last_host_uuid or host
        start.hostUuid = host
        start.agentUrl = await self._agent_url(s, host) if host else ""

    async def _run(
        self, op: StatefulOperation[SnapshotCtx], start: SnapshotCtx, ctx: HandlerContext
    ) -> None:
        await self._states.run(
            op,
            start,
            resource_uuid=start.snapshotUuid,
            run_id=ctx.message_id,
            deadline=ctx.deadline,
        )

    async def _reply(self, uuid: str) -> VolumeSnapshotReply:
        async with self._db.session() as s:
            row = await s.get(VolumeSnapshotRow, uuid)
            if row is None:
                raise PermanentError(error(ApiCodes.NOT_FOUND, f"volume snapshot {uuid} not found"))
            return VolumeSnapshotReply(inventory=VOLUME_SNAPSHOT.to_inventory(row))
