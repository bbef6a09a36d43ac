"""Steps the VM flows share, over one context type (``VmCtx``).

Every step is idempotent by ids derived from its run (``current_attempt``): the
allocator's reservation ``<run>/allocate-host``, the NICs' UUIDs (from the VM and the
device), the root volume's reservations ``<run>/reserve-root-volume-capacity/...``, the
agent tasks' UUIDs. A step re-run after a take-over takes nothing more; its rollback gives
back exactly what it took (also when its node died inside it: ``result`` None).
"""

from __future__ import annotations

import hashlib
import uuid as uuidlib
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agent.protocol import DestroyVm, StartVm
from mgmt.allocator import AllocatedHost, AllocateHost, AllocationSpec, HostAllocator
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
from mgmt.core.errors import Codes, PermanentError, TemporaryError, ZCloudError, error
from mgmt.core.flow import NO_RETRY, Step, current_attempt
from mgmt.image import image_disk
from mgmt.network import IpRequest, Strategy, allocate_ip
from mgmt.storage import root_volume_storages
from mgmt.vm.models import VmInstanceRow, VmNicRow
from mgmt.vm.resources import release_nics
from mgmt.volume import RootVolume, add_root_volume, remove_root_volume

#: how a host's agent is reached: (session, host uuid) -> (agent URL, hypervisor type)
AgentUrl = Callable[[AsyncSession, str], Awaitable[tuple[str, str]]]
_NIC_NAMESPACE = uuidlib.UUID("6b0b7d52-1f4e-4c55-9d8e-3e1b0a3c2f61")


class VmCtx(BaseModel):
    """What every VM flow carries (persisted after each step: JSON only)."""

    vmUuid: str
    accountUuid: str = ""
    #: the create request (create flows only), as JSON
    request: dict[str, Any] | None = None
    name: str = ""
    cpuNum: int = 1
    memorySize: int = 1 << 30
    imageUuid: str | None = None
    instanceOfferingUuid: str | None = None
    l3NetworkUuids: list[str] = Field(default_factory=list)
    #: l3 uuid -> the static IP asked for it (``staticIp::{l3Uuid}::{ip}``)
    staticIps: dict[str, str] = Field(default_factory=dict)
    ipStrategy: str = Strategy.RANDOM.value
    #: where it must go (the create's designation, or a stopped VM's last host)
    wantZoneUuid: str | None = None
    wantClusterUuid: str | None = None
    wantHostUuid: str | None = None
    wantPrimaryStorageUuid: str | None = None
    #: where it is
    hostUuid: str | None = None
    clusterUuid: str | None = None
    zoneUuid: str | None = None
    agentUrl: str = ""
    force: bool = False
    #: a graceful stop: seconds the guest has to shut down before it is powered off
    graceSeconds: int = 60
    powerState: str | None = None
    #: the guest's host name (its ``hostname::`` system tag), sent with ``StartVm``
    hostname: str = ""


def nic_uuid(vm_uuid: str, device: int) -> str:
    """A NIC's UUID, derived: a re-run step finds the NIC it made."""
    return str(uuidlib.uuid5(_NIC_NAMESPACE, f"{vm_uuid}/{device}"))


def mac_of(nic: str, salt: int = 0) -> str:
    """A locally administered unicast MAC derived from the NIC (``salt`` on a clash)."""
    digest = hashlib.sha256(f"{nic}/{salt}".encode()).digest()
    return "fa:" + ":".join(f"{b:02x}" for b in digest[:5])


def run_id() -> str:
    return current_attempt().flow_uuid


async def update_vm(db: Database, vm_uuid: str, **values: Any) -> None:
    async with db.session() as s, s.begin():
        await s.execute(
            update(VmInstanceRow)
            .where(VmInstanceRow.uuid == vm_uuid)
            .values(updated_at=utcnow(), **values)
        )


def _spec(ctx: VmCtx) -> AllocationSpec:
    return AllocationSpec(
        account_uuid=ctx.accountUuid,
        cpu_num=ctx.cpuNum,
        memory_size=ctx.memorySize,
        image_uuid=ctx.imageUuid,
        l3_network_uuids=tuple(ctx.l3NetworkUuids),
        zone_uuid=ctx.wantZoneUuid,
        cluster_uuid=ctx.wantClusterUuid,
        host_uuid=ctx.wantHostUuid,
        primary_storage_uuid=ctx.wantPrimaryStorageUuid,
        instance_offering_uuid=ctx.instanceOfferingUuid,
    )


def _placed(ctx: VmCtx, host: AllocatedHost) -> None:
    ctx.hostUuid, ctx.clusterUuid, ctx.zoneUuid = host.host_uuid, host.cluster_uuid, host.zone_uuid


