"""Volume service: root volumes (recorded by the VM service's create step) and data
volumes — create, attach, detach, resize and delete, each a durable flow of named steps
under the volume state machine. Public surface: its messages, inventory and what the VM
service does with volumes (``roots``) and what the image service reads of the volumes and
snapshots it makes images from (``sources``)."""

from mgmt.volume.messages import (
    API_MESSAGES,
    AttachDataVolumeToVm,
    CreateDataVolume,
    DeleteDataVolume,
    DetachDataVolumeFromVm,
    ResizeDataVolume,
    VolumeDeleted,
    VolumeInventory,
    VolumeReply,
)
from mgmt.volume.roots import (
    RootVolume,
    add_root_volume,
    remove_root_volume,
    root_volume_uuid,
    vm_volumes_gone,
    volumes_of,
)
from mgmt.volume.sources import ImageSource, image_source

__all__ = [
    "API_MESSAGES",
    "AttachDataVolumeToVm",
    "CreateDataVolume",
    "DeleteDataVolume",
    "DetachDataVolumeFromVm",
    "ImageSource",
    "ResizeDataVolume",
    "RootVolume",
    "VolumeDeleted",
    "VolumeInventory",
    "VolumeReply",
    "add_root_volume",
    "image_source",
    "remove_root_volume",
    "root_volume_uuid",
    "vm_volumes_gone",
    "volumes_of",
]
