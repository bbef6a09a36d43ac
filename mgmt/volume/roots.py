"""What the VM service does with volumes (through ``mgmt.volume``): the root volume row
its create step records with the capacity it reserves, its VMs' volumes for their
inventories (one query for a page), and what a VM's delete does to its volumes."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core import quota
from mgmt.core.db import utcnow
from mgmt.core.resource import forget
from mgmt.volume.messages import VolumeInventory
from mgmt.volume.models import VolumeRow, VolumeSnapshotRow
from mgmt.volume.resources import DATA, ROOT, SNAPSHOT_NUM, VOLUME, release_volume
from mgmt.volume.states import VolumeStatus

_ROOT_NAMESPACE = uuidlib.UUID("0d6c1f5e-7a43-4e8b-9a61-5b2f8c4d7e90")


def root_volume_uuid(vm_uuid: str) -> str:
    """A VM's root volume UUID, derived: a re-run step finds the row it made."""
    return uuidlib.uuid5(_ROOT_NAMESPACE, vm_uuid).hex


@dataclass(frozen=True)
class RootVolume:
    vm_uuid: str
    owner_account_uuid: str
    vm_name: str
    primary_storage_uuid: str | None
    size: int
    host_uuid: str | None
    #: the capacity reservations the VM holds for it (recorded here too: the storage
    #: counter's recalculation counts what volumes and snapshots hold)
    reservations: tuple[str, ...] = ()


async def add_root_volume(s: AsyncSession, root: RootVolume) -> str:
    """The root volume's row (Ready, device 0), in the caller's transaction; made once."""
    uuid = root_volume_uuid(root.vm_uuid)
    if await s.get(VolumeRow, uuid) is None:
        now = utcnow()
        s.add(
            VolumeRow(
                uuid=uuid,
                name=f"ROOT-for-{root.vm_name}"[:255],
                description="",
                owner_account_uuid=root.owner_account_uuid,
                created_at=now,
                updated_at=now,
                state=VolumeStatus.READY,
                type=ROOT,
                vm_instance_uuid=root.vm_uuid,
                primary_storage_uuid=root.primary_storage_uuid,
                size=root.size,
                actual_size=root.size,
                install_path=f"/{root.primary_storage_uuid}/root/{uuid}.qcow2",
                device_id=0,
                format="qcow2",
                enabled_state="Enabled",
                host_uuid=root.host_uuid,
                reservation=",".join(root.reservations) or None,
            )
        )
        await s.flush()
    return uuid


async def remove_root_volume(s: AsyncSession, vm_uuid: str) -> None:
    await s.execute(delete(VolumeRow).where(VolumeRow.uuid == root_volume_uuid(vm_uuid)))


async def volumes_of(s: AsyncSession, vm_uuids: Sequence[str]) -> dict[str, list[VolumeInventory]]:
    """The VMs' volumes by VM, root first then by device (one query)."""
    out: dict[str, list[VolumeInventory]] = {}
    if not vm_uuids:
        return out
    rows = await s.execute(
        select(VolumeRow)
        .where(VolumeRow.vm_instance_uuid.in_(list(vm_uuids)))
        .order_by(VolumeRow.device_id, VolumeRow.uuid)
    )
    for row in rows.scalars():
        assert row.vm_instance_uuid is not None
        out.setdefault(row.vm_instance_uuid, []).append(VOLUME.to_inventory(row))
    return out


async def vm_volumes_gone(s: AsyncSession, vm_uuids: Sequence[str]) -> None:
    """A VM's delete (its transaction): its root volume rows go (their capacity is the
    VM's to give back) with their snapshots (capacity and ``snapshot.volume.num`` given
    back here); its data volumes are detached and stay, with what they hold."""
    if not vm_uuids:
        return
    roots = [root_volume_uuid(u) for u in vm_uuids]
    snaps = list(
        (
            await s.execute(
                select(VolumeSnapshotRow).where(VolumeSnapshotRow.volume_uuid.in_(roots))
            )
        ).scalars()
    )
    for snap in snaps:
        await release_volume(s, snap)
        await quota.release(s, snap.owner_account_uuid, SNAPSHOT_NUM.name, 1)
    if snaps:
        gone = [snap.uuid for snap in snaps]
        await s.execute(delete(VolumeSnapshotRow).where(VolumeSnapshotRow.uuid.in_(gone)))
        await forget(s, gone)
    await s.execute(
        delete(VolumeRow).where(
            VolumeRow.vm_instance_uuid.in_(list(vm_uuids)), VolumeRow.type == ROOT
        )
    )
    await s.execute(
        update(VolumeRow)
        .where(VolumeRow.vm_instance_uuid.in_(list(vm_uuids)), VolumeRow.type == DATA)
        .values(vm_instance_uuid=None, device_id=None, updated_at=utcnow())
    )