class AllocateVmHost(AllocateHost[VmCtx]):
    """The allocator's step; the VM row records the host and the allocation (what stop,
    destroy and a cascade release), and the context the host's agent URL."""

    def __init__(self, allocator: HostAllocator, db: Database, agent_url: AgentUrl) -> None:
        super().__init__(allocator, _spec, _placed)
        self._db = db
        self._agent_url = agent_url

    async def run(self, ctx: VmCtx) -> Any:
        # a failure below is retried (the allocation found again) or, last, rolled back by
        # the engine with this step (``undo_on_failure``)
        result = await super().run(ctx)
        assert ctx.hostUuid is not None
        async with self._db.session() as s, s.begin():
            ctx.agentUrl, hypervisor = await self._agent_url(s, ctx.hostUuid)
            await s.execute(
                update(VmInstanceRow)
                .where(VmInstanceRow.uuid == ctx.vmUuid)
                .values(
                    host_uuid=ctx.hostUuid,
                    cluster_uuid=ctx.clusterUuid,
                    zone_uuid=ctx.zoneUuid,
                    host_allocation=result["reservation"],
                    hypervisor_type=hypervisor,
                    updated_at=utcnow(),
                )
            )
        return result

    async def rollback(self, ctx: VmCtx, result: Any) -> None:
        rid = str(result["reservation"]) if result else self.reservation_id()
        async with self._db.session() as s, s.begin():
            await s.execute(
                update(VmInstanceRow)
                .where(VmInstanceRow.uuid == ctx.vmUuid, VmInstanceRow.host_allocation == rid)
                .values(host_uuid=None, host_allocation=None, updated_at=utcnow())
            )
        await super().rollback(ctx, result)


class AllocateNics(Step[VmCtx]):
    """One NIC per L3 network, each with an IP from IPAM (its static IP if the create
    asked for one) and a unique MAC. Runs only for a VM that has no NICs yet (a create, or
    the first start of a JustCreate VM), so its rollback removes every NIC of the VM."""

    name = "allocate-nics"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: VmCtx) -> Any:
        # every NIC in one transaction: a failure (no free IP on the second L3) leaves no
        # address taken, since the engine does not roll back the step that failed
        for salt in range(8):  # a MAC clash (40 random bits) tries other MACs
            try:
                async with self.db.session() as s, s.begin():
                    for device, l3 in enumerate(ctx.l3NetworkUuids):
                        await self._one(s, ctx, device, l3, salt)
                break
            except IntegrityError:
                continue
        else:
            raise TemporaryError(error(Codes.INTERNAL, f"no unique MACs for VM {ctx.vmUuid}"))
        return {"nics": [nic_uuid(ctx.vmUuid, d) for d in range(len(ctx.l3NetworkUuids))]}

    async def _one(self, s: AsyncSession, ctx: VmCtx, device: int, l3: str, salt: int) -> None:
        nic = nic_uuid(ctx.vmUuid, device)
        if await s.get(VmNicRow, nic) is not None:
            return  # made before this re-run
        strategy = Strategy(ctx.ipStrategy)
        got = await allocate_ip(
            s, IpRequest(l3, nic, "VmNic", ip=ctx.staticIps.get(l3), strategy=strategy)
        )
        s.add(
            VmNicRow(
                uuid=nic,
                vm_instance_uuid=ctx.vmUuid,
                l3_network_uuid=l3,
                ip=got.ip,
                mac=mac_of(nic, salt),
                netmask=got.netmask,
                gateway=got.gateway,
                device_id=device,
            )
        )
        await s.flush()

    async def rollback(self, ctx: VmCtx, result: Any) -> None:
        async with self.db.session() as s, s.begin():
            await release_nics(s, ctx.vmUuid)


