"""Volume API messages and inventory (ZStack's names; the REST API at ``/v1/volumes`` is
derived from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mgmt.core.api import UUID_PATTERN, ApiRequest, ApiSpec, uuid_ref
from mgmt.core.messages import Reply

_MIB = 1 << 20
VolumeStatusName = Literal[
    "NotInstantiated",
    "Creating",
    "Ready",
    "Attaching",
    "Detaching",
    "Resizing",
    "Deleting",
    "Deleted",
]


class VolumeInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The volume's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    type: Literal["Root", "Data"] = Field(description="Root (a VM's disk) or Data.")
    vmInstanceUuid: str | None = Field(description="The VM it is attached to.")
    primaryStorageUuid: str | None = Field(
        description="The primary storage it lives on (None until instantiated)."
    )
    diskOfferingUuid: str | None = Field(description="The disk offering it was made from.")
    size: int = Field(description="Virtual size in bytes (what it reserves on its storage).")
    actualSize: int = Field(description="Bytes its bits take now.")
    installPath: str | None = Field(description="Where its bits are on the storage.")
    deviceId: int | None = Field(description="Its position among the VM's disks (root: 0).")
    format: str = Field(description="Disk format (qcow2, raw).")
    state: Literal["Enabled", "Disabled"] = Field(description="Enabled or Disabled.")
    status: VolumeStatusName = Field(
        description="Its lifecycle: NotInstantiated, Ready, Deleted, or the transitional "
        "status of the operation running (Creating, Attaching, Detaching, Resizing, Deleting)."
    )
    ownerAccountUuid: str = Field(description="Owner account.")
    createDate: datetime = Field(description="When it was created.")
    lastOpDate: datetime = Field(description="When it last changed.")


class VolumeReply(Reply):
    inventory: VolumeInventory


class VolumeDeleted(Reply):
    deleted: list[str] = Field(default_factory=list, description="Types deleted, leaves first.")


class CreateDataVolume(ApiRequest[VolumeReply]):
    """Create a data volume of a disk offering's size (or ``diskSize``). Without
    ``primaryStorageUuid`` it is only recorded (NotInstantiated: its first attach makes it
    on the VM's primary storage); with one, its size is reserved there and a host's agent
    makes it (Ready). Quotas ``volume.data.num`` and ``volume.capacity`` are consumed; a
    failure at any step gives back everything taken and leaves no volume."""

    api = ApiSpec("create", "volumes", "Volume", "Create a data volume")
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "data1", "diskSize": 1 << 30}]}
    )

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    name: str = Field(min_length=1, max_length=255, description="Name of the volume.")
    description: str = Field(default="", max_length=2048, description="Free text.")
    diskOfferingUuid: str | None = Field(
        default=None, pattern=UUID_PATTERN, description="The disk offering (its size)."
    )
    diskSize: int | None = Field(
        default=None, ge=_MIB, le=1 << 50, description="Size in bytes (no offering)."
    )
    primaryStorageUuid: str | None = Field(
        default=None,
        pattern=UUID_PATTERN,
        description="Make it now on this primary storage (admins, or one shared with you).",
    )


def _action(action: str, summary: str) -> ApiSpec:
    return ApiSpec("action", "volumes", "Volume", summary, action=action)


class AttachDataVolumeToVm(ApiRequest[VolumeReply]):
    """Attach a data volume to a Running or Stopped VM: made on the primary storage of
    the VM's root volume first if NotInstantiated, then plugged in by the VM's host's agent
    (a Running VM). A failure undoes what the run did (the bits made are deleted, the
    capacity given back)."""

    api = _action("attach", "Attach a data volume to a VM")
    model_config = ConfigDict(json_schema_extra={"examples": [{"vmInstanceUuid": "<vm uuid>"}]})

    vmInstanceUuid: str = uuid_ref("The VM (Running or Stopped; yours).")


class DetachDataVolumeFromVm(ApiRequest[VolumeReply]):
    """Detach a data volume from its VM (unplugged by the host's agent if it runs)."""

    api = _action("detach", "Detach a data volume from its VM")
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class ResizeDataVolume(ApiRequest[VolumeReply]):
    """Grow a Ready data volume to ``size`` bytes: the difference is reserved on its
    primary storage and counted in ``volume.capacity``, then its host's agent grows it."""

    api = _action("resize", "Grow a data volume")
    model_config = ConfigDict(json_schema_extra={"examples": [{"size": 2 << 30}]})

    size: int = Field(ge=_MIB, le=1 << 50, description="The new size in bytes (larger).")


class DeleteDataVolume(ApiRequest[VolumeDeleted]):
    """Delete a data volume: detached if attached, its bits deleted by the agent, its
    capacity and quotas given back with its row."""

    api = ApiSpec("delete", "volumes", "Volume", "Delete a data volume")
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


SnapshotStatusName = Literal["Creating", "Ready", "Reverting", "Deleting", "Deleted"]


class VolumeSnapshotInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The snapshot's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    volumeUuid: str = Field(description="The volume it is a snapshot of.")
    volumeType: Literal["Root", "Data"] = Field(description="That volume's type.")
    primaryStorageUuid: str | None = Field(description="The primary storage it is on.")
    size: int = Field(description="Bytes it holds on its storage (the volume's size).")
    installPath: str | None = Field(description="Where its bits are on the storage.")
    format: str = Field(description="Disk format.")
    status: SnapshotStatusName = Field(
        description="Ready, Deleted, or the transitional status of the operation running."
    )
    ownerAccountUuid: str = Field(description="Owner account.")
    createDate: datetime = Field(description="When it was taken.")
    lastOpDate: datetime = Field(description="When it last changed.")


class VolumeSnapshotReply(Reply):
    inventory: VolumeSnapshotInventory


class VolumeSnapshotDeleted(Reply):
    deleted: list[str] = Field(default_factory=list, description="Types deleted, leaves first.")


class CreateVolumeSnapshot(ApiRequest[VolumeSnapshotReply]):
    """Snapshot a Ready volume (yours): its size is reserved on its primary storage and
    ``snapshot.volume.num`` consumed, then its host's agent takes the snapshot. A failure
    gives both back and leaves no snapshot."""

    api = ApiSpec("create", "volume-snapshots", "VolumeSnapshot", "Snapshot a volume")
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "snap1", "volumeUuid": "<volume uuid>"}]}
    )

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    name: str = Field(min_length=1, max_length=255, description="Name of the snapshot.")
    description: str = Field(default="", max_length=2048, description="Free text.")
    volumeUuid: str = uuid_ref("The volume (Ready).")


class RevertVolumeFromSnapshot(ApiRequest[VolumeSnapshotReply]):
    """Put the snapshot's volume back to it; the VM the volume is attached to must be
    Stopped (else 409 naming its state)."""

    api = ApiSpec(
        "action",
        "volume-snapshots",
        "VolumeSnapshot",
        "Revert a volume to a snapshot",
        action="revert",
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class DeleteVolumeSnapshot(ApiRequest[VolumeSnapshotDeleted]):
    """Delete a snapshot: its bits deleted by the agent, its capacity and quota given
    back with its row."""

    api = ApiSpec("delete", "volume-snapshots", "VolumeSnapshot", "Delete a volume snapshot")
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


API_MESSAGES = (
    CreateDataVolume,
    AttachDataVolumeToVm,
    DetachDataVolumeFromVm,
    ResizeDataVolume,
    DeleteDataVolume,
    CreateVolumeSnapshot,
    RevertVolumeFromSnapshot,
    DeleteVolumeSnapshot,
)
