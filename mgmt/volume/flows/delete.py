"""DeleteDataVolume: ``detach-on-host`` (``DetachVolume``; attached to a Running VM
only) → ``delete-on-storage`` (``DeleteVolume``, which takes its snapshots' bits too;
skipped when it was never made or its host is gone) → ``record-detach``; the volume is
then Deleted, and the service deletes its row through the kit's cascade, whose hook gives
back its capacity, its snapshots' and its quotas in the delete's transaction. A delete
interrupted after the agent's delete leaves it Deleted; a DELETE again removes the row."""

from __future__ import annotations

from typing import Any

from agent.protocol import DeleteVolume
from mgmt.core.agenttasks import AgentCall, AgentClient, AgentStep
from mgmt.core.db import Database
from mgmt.core.flow import FlowDef, Interrupt
from mgmt.core.states import StatefulOperation
from mgmt.volume.flows.attach import RecordDetach
from mgmt.volume.flows.steps import DetachOnHost, VolumeCtx
from mgmt.volume.states import DELETE, VOLUME_STATES


class DeleteOnStorage(AgentStep[VolumeCtx]):
    name = "delete-on-storage"

    def command(self, ctx: VolumeCtx) -> AgentCall:
        return AgentCall(ctx.agentUrl, DeleteVolume(volumeUuid=ctx.volumeUuid), ctx.hostUuid or "")

    async def run(self, ctx: VolumeCtx) -> Any:
        if not ctx.agentUrl:
            return {"reply": None}
        return await super().run(ctx)


def delete_operation(db: Database, agents: AgentClient) -> StatefulOperation[VolumeCtx]:
    flow = FlowDef(
        "DeleteDataVolume",
        VolumeCtx,
        [DetachOnHost(agents), DeleteOnStorage(agents), RecordDetach(db)],
        on_interrupt=Interrupt.RESUME,
    )
    return StatefulOperation(VOLUME_STATES, DELETE, flow)
