"""Image service: images downloaded into backup storage. Public surface: its messages
and inventory, and what other services read of an image (``image_disk``)."""

from mgmt.image.messages import (
    API_MESSAGES,
    AddImage,
    ChangeImageState,
    DeleteImage,
    ImageInventory,
    ImageReply,
    UpdateImage,
)
from mgmt.image.reads import ImageDisk, image_disk

__all__ = [
    "API_MESSAGES",
    "AddImage",
    "ChangeImageState",
    "DeleteImage",
    "ImageDisk",
    "ImageInventory",
    "ImageReply",
    "UpdateImage",
    "image_disk",
]
