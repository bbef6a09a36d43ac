"""Storage API messages and inventories (``/v1/primary-storage``, ``/v1/backup-storage``).

Field and API names follow ZStack's. Storage is infrastructure: every write is admin-only
and so are the reads. One create per primary storage type (``ApiSpec(variant=...)``), as
the L2 networks have.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from mgmt.core.api import ApiRequest, ApiSpec, DeleteMode, delete_mode, uuid_ref
from mgmt.core.messages import Reply

PrimaryStorageType = Literal["LocalStorage", "NFS", "SharedMountPoint"]
StorageState = Literal["Enabled", "Disabled"]
PrimaryStorageStatus = Literal["Connecting", "Connected", "Disconnected"]
BackupStorageStatus = Literal["Connecting", "Connected", "Disconnected"]

_UUID = Field(default="", max_length=64, description="Optional UUID to use.")
_DELETE_EXAMPLE = ConfigDict(json_schema_extra={"examples": [{"deleteMode": "Permissive"}]})
_STATE_EXAMPLE = ConfigDict(json_schema_extra={"examples": [{"stateEvent": "disable"}]})
_CLUSTER_EXAMPLE = ConfigDict(json_schema_extra={"examples": [{"clusterUuid": "<cluster uuid>"}]})
_ZONE_EXAMPLE = ConfigDict(json_schema_extra={"examples": [{"zoneUuid": "<zone uuid>"}]})


# -- inventories ---------------------------------------------------------------------------


class PrimaryStorageInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The primary storage's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    zoneUuid: str = Field(description="The zone it is in.")
    type: PrimaryStorageType = Field(description="LocalStorage, NFS or SharedMountPoint.")
    url: str = Field(description="Where it is: a local path, host:/export, a mount point.")
    state: StorageState = Field(description="Enabled or Disabled (no new volumes).")
    status: PrimaryStorageStatus = Field(description="Connected once its hosts reach it.")
    totalCapacity: int = Field(description="Bytes volumes may use (the counter's total).")
    availableCapacity: int = Field(description="Bytes not reserved (the counter).")
    totalPhysicalCapacity: int = Field(description="Bytes the hosts reported.")
    availablePhysicalCapacity: int = Field(description="Bytes free, as the hosts reported.")
    attachedClusterUuids: list[str] = Field(description="Clusters whose hosts use it.")
    createDate: datetime = Field(description="When it was added.")
    lastOpDate: datetime = Field(description="When it last changed.")


class BackupStorageInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The backup storage's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    type: Literal["ImageStore"] = Field(description="ImageStore.")
    url: str = Field(description="The directory images are kept in.")
    hostname: str = Field(description="The machine its agent runs on.")
    state: StorageState = Field(description="Enabled or Disabled (no new images).")
    status: BackupStorageStatus = Field(description="Connected when its agent answered.")
    totalCapacity: int = Field(description="Bytes it has (the counter's total).")
    availableCapacity: int = Field(description="Bytes not reserved by images (the counter).")
    attachedZoneUuids: list[str] = Field(description="Zones its images are usable in.")
    createDate: datetime = Field(description="When it was added.")
    lastOpDate: datetime = Field(description="When it last changed.")


class PrimaryStorageReply(Reply):
    inventory: PrimaryStorageInventory


class BackupStorageReply(Reply):
    inventory: BackupStorageInventory


class StorageDeleted(Reply):
    deleted: list[str] = Field(default_factory=list, description="Types deleted, leaves first.")


# -- primary storage -------------------------------------------------------------------------


class _AddPrimaryStorage(ApiRequest[PrimaryStorageReply]):
    """What every primary storage is added with."""

    #: the type this API adds (not a body field: each type has its API)
    ps_type: ClassVar[str]

    resourceUuid: str = _UUID
    zoneUuid: str = uuid_ref("The zone it goes in.")
    name: str = Field(min_length=1, max_length=255, description="Name of the primary storage.")
    description: str = Field(default="", max_length=2048, description="Free text.")


def _ps_example(url: str) -> ConfigDict:
    return ConfigDict(
        json_schema_extra={"examples": [{"name": "ps-1", "zoneUuid": "<zone uuid>", "url": url}]}
    )


def _spec(summary: str, variant: str) -> ApiSpec:
    return ApiSpec(
        "create", "primary-storage", "PrimaryStorage", summary, variant=variant, admin_only=True
    )


class AddLocalPrimaryStorage(_AddPrimaryStorage):
    """Add a LocalStorage primary storage: the local disk of every host of the clusters it
    is attached to, under ``url``; its capacity is the sum of those hosts' disks."""

    api = _spec("Add a LocalStorage primary storage", "local")
    model_config = _ps_example("/var/lib/zcloud/local")
    ps_type = "LocalStorage"

    url: str = Field(
        min_length=2, max_length=1024, pattern=r"^/\S*$", description="An absolute path."
    )


