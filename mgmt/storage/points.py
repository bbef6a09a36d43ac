"""The storage service's extension points.

- ``PRIMARY_STORAGE_DETACH_CHECKS`` (observer): may a primary storage leave a cluster?
  The volume service answers "not while volumes on it are in use there".
- ``PRIMARY_STORAGE_HOLDERS`` (observer): which capacity reservations on a primary
  storage are held by rows (the volume service: its volumes' and snapshots'); the
  capacity counter's recalculation counts those.
- ``BACKUP_STORAGE_BACKENDS`` (strategy by backup storage type): where a backup storage's
  agent is (the Simulator's ImageStore answers through the simulator agent).

Primary storage of a shared kind (NFS, SharedMountPoint) is reached through a host's
agent, which the host service's ``HOST_BACKENDS`` names: no point of its own is needed.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.plugins import ExtensionPoint, Kind


class PrimaryStorageDetachCheck(Protocol):
    """Asked before a primary storage is detached from a cluster."""

    async def detach_refusals(
        self, session: AsyncSession, primary_storage_uuid: str, cluster_uuid: str
    ) -> list[str]:
        """Reasons the detach must not happen (volumes in use …); empty: no objection.
        Read-only, in the detach's transaction; an exception fails the detach."""
        ...


PRIMARY_STORAGE_DETACH_CHECKS: ExtensionPoint[PrimaryStorageDetachCheck] = ExtensionPoint(
    "primary-storage.detach-check",
    PrimaryStorageDetachCheck,
    Kind.OBSERVER,
    "Every check, in registration order, in the detach's transaction; any reason refuses "
    "the detach with 409 naming all of them; an exception fails it.",
)


class PrimaryStorageHolder(Protocol):
    """Something whose rows hold capacity on primary storage."""

    async def reservations_on(self, session: AsyncSession, primary_storage_uuid: str) -> Set[str]:
        """The ids of the counter reservations its rows record on that storage. Read-only,
        in the recalculation's transaction (the counter row locked), so rows changed in
        the transactions of their reservations are seen as they commit."""
        ...


PRIMARY_STORAGE_HOLDERS: ExtensionPoint[PrimaryStorageHolder] = ExtensionPoint(
    "primary-storage.holder",
    PrimaryStorageHolder,
    Kind.OBSERVER,
    "Every holder, when ``primaryStorage.capacity`` is recalculated: used is what the "
    "reservations they name hold (none registered: every live reservation); an exception "
    "aborts that storage's recalculation.",
)


@dataclass(frozen=True)
class BackupStorageAccess:
    backupStorageUuid: str
    type: str
    hostname: str
    url: str


class BackupStorageBackend(Protocol):
    """One backup storage type's way to its agent."""

    def agent_url(self, storage: BackupStorageAccess) -> str:
        """The agent's base URL (commands are POSTed under it)."""
        ...


BACKUP_STORAGE_BACKENDS: ExtensionPoint[BackupStorageBackend] = ExtensionPoint(
    "backup-storage.backend",
    BackupStorageBackend,
    Kind.STRATEGY,
    "Picked by the backup storage's type for every command to its agent (connect, image "
    "download and delete); an exception fails the flow step that called it.",
)
