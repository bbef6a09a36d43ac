"""Volume and snapshot commands, run by the agent of a host that reaches the volume's
primary storage (a LocalStorage volume: the host whose disk holds it). All async: the
reply comes to the callback URL. Deletes and detaches of something the agent does not
have succeed (idempotent), so a rollback or a retry may send them again."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agent.protocol.base import AgentCommand, AgentReply


class CreateVolumeReply(AgentReply):
    installPath: str = ""
    actualSize: int = 0


class CreateVolume(AgentCommand):
    """Make an empty volume of ``size`` bytes on the primary storage (again: the same)."""

    path: ClassVar[str] = "/volume/create"
    reply_type: ClassVar[type[AgentReply]] = CreateVolumeReply
    volumeUuid: str
    primaryStorageUuid: str
    size: int = Field(ge=1)
    format: str = "qcow2"


class DeleteVolumeReply(AgentReply):
    pass


class DeleteVolume(AgentCommand):
    """Delete a volume's bits and its snapshots' (unknown: success)."""

    path: ClassVar[str] = "/volume/delete"
    reply_type: ClassVar[type[AgentReply]] = DeleteVolumeReply
    volumeUuid: str


class AttachVolumeReply(AgentReply):
    pass


class AttachVolume(AgentCommand):
    """Plug a volume into a VM running on this host as disk ``deviceId``; fails with
    errorCode VM_NOT_FOUND when the VM is not here."""

    path: ClassVar[str] = "/volume/attach"
    reply_type: ClassVar[type[AgentReply]] = AttachVolumeReply
    vmUuid: str
    volumeUuid: str
    installPath: str = ""
    deviceId: int = Field(ge=1)


class DetachVolumeReply(AgentReply):
    pass


class DetachVolume(AgentCommand):
    """Unplug a volume from a VM on this host (not plugged: success)."""

    path: ClassVar[str] = "/volume/detach"
    reply_type: ClassVar[type[AgentReply]] = DetachVolumeReply
    vmUuid: str
    volumeUuid: str


class ResizeVolumeReply(AgentReply):
    size: int = 0


class ResizeVolume(AgentCommand):
    """Grow a volume to ``size`` bytes (never shrinks; errorCode VOLUME_NOT_FOUND when
    the agent does not have it)."""

    path: ClassVar[str] = "/volume/resize"
    reply_type: ClassVar[type[AgentReply]] = ResizeVolumeReply
    volumeUuid: str
    size: int = Field(ge=1)


class CreateSnapshotReply(AgentReply):
    installPath: str = ""
    size: int = 0


class CreateSnapshot(AgentCommand):
    """Snapshot a volume the agent has (again: the same snapshot)."""

    path: ClassVar[str] = "/volume/snapshot/create"
    reply_type: ClassVar[type[AgentReply]] = CreateSnapshotReply
    volumeUuid: str
    snapshotUuid: str


class DeleteSnapshotReply(AgentReply):
    pass


class DeleteSnapshot(AgentCommand):
    """Delete a snapshot's bits (unknown: success)."""

    path: ClassVar[str] = "/volume/snapshot/delete"
    reply_type: ClassVar[type[AgentReply]] = DeleteSnapshotReply
    volumeUuid: str
    snapshotUuid: str


class RevertSnapshotReply(AgentReply):
    size: int = 0


class RevertSnapshot(AgentCommand):
    """Put a volume back to a snapshot of it (its VM is stopped; errorCode
    SNAPSHOT_NOT_FOUND when the agent does not have the snapshot)."""

    path: ClassVar[str] = "/volume/snapshot/revert"
    reply_type: ClassVar[type[AgentReply]] = RevertSnapshotReply
    volumeUuid: str
    snapshotUuid: str


class UploadVolumeReply(AgentReply):
    installPath: str = ""
    size: int = 0
    actualSize: int = 0
    md5Sum: str = ""


class UploadVolume(AgentCommand):
    """Copy a volume (or a snapshot of it, ``snapshotUuid``) to a backup storage as image
    ``imageUuid`` at ``installPath`` (again: the same copy)."""

    path: ClassVar[str] = "/volume/upload"
    reply_type: ClassVar[type[AgentReply]] = UploadVolumeReply
    volumeUuid: str
    snapshotUuid: str = ""
    imageUuid: str
    backupStorageUuid: str
    installPath: str
    size: int = Field(ge=1)