class AddNfsPrimaryStorage(_AddPrimaryStorage):
    """Add an NFS primary storage (``url`` ``host:/export``); it is Connected, with the
    export's capacity, once the hosts of a cluster it is attached to mounted it."""

    api = _spec("Add an NFS primary storage", "nfs")
    model_config = _ps_example("127.0.0.1:/export/zcloud")
    ps_type = "NFS"

    url: str = Field(
        min_length=3,
        max_length=1024,
        pattern=r"^[A-Za-z0-9.:\[\]-]+:/\S*$",
        description="host:/export.",
    )


class AddSharedMountPointPrimaryStorage(_AddPrimaryStorage):
    """Add a SharedMountPoint primary storage: a path every host of its clusters has
    mounted already (a cluster file system); Connected once they reported it."""

    api = _spec("Add a SharedMountPoint primary storage", "shared-mount-point")
    model_config = _ps_example("/mnt/shared")
    ps_type = "SharedMountPoint"

    url: str = Field(
        min_length=2, max_length=1024, pattern=r"^/\S*$", description="The mount point."
    )


AddPrimaryStorage = (
    AddLocalPrimaryStorage | AddNfsPrimaryStorage | AddSharedMountPointPrimaryStorage
)


class UpdatePrimaryStorage(ApiRequest[PrimaryStorageReply]):
    """Change a primary storage's name or description."""

    api = ApiSpec(
        "update", "primary-storage", "PrimaryStorage", "Update a primary storage", admin_only=True
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "ps-renamed"}]})

    name: str | None = Field(default=None, min_length=1, max_length=255, description="New name.")
    description: str | None = Field(default=None, max_length=2048, description="New text.")


class DeletePrimaryStorage(ApiRequest[StorageDeleted]):
    """Delete a primary storage (its cluster attachments and capacity go with it)."""

    api = ApiSpec(
        "delete", "primary-storage", "PrimaryStorage", "Delete a primary storage", admin_only=True
    )
    model_config = _DELETE_EXAMPLE

    deleteMode: DeleteMode = delete_mode()


class ChangePrimaryStorageState(ApiRequest[PrimaryStorageReply]):
    """Enable or disable a primary storage (a disabled one gets no new volumes)."""

    api = ApiSpec(
        "action",
        "primary-storage",
        "PrimaryStorage",
        "Change a primary storage's state",
        action="change-state",
        admin_only=True,
    )
    model_config = _STATE_EXAMPLE

    stateEvent: Literal["enable", "disable"] = Field(description="enable or disable.")


class AttachPrimaryStorageToCluster(ApiRequest[PrimaryStorageReply]):
    """Attach the primary storage to a cluster of its zone. NFS and SharedMountPoint: every
    host of the cluster mounts it first (one that fails fails the attach, and the hosts
    that mounted it unmount it). LocalStorage: the cluster's hosts' disks join its
    capacity."""

    api = ApiSpec(
        "action",
        "primary-storage",
        "PrimaryStorage",
        "Attach a primary storage to a cluster",
        action="attach-cluster",
        admin_only=True,
    )
    model_config = _CLUSTER_EXAMPLE

    clusterUuid: str = uuid_ref("A cluster of its zone.")


class DetachPrimaryStorageFromCluster(ApiRequest[PrimaryStorageReply]):
    """Detach the primary storage from a cluster: refused (409, with the reasons) while
    the ``primary-storage.detach-check`` observers name volumes in use on it."""

    api = ApiSpec(
        "action",
        "primary-storage",
        "PrimaryStorage",
        "Detach a primary storage from a cluster",
        action="detach-cluster",
        admin_only=True,
    )
    model_config = _CLUSTER_EXAMPLE

    clusterUuid: str = uuid_ref("An attached cluster.")


