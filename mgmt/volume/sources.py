"""What the image service reads of a volume or a snapshot it makes an image from
(through ``mgmt.volume``): which volume, its type, the bytes to copy and the host whose
agent reaches them. A NotInstantiated volume (or an empty snapshot of one) has no bits:
its image is empty."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api import ApiCodes, CallerContext, conflict_field, not_found
from mgmt.core.errors import PermanentError, error
from mgmt.volume.models import VolumeRow, VolumeSnapshotRow
from mgmt.volume.resources import VOLUME, VOLUME_SNAPSHOT
from mgmt.volume.states import SnapshotStatus, VolumeStatus


@dataclass(frozen=True)
class ImageSource:
    volume_uuid: str
    snapshot_uuid: str
    #: Root or Data
    volume_type: str
    #: bytes to copy (0: nothing, an empty image)
    size: int
    format: str
    host_uuid: str | None


def _missing(kind: str, uuid: str, field: str) -> PermanentError:
    found = not_found(kind, uuid, field=field)
    return PermanentError(error(ApiCodes.INVALID_ARGUMENT, found.details, **found.extra))


async def image_source(
    s: AsyncSession, caller: CallerContext, *, volume_uuid: str | None, snapshot_uuid: str | None
) -> ImageSource:
    """The source an image create names (one of the two): the caller's own, else 400
    naming the field; in a state with bits to copy (Ready) or none yet, else 409."""
    if snapshot_uuid is not None:
        snap = await s.get(VolumeSnapshotRow, snapshot_uuid)
        if snap is None or not VOLUME_SNAPSHOT.may_act(caller, snap):
            raise _missing("VolumeSnapshot", snapshot_uuid, "volumeSnapshotUuid")
        if snap.state != SnapshotStatus.READY:
            raise conflict_field("volumeSnapshotUuid", f"snapshot {snap.uuid} is {snap.state}")
        volume = await s.get(VolumeRow, snap.volume_uuid)
        host = volume.host_uuid if volume is not None else None
        return ImageSource(
            snap.volume_uuid, snap.uuid, snap.volume_type, snap.size, snap.format, host
        )
    assert volume_uuid is not None
    row = await s.get(VolumeRow, volume_uuid)
    if row is None or not VOLUME.may_act(caller, row):
        raise _missing("Volume", volume_uuid, "volumeUuid")
    if row.state not in (VolumeStatus.READY, VolumeStatus.NOT_INSTANTIATED):
        raise conflict_field("volumeUuid", f"volume {row.uuid} is {row.state}")
    size = row.size if row.primary_storage_uuid is not None else 0
    return ImageSource(row.uuid, "", row.type, size, row.format, row.host_uuid)
