"""Volumes, declared: reads with tenancy, queries both ways (``q=vmInstance.name=`` on
volumes, ``q=allVolumes.size>…`` on VMs, ``primaryStorage``, ``diskOffering``), the quotas
``volume.data.num`` and ``volume.capacity`` (data volumes only: a root volume counts in its
VM's quotas), and the delete's hook, which gives back in the delete's transaction what a
data volume holds: its primary storage reservations and its quotas (its snapshots go
first, by the cascade: ``VOLUME_SNAPSHOT``). The volume service's
delete flow runs first (detached, deleted by the agent), then this delete; an account's
cascade runs only the hook."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core import quota
from mgmt.core.counters import release
from mgmt.core.quota import Quota
from mgmt.core.resource import Parent, ResourceType
from mgmt.volume.messages import VolumeInventory, VolumeSnapshotInventory
from mgmt.volume.models import VolumeRow, VolumeSnapshotRow

ROOT = "Root"
DATA = "Data"
VOLUME_DATA_NUM = Quota("volume.data.num", 40)
VOLUME_CAPACITY = Quota("volume.capacity", 10 << 40)
SNAPSHOT_NUM = Quota("snapshot.volume.num", 200)


def reservations(row: VolumeRow | VolumeSnapshotRow) -> list[str]:
    return [r for r in (row.reservation or "").split(",") if r]


async def release_volume(s: AsyncSession, row: VolumeRow | VolumeSnapshotRow) -> None:
    """A data volume's (or a snapshot's) primary storage reservations, by id (idempotent)."""
    for rid in reservations(row):
        await release(s, rid)
    row.reservation = None


async def give_back(s: AsyncSession, uuids: Sequence[str]) -> None:
    """What the data volumes hold: capacity and quotas (the delete's transaction)."""
    rows = await s.execute(
        select(VolumeRow).where(VolumeRow.uuid.in_(list(uuids)), VolumeRow.type == DATA)
    )
    for row in rows.scalars():
        await release_volume(s, row)
        await quota.release(s, row.owner_account_uuid, VOLUME_DATA_NUM.name, 1)
        await quota.release(s, row.owner_account_uuid, VOLUME_CAPACITY.name, row.size)


VOLUME = ResourceType(
    "Volume",
    "volumes",
    VolumeRow,
    VolumeInventory,
    # references, not owners: a VM's delete detaches its data volumes (its own hook), and
    # the storage and the offering leave their volumes' rows alone
    parents=(
        Parent(
            "VmInstance",
            VolumeRow.vm_instance_uuid,
            relation="vmInstance",
            children="allVolumes",
            cascade=False,
        ),
        Parent(
            "PrimaryStorage",
            VolumeRow.primary_storage_uuid,
            relation="primaryStorage",
            children="volumes",
            cascade=False,
            shared_use=True,
        ),
        Parent(
            "DiskOffering",
            VolumeRow.disk_offering_uuid,
            relation="diskOffering",
            children="volumes",
            cascade=False,
            shared_use=True,
        ),
    ),
    columns={"state": VolumeRow.enabled_state, "status": VolumeRow.state},
    before_delete=give_back,
)


async def give_back_snapshots(s: AsyncSession, uuids: Sequence[str]) -> None:
    """What the snapshots hold on primary storage (``snapshot.volume.num`` is the kit's)."""
    rows = await s.execute(select(VolumeSnapshotRow).where(VolumeSnapshotRow.uuid.in_(list(uuids))))
    for row in rows.scalars():
        await release_volume(s, row)


#: a volume's snapshots: deleted with it (the kit's cascade, or a VM's delete for its root
#: volume's), each giving back its capacity and ``snapshot.volume.num``
VOLUME_SNAPSHOT = ResourceType(
    "VolumeSnapshot",
    "volume-snapshots",
    VolumeSnapshotRow,
    VolumeSnapshotInventory,
    parents=(
        Parent(
            "Volume",
            VolumeSnapshotRow.volume_uuid,
            relation="volume",
            children="snapshots",
        ),
    ),
    quota=SNAPSHOT_NUM,
    columns={"status": VolumeSnapshotRow.state},
    before_delete=give_back_snapshots,
)
