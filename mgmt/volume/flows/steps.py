"""Steps the volume flows share, over one context type (``VolumeCtx``).

Every step is idempotent by ids derived from its run (``current_attempt``): the primary
storage reservations ``<run>/<step>/<candidate>/<counter>``, the agent tasks' UUIDs. A
step re-run after a take-over takes nothing more; its rollback gives back exactly what it
took (also when its node died inside it: ``result`` None).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent.protocol import AttachVolume, CreateVolume, DeleteVolume, DetachVolume
from mgmt.core.agenttasks import AgentCall, AgentStep
from mgmt.core.counters import (
    CounterCodes,
    ReservationRow,
    ReservationState,
    release,
    reservation_id,
    reserve,
)
from mgmt.core.db import Database, utcnow
from mgmt.core.errors import PermanentError, ZCloudError, error
from mgmt.core.flow import NO_RETRY, Step, current_attempt
from mgmt.volume.models import VolumeRow


class Candidate(BaseModel):
    """A place a volume may be made: a primary storage, the host whose agent makes it
    there, and the capacity counters (owner: the storage) it reserves."""

    primaryStorageUuid: str
    type: str
    hostUuid: str
    agentUrl: str
    counters: list[str]


class VolumeCtx(BaseModel):
    """What every volume flow carries (persisted after each step: JSON only)."""

    volumeUuid: str
    accountUuid: str = ""
    #: the caller is an admin (counted in quotas, not limited)
    isAdmin: bool = False
    #: the create request (create flows only), as JSON
    request: dict[str, Any] | None = None
    size: int = 0
    newSize: int = 0
    format: str = "qcow2"
    #: make its bits in this run (a create naming a storage; the first attach)
    instantiate: bool = False
    #: a create's storage (the placer looks for hosts that reach it)
    primaryStorageUuid: str | None = None
    #: where its bits are, and the agent that reaches them
    hostUuid: str | None = None
    agentUrl: str = ""
    installPath: str = ""
    #: the VM it is attached to (or being attached to), and whether that VM runs
    vmUuid: str | None = None
    vmRunning: bool = False
    vmAgentUrl: str = ""
    vmHostUuid: str | None = None
    deviceId: int | None = None
    tried: list[str] = Field(default_factory=list)


#: where a volume may be made: (session, ctx) → candidates, best first
Placer = Callable[[AsyncSession, VolumeCtx], Awaitable[list[Candidate]]]


def run_id() -> str:
    return current_attempt().flow_uuid


async def update_volume(db: Database, uuid: str, **values: Any) -> None:
    async with db.session() as s, s.begin():
        await s.execute(
            update(VolumeRow).where(VolumeRow.uuid == uuid).values(updated_at=utcnow(), **values)
        )


async def held(s: AsyncSession, rid: str) -> list[tuple[str, str]]:
    """(reservation id, owner) of the live reservations under ``rid``."""
    rows = await s.execute(
        select(ReservationRow.id, ReservationRow.owner_uuid).where(
            ReservationRow.id.like(f"{rid}/%"),
            ReservationRow.state == ReservationState.RESERVED,
        )
    )
    return sorted((str(i), str(o)) for i, o in rows.all())


class ReserveVolumeCapacity(Step[VolumeCtx]):
    """The volume's size on the first candidate storage with room (``Placer``): every
    counter of the candidate (``primaryStorage.capacity``, and a LocalStorage's share on
    the host) in one transaction. The row records the storage, the host and the
    reservations. Only when the run instantiates the volume."""

    name = "reserve-volume-capacity"

    def __init__(self, db: Database, placer: Placer) -> None:
        self.db = db
        self.placer = placer

    async def run(self, ctx: VolumeCtx) -> Any:
        if not ctx.instantiate:
            return None
        rid = reservation_id(run_id(), self.name)
        async with self.db.session() as s, s.begin():
            found = await self.placer(s, ctx)
            taken = await held(s, rid)
            if taken:  # a re-run: what the first run reserved
                index = int(taken[0][0][len(rid) + 1 :].split("/")[0])
                chosen, ids = found[index], [i for i, _ in taken]
            else:
                chosen, ids = await self._reserve(s, ctx, rid, found)
            await s.execute(
                update(VolumeRow)
                .where(VolumeRow.uuid == ctx.volumeUuid)
                .values(
                    primary_storage_uuid=chosen.primaryStorageUuid,
                    host_uuid=chosen.hostUuid,
                    reservation=",".join(ids) or None,
                    updated_at=utcnow(),
                )
            )
        ctx.primaryStorageUuid = chosen.primaryStorageUuid
        ctx.hostUuid, ctx.agentUrl = chosen.hostUuid, chosen.agentUrl
        return {"reservations": ids}

    async def _reserve(
        self, s: AsyncSession, ctx: VolumeCtx, rid: str, found: list[Candidate]
    ) -> tuple[Candidate, list[str]]:
        reasons: list[str] = []
        for index, c in enumerate(found):
            ids = [f"{rid}/{index}/{j}" for j in range(len(c.counters))]
            try:
                async with s.begin_nested():
                    for name, one in zip(c.counters, ids, strict=True):
                        await reserve(s, c.primaryStorageUuid, name, ctx.size, one)
            except ZCloudError as exc:
                if exc.error.code != CounterCodes.INSUFFICIENT[0]:
                    raise
                reasons.append(f"{c.type} {c.primaryStorageUuid}: {exc.error.details}")
                continue
            return c, ids
        raise PermanentError(
            error(
                CounterCodes.INSUFFICIENT,
                f"no primary storage has {ctx.size} bytes for volume {ctx.volumeUuid}: "
                f"{'; '.join(reasons) or 'none reachable'}",
                asked=ctx.size,
            )
        )

    async def rollback(self, ctx: VolumeCtx, result: Any) -> None:
        rid = reservation_id(run_id(), self.name)
        async with self.db.session() as s, s.begin():
            ids = set(result["reservations"]) if result else set()
            ids |= {i for i, _ in await held(s, rid)}
            for one in sorted(ids):
                await release(s, one)
            if ctx.instantiate:
                await s.execute(
                    update(VolumeRow)
                    .where(VolumeRow.uuid == ctx.volumeUuid)
                    .values(
                        primary_storage_uuid=None,
                        host_uuid=None,
                        reservation=None,
                        install_path=None,
                        updated_at=utcnow(),
                    )
                )


class CreateOnStorage(AgentStep[VolumeCtx]):
    """``CreateVolume`` on the chosen host's agent; undone by ``DeleteVolume``. Only when
    the run instantiates the volume."""

    name = "create-on-storage"
    retry = NO_RETRY

    def command(self, ctx: VolumeCtx) -> AgentCall:
        cmd = CreateVolume(
            volumeUuid=ctx.volumeUuid,
            primaryStorageUuid=ctx.primaryStorageUuid or "",
            size=ctx.size,
            format=ctx.format,
        )
        return AgentCall(ctx.agentUrl, cmd, ctx.hostUuid or "")

    async def run(self, ctx: VolumeCtx) -> Any:
        if not ctx.instantiate:
            return {"reply": None}
        return await super().run(ctx)

    def compensation(self, ctx: VolumeCtx, reply: dict[str, Any] | None) -> AgentCall | None:
        if not ctx.instantiate or not ctx.agentUrl:
            return None
        return AgentCall(ctx.agentUrl, DeleteVolume(volumeUuid=ctx.volumeUuid), ctx.hostUuid or "")

    def merge(self, ctx: VolumeCtx, reply: dict[str, Any]) -> None:
        ctx.installPath = str(reply.get("installPath") or "")


class AttachOnHost(AgentStep[VolumeCtx]):
    """``AttachVolume`` on the running VM's host; undone by ``DetachVolume``. A stopped
    VM gets the volume on its next start (nothing to send)."""

    name = "attach-on-host"
    retry = NO_RETRY

    def command(self, ctx: VolumeCtx) -> AgentCall:
        cmd = AttachVolume(
            vmUuid=ctx.vmUuid or "",
            volumeUuid=ctx.volumeUuid,
            installPath=ctx.installPath,
            deviceId=ctx.deviceId or 1,
        )
        return AgentCall(ctx.vmAgentUrl, cmd, ctx.vmHostUuid or "")

    async def run(self, ctx: VolumeCtx) -> Any:
        if not ctx.vmRunning:
            return {"reply": None}
        return await super().run(ctx)

    def compensation(self, ctx: VolumeCtx, reply: dict[str, Any] | None) -> AgentCall | None:
        if not ctx.vmRunning:
            return None
        cmd = DetachVolume(vmUuid=ctx.vmUuid or "", volumeUuid=ctx.volumeUuid)
        return AgentCall(ctx.vmAgentUrl, cmd, ctx.vmHostUuid or "")


class DetachOnHost(AgentStep[VolumeCtx]):
    """``DetachVolume`` on the running VM's host (a stopped VM: nothing to send)."""

    name = "detach-on-host"

    def command(self, ctx: VolumeCtx) -> AgentCall:
        cmd = DetachVolume(vmUuid=ctx.vmUuid or "", volumeUuid=ctx.volumeUuid)
        return AgentCall(ctx.vmAgentUrl, cmd, ctx.vmHostUuid or "")

    async def run(self, ctx: VolumeCtx) -> Any:
        if not (ctx.vmRunning and ctx.vmAgentUrl):
            return {"reply": None}
        return await super().run(ctx)
