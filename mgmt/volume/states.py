"""The volume state machine (``mgmt/core/states``): a volume's lifecycle, shown as
``status`` in its inventory. A data volume is NotInstantiated until its bits exist on a
primary storage (its first attach, or a create naming the storage), then Ready; every
operation holds its transitional state while its flow runs and leaves it however the flow
ends (a failure returns to where it began). An operation not allowed now is a 409 naming
the status and the operations allowed."""

from __future__ import annotations

from enum import StrEnum

from mgmt.core.states import Operation, StateMachine
from mgmt.volume.models import VolumeRow, VolumeSnapshotRow


class VolumeStatus(StrEnum):
    NOT_INSTANTIATED = "NotInstantiated"
    CREATING = "Creating"
    READY = "Ready"
    ATTACHING = "Attaching"
    DETACHING = "Detaching"
    RESIZING = "Resizing"
    DELETING = "Deleting"
    DELETED = "Deleted"


INSTANTIATE = "instantiate"
ATTACH = "attach"
DETACH = "detach"
RESIZE = "resize"
DELETE = "delete"

VOLUME_STATES = StateMachine(
    "Volume",
    VolumeStatus,
    model=VolumeRow,
    transitional={
        VolumeStatus.CREATING,
        VolumeStatus.ATTACHING,
        VolumeStatus.DETACHING,
        VolumeStatus.RESIZING,
        VolumeStatus.DELETING,
    },
    operations=[
        # a create naming a primary storage holds the new row with this one (by insertion)
        Operation(
            INSTANTIATE,
            {VolumeStatus.NOT_INSTANTIATED},
            transitional=VolumeStatus.CREATING,
            success=VolumeStatus.READY,
        ),
        Operation(
            ATTACH,
            {VolumeStatus.NOT_INSTANTIATED, VolumeStatus.READY},
            transitional=VolumeStatus.ATTACHING,
            success=VolumeStatus.READY,
        ),
        Operation(
            DETACH,
            {VolumeStatus.READY},
            transitional=VolumeStatus.DETACHING,
            success=VolumeStatus.READY,
        ),
        Operation(
            RESIZE,
            {VolumeStatus.READY},
            transitional=VolumeStatus.RESIZING,
            success=VolumeStatus.READY,
        ),
        Operation(
            DELETE,
            {
                VolumeStatus.NOT_INSTANTIATED,
                VolumeStatus.READY,
                VolumeStatus.DELETED,  # a delete whose row removal did not happen: again
            },
            transitional=VolumeStatus.DELETING,
            success=VolumeStatus.DELETED,
        ),
    ],
)


class SnapshotStatus(StrEnum):
    CREATING = "Creating"
    READY = "Ready"
    REVERTING = "Reverting"
    DELETING = "Deleting"
    DELETED = "Deleted"


TAKE = "take"
REVERT = "revert"

#: a snapshot's create flow inserts it held by ``take`` (Creating); ``take`` may not begin
#: otherwise (it is allowed from Deleted only for the declaration: nothing begins it)
SNAPSHOT_STATES = StateMachine(
    "VolumeSnapshot",
    SnapshotStatus,
    model=VolumeSnapshotRow,
    transitional={SnapshotStatus.CREATING, SnapshotStatus.REVERTING, SnapshotStatus.DELETING},
    operations=[
        Operation(
            TAKE,
            {SnapshotStatus.DELETED},
            transitional=SnapshotStatus.CREATING,
            success=SnapshotStatus.READY,
        ),
        Operation(
            REVERT,
            {SnapshotStatus.READY},
            transitional=SnapshotStatus.REVERTING,
            success=SnapshotStatus.READY,
        ),
        Operation(
            DELETE,
            {SnapshotStatus.READY, SnapshotStatus.DELETED},
            transitional=SnapshotStatus.DELETING,
            success=SnapshotStatus.DELETED,
        ),
    ],
)
