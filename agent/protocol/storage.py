"""Storage commands: primary storage mounted on a host (through that host's agent) and an
ImageStore backup storage (its own agent): connect, download an image, its progress,
delete it."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agent.protocol.base import AgentCommand, AgentReply


class StorageCapacityReply(AgentReply):
    totalCapacity: int = Field(default=0, description="Bytes the storage has.")
    availableCapacity: int = Field(default=0, description="Bytes free on it.")


class MountPrimaryStorage(AgentCommand):
    """A host mounts a shared primary storage (NFS: ``url`` is ``host:/export``;
    SharedMountPoint: ``url`` is a path the host has mounted already) under ``mountPath``
    and reports its size. Idempotent: mounting again reports the size again."""

    path: ClassVar[str] = "/primary-storage/mount"
    reply_type: ClassVar[type[AgentReply]] = StorageCapacityReply
    hostUuid: str
    primaryStorageUuid: str
    type: str
    url: str
    mountPath: str


class UnmountPrimaryStorage(AgentCommand):
    """The host lets go of the primary storage (not mounted: nothing to do)."""

    path: ClassVar[str] = "/primary-storage/unmount"
    reply_type: ClassVar[type[AgentReply]] = AgentReply
    hostUuid: str
    primaryStorageUuid: str
    mountPath: str


class ConnectBackupStorage(AgentCommand):
    """The backup storage's agent takes it: checks ``url`` (its directory) and reports
    the capacity."""

    path: ClassVar[str] = "/backup-storage/connect"
    reply_type: ClassVar[type[AgentReply]] = StorageCapacityReply
    backupStorageUuid: str
    url: str
    hostname: str


class DownloadImageReply(AgentReply):
    installPath: str = ""
    size: int = Field(default=0, description="Bytes downloaded (the image's virtual size).")
    actualSize: int = Field(default=0, description="Bytes it takes on the backup storage.")
    md5Sum: str = ""
    #: on failure: the HTTP status of the URL, if it answered one
    httpStatus: int | None = None


class DownloadImage(AgentCommand):
    """Download ``url`` (http/https) to ``installPath``; the reply has its size and md5."""

    path: ClassVar[str] = "/backup-storage/image/download"
    reply_type: ClassVar[type[AgentReply]] = DownloadImageReply
    backupStorageUuid: str
    imageUuid: str
    url: str
    installPath: str
    format: str = "qcow2"


class DownloadProgressReply(AgentReply):
    imageUuid: str = ""
    downloadedBytes: int = 0
    #: -1 while the size is unknown (no Content-Length)
    totalBytes: int = -1
    percent: int = 0


class DownloadProgress(AgentCommand):
    """How far a download is (sync, cheap; an unknown image is 0 %)."""

    path: ClassVar[str] = "/backup-storage/image/progress"
    reply_type: ClassVar[type[AgentReply]] = DownloadProgressReply
    is_async: ClassVar[bool] = False
    backupStorageUuid: str
    imageUuid: str


class DeleteImageBits(AgentCommand):
    """Remove an image from the backup storage (absent: nothing to do)."""

    path: ClassVar[str] = "/backup-storage/image/delete"
    reply_type: ClassVar[type[AgentReply]] = AgentReply
    backupStorageUuid: str
    imageUuid: str
    installPath: str
