"""Storage service: primary storage (LocalStorage, NFS, SharedMountPoint) and backup
storage (ImageStore). Public surface: its messages and inventories, its extension points
(``PRIMARY_STORAGE_DETACH_CHECKS``, ``PRIMARY_STORAGE_HOLDERS``,
``BACKUP_STORAGE_BACKENDS``), the capacity counter names and what other services read
of storage (``backup_storages``; ``root_volume_storages``: where a VM's root volume may go
on a host, and the counters it reserves there;
``primary_storage_clusters``: the clusters whose hosts reach a storage)."""

from mgmt.storage.capacity import BS_CAPACITY, PS_CAPACITY
from mgmt.storage.messages import (
    API_MESSAGES,
    AddImageStoreBackupStorage,
    AddLocalPrimaryStorage,
    AddNfsPrimaryStorage,
    AddSharedMountPointPrimaryStorage,
    BackupStorageInventory,
    PrimaryStorageInventory,
)
from mgmt.storage.points import (
    BACKUP_STORAGE_BACKENDS,
    PRIMARY_STORAGE_DETACH_CHECKS,
    PRIMARY_STORAGE_HOLDERS,
    BackupStorageAccess,
    BackupStorageBackend,
    PrimaryStorageDetachCheck,
    PrimaryStorageHolder,
)
from mgmt.storage.reads import (
    BackupStorageRef,
    RootVolumeStorage,
    backup_storages,
    primary_storage_clusters,
    root_volume_storages,
)

__all__ = [
    "API_MESSAGES",
    "BACKUP_STORAGE_BACKENDS",
    "BS_CAPACITY",
    "PRIMARY_STORAGE_DETACH_CHECKS",
    "PRIMARY_STORAGE_HOLDERS",
    "PS_CAPACITY",
    "AddImageStoreBackupStorage",
    "AddLocalPrimaryStorage",
    "AddNfsPrimaryStorage",
    "AddSharedMountPointPrimaryStorage",
    "BackupStorageAccess",
    "BackupStorageBackend",
    "BackupStorageInventory",
    "BackupStorageRef",
    "PrimaryStorageDetachCheck",
    "PrimaryStorageHolder",
    "PrimaryStorageInventory",
    "RootVolumeStorage",
    "backup_storages",
    "primary_storage_clusters",
    "root_volume_storages",
]
