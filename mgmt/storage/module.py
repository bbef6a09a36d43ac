"""The storage service modules: primary storage and backup storage, their flows, the
host filter and the capacity plugins."""

from __future__ import annotations

from collections.abc import Sequence

from mgmt.allocator import HOST_FILTERS
from mgmt.core.cascade import CASCADE_OBSERVERS, CASCADE_RELEASES
from mgmt.core.counters import COUNTER_SOURCES
from mgmt.core.module import BaseParts, PluginParts, ServiceModule
from mgmt.core.plugins import Extension, Plugin
from mgmt.host import HOST_CONNECT_EXTENSIONS, HOST_OBSERVERS
from mgmt.storage.backup import BackupStorageService
from mgmt.storage.capacity import (
    PS_CAPACITY,
    LocalStorageFollowsHosts,
    PrimaryStorageCapacitySource,
)
from mgmt.storage.filter import PrimaryStorageFilter
from mgmt.storage.flows.join import SharedStorageOnJoin
from mgmt.storage.flows.mount import PrimaryStorageRelease
from mgmt.storage.messages import (
    AddImageStoreBackupStorage,
    AddLocalPrimaryStorage,
    AddNfsPrimaryStorage,
    AddSharedMountPointPrimaryStorage,
    AttachBackupStorageToZone,
    AttachPrimaryStorageToCluster,
    ChangeBackupStorageState,
    ChangePrimaryStorageState,
    DeleteBackupStorage,
    DeletePrimaryStorage,
    DetachBackupStorageFromZone,
    DetachPrimaryStorageFromCluster,
    ReconnectBackupStorage,
    UpdateBackupStorage,
    UpdatePrimaryStorage,
)
from mgmt.storage.primary import PrimaryStorageService
from mgmt.storage.resources import BACKUP_STORAGE, PRIMARY_STORAGE


class StoragePlugin:
    """LocalStorage capacity follows its hosts; the counter source; the
    unmount of a deleted shared primary storage; a joining host mounts the shared ones."""

    name = "storage"

    def __init__(self, parts: PluginParts) -> None:
        self._release = PrimaryStorageRelease(parts.agents)
        self._join = SharedStorageOnJoin(parts.agents, parts.db)
        self._plugins = parts.plugins

    def extensions(self) -> Sequence[Extension]:
        follows = LocalStorageFollowsHosts()
        return [
            Extension(CASCADE_RELEASES, self._release, type="PrimaryStorage"),
            Extension(HOST_CONNECT_EXTENSIONS, self._join),
            Extension(
                COUNTER_SOURCES, PrimaryStorageCapacitySource(self._plugins), type=PS_CAPACITY
            ),
            Extension(HOST_OBSERVERS, follows),
            Extension(CASCADE_OBSERVERS, follows),
        ]


class StorageFilterPlugin:
    """The primary storage host filter: a read plugin, so frontends' candidates read runs
    it as nodes' allocations do."""

    name = "storage.host-filter"

    def extensions(self) -> Sequence[Extension]:
        return [Extension(HOST_FILTERS, PrimaryStorageFilter())]


def _plugins(parts: PluginParts) -> Sequence[Plugin]:
    return (StoragePlugin(parts),)


def _read_plugins(parts: BaseParts) -> Sequence[Plugin]:
    return (StorageFilterPlugin(),)


PRIMARY_STORAGE_MODULE = ServiceModule(
    "primary-storage",
    apis=(
        AddLocalPrimaryStorage,
        AddNfsPrimaryStorage,
        AddSharedMountPointPrimaryStorage,
        UpdatePrimaryStorage,
        DeletePrimaryStorage,
        ChangePrimaryStorageState,
        AttachPrimaryStorageToCluster,
        DetachPrimaryStorageFromCluster,
    ),
    resources=(PRIMARY_STORAGE,),
    service=PrimaryStorageService,
    plugins=_plugins,
    read_plugins=_read_plugins,
)

BACKUP_STORAGE_MODULE = ServiceModule(
    "backup-storage",
    apis=(
        AddImageStoreBackupStorage,
        UpdateBackupStorage,
        DeleteBackupStorage,
        ReconnectBackupStorage,
        ChangeBackupStorageState,
        AttachBackupStorageToZone,
        DetachBackupStorageFromZone,
    ),
    resources=(BACKUP_STORAGE,),
    service=BackupStorageService,
)