class ReserveRootVolumeCapacity(Step[VmCtx]):
    """The root volume's size (the image's) on a primary storage of the host's cluster:
    ``primaryStorage.capacity``, and for a LocalStorage the host's share too, in one
    transaction; the first storage with room wins. The VM row records the reservations,
    and the root volume's row (``mgmt.volume``) is made in the same transaction."""

    name = "reserve-root-volume-capacity"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: VmCtx) -> Any:
        rid = reservation_id(run_id(), self.name)
        assert ctx.hostUuid is not None and ctx.clusterUuid is not None
        async with self.db.session() as s, s.begin():
            image = await image_disk(s, ctx.imageUuid or "")
            size = image.size if image is not None else 0
            held = await self._held(s, rid)
            ps: str | None
            if held:  # a re-run: what the first run reserved
                ps, ids = held
            else:
                ps, ids = await self._reserve(s, ctx, rid, size)
            vm = await s.get(VmInstanceRow, ctx.vmUuid)
            assert vm is not None
            root = RootVolume(
                ctx.vmUuid, vm.owner_account_uuid, vm.name, ps, size, ctx.hostUuid, tuple(ids)
            )
            volume = await add_root_volume(s, root)
            await s.execute(
                update(VmInstanceRow)
                .where(VmInstanceRow.uuid == ctx.vmUuid)
                .values(
                    root_primary_storage_uuid=ps,
                    root_volume_uuid=volume,
                    root_reservation=",".join(ids) or None,
                    root_size=size,
                    updated_at=utcnow(),
                )
            )
        return {"primaryStorageUuid": ps, "reservations": ids}

    async def _held(self, s: AsyncSession, rid: str) -> tuple[str, list[str]] | None:
        rows = (
            await s.execute(
                select(ReservationRow.id, ReservationRow.owner_uuid).where(
                    ReservationRow.id.like(f"{rid}/%"),
                    ReservationRow.state == ReservationState.RESERVED,
                )
            )
        ).all()
        if not rows:
            return None
        return str(rows[0][1]), sorted(str(i) for i, _ in rows)

    async def _reserve(
        self, s: AsyncSession, ctx: VmCtx, rid: str, size: int
    ) -> tuple[str | None, list[str]]:
        assert ctx.hostUuid is not None and ctx.clusterUuid is not None
        storages = await root_volume_storages(s, ctx.clusterUuid, ctx.hostUuid)
        if ctx.wantPrimaryStorageUuid is not None:  # the allocator placed it where that is
            storages = [ps for ps in storages if ps.uuid == ctx.wantPrimaryStorageUuid]
        if size <= 0:  # nothing to hold (an image of unknown size)
            return (storages[0].uuid if storages else None), []
        reasons: list[str] = []
        for ps in storages:
            ids = [f"{rid}/{ps.uuid}/{i}" for i in range(len(ps.counters))]
            try:
                async with s.begin_nested():
                    for name, one in zip(ps.counters, ids, strict=True):
                        await reserve(s, ps.uuid, name, size, one)
            except ZCloudError as exc:
                if exc.error.code != CounterCodes.INSUFFICIENT[0]:
                    raise
                reasons.append(f"{ps.type} {ps.uuid}: {exc.error.details}")
                continue
            return ps.uuid, ids
        raise PermanentError(
            error(
                CounterCodes.INSUFFICIENT,
                f"no primary storage of cluster {ctx.clusterUuid} has {size} bytes for the "
                f"root volume on host {ctx.hostUuid}: {'; '.join(reasons) or 'none attached'}",
                hostUuid=ctx.hostUuid,
                asked=size,
            )
        )

    async def rollback(self, ctx: VmCtx, result: Any) -> None:
        rid = reservation_id(run_id(), self.name)
        async with self.db.session() as s, s.begin():
            ids = list(result["reservations"]) if result else []
            held = await self._held(s, rid)
            if held:
                ids = sorted({*ids, *held[1]})
            for one in ids:
                await release(s, one)
            await remove_root_volume(s, ctx.vmUuid)
            await s.execute(
                update(VmInstanceRow)
                .where(VmInstanceRow.uuid == ctx.vmUuid)
                .values(
                    root_primary_storage_uuid=None,
                    root_volume_uuid=None,
                    root_reservation=None,
                    root_size=0,
                )
            )


class StartOnHost(AgentStep[VmCtx]):
    """``StartVm`` on the host's agent; undone by ``DestroyVm``. Not retried: a start that
    failed or timed out rolls the operation back (a resumed step re-attaches to its task
    and never sends it twice)."""

    name = "start-on-host"
    retry = NO_RETRY

    def command(self, ctx: VmCtx) -> AgentCall:
        cmd = StartVm(
            vmUuid=ctx.vmUuid,
            name=ctx.name,
            cpuNum=ctx.cpuNum,
            memoryBytes=ctx.memorySize,
            hostname=ctx.hostname,
        )
        return AgentCall(ctx.agentUrl, cmd, ctx.hostUuid or "")

    def compensation(self, ctx: VmCtx, reply: dict[str, Any] | None) -> AgentCall | None:
        return AgentCall(ctx.agentUrl, DestroyVm(vmUuid=ctx.vmUuid), ctx.hostUuid or "")

    def merge(self, ctx: VmCtx, reply: dict[str, Any]) -> None:
        ctx.powerState = str(reply.get("powerState"))


class ReleaseHost(Step[VmCtx]):
    """The point of no return of stop and destroy: the host's CPU and memory go back
    (the VM keeps ``lastHostUuid``)."""

    name = "release-host"
    no_rollback = True

    def __init__(self, allocator: HostAllocator, db: Database) -> None:
        self.allocator = allocator
        self.db = db

    async def run(self, ctx: VmCtx) -> Any:
        async with self.db.session() as s:
            row = await s.get(VmInstanceRow, ctx.vmUuid)
            rid = row.host_allocation if row is not None else None
            host = row.host_uuid if row is not None else None
        if rid:
            await self.allocator.release(rid)
        await update_vm(
            self.db,
            ctx.vmUuid,
            host_allocation=None,
            host_uuid=None,
            **({"last_host_uuid": host} if host else {}),
        )
        return {"released": rid}