# -- backup storage --------------------------------------------------------------------------


class AddImageStoreBackupStorage(ApiRequest[BackupStorageReply]):
    """Add an ImageStore backup storage: its agent on ``hostname`` keeps images under
    ``url``. The agent is connected before the reply; a failed connect leaves nothing."""

    api = ApiSpec(
        "create",
        "backup-storage",
        "BackupStorage",
        "Add an ImageStore backup storage",
        variant="image-store",
        admin_only=True,
    )
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "bs-1", "url": "/zcloud/images", "hostname": "127.0.0.1"}]
        }
    )
    bs_type: ClassVar[str] = "ImageStore"

    resourceUuid: str = _UUID
    name: str = Field(min_length=1, max_length=255, description="Name of the backup storage.")
    description: str = Field(default="", max_length=2048, description="Free text.")
    url: str = Field(
        min_length=2, max_length=1024, pattern=r"^/\S*$", description="Its image directory."
    )
    hostname: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9.:-]*$",
        description="The machine its agent runs on (address or DNS name).",
    )


class UpdateBackupStorage(ApiRequest[BackupStorageReply]):
    """Change a backup storage's name or description."""

    api = ApiSpec(
        "update", "backup-storage", "BackupStorage", "Update a backup storage", admin_only=True
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "bs-renamed"}]})

    name: str | None = Field(default=None, min_length=1, max_length=255, description="New name.")
    description: str | None = Field(default=None, max_length=2048, description="New text.")


class DeleteBackupStorage(ApiRequest[StorageDeleted]):
    """Delete a backup storage (its zone attachments go with it; images keep their other
    backup storages)."""

    api = ApiSpec(
        "delete", "backup-storage", "BackupStorage", "Delete a backup storage", admin_only=True
    )
    model_config = _DELETE_EXAMPLE

    deleteMode: DeleteMode = delete_mode()


def _bs_action(summary: str, action: str) -> ApiSpec:
    return ApiSpec(
        "action", "backup-storage", "BackupStorage", summary, action=action, admin_only=True
    )


class ReconnectBackupStorage(ApiRequest[BackupStorageReply]):
    """Connect the agent again (capacity read anew); a failure leaves it Disconnected."""

    api = _bs_action("Reconnect a backup storage", "reconnect")
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class ChangeBackupStorageState(ApiRequest[BackupStorageReply]):
    """Enable or disable a backup storage (a disabled one takes no new images)."""

    api = _bs_action("Change a backup storage's state", "change-state")
    model_config = _STATE_EXAMPLE

    stateEvent: Literal["enable", "disable"] = Field(description="enable or disable.")


class AttachBackupStorageToZone(ApiRequest[BackupStorageReply]):
    """Make the backup storage's images usable in a zone."""

    api = _bs_action("Attach a backup storage to a zone", "attach-zone")
    model_config = _ZONE_EXAMPLE

    zoneUuid: str = uuid_ref("The zone.")


class DetachBackupStorageFromZone(ApiRequest[BackupStorageReply]):
    """Stop using the backup storage in a zone."""

    api = _bs_action("Detach a backup storage from a zone", "detach-zone")
    model_config = _ZONE_EXAMPLE

    zoneUuid: str = uuid_ref("An attached zone.")


def state_event_target(event: str) -> str:
    return "Enabled" if event == "enable" else "Disabled"


API_MESSAGES: tuple[type[ApiRequest[Any]], ...] = (
    AddLocalPrimaryStorage,
    AddNfsPrimaryStorage,
    AddSharedMountPointPrimaryStorage,
    UpdatePrimaryStorage,
    DeletePrimaryStorage,
    ChangePrimaryStorageState,
    AttachPrimaryStorageToCluster,
    DetachPrimaryStorageFromCluster,
    AddImageStoreBackupStorage,
    UpdateBackupStorage,
    DeleteBackupStorage,
    ReconnectBackupStorage,
    ChangeBackupStorageState,
    AttachBackupStorageToZone,
    DetachBackupStorageFromZone,
)
