"""Image API messages and inventory (``/v1/images``). Names follow ZStack's.

Images are the admin's: only an admin adds, changes or deletes one; tenants use those the
admin shares with them or makes public (``/v1/resource-shares``, like L3 networks).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from mgmt.core.api import UUID_PATTERN, ApiRequest, ApiSpec, DeleteMode, delete_mode
from mgmt.core.messages import Reply

ImageFormat = Literal["qcow2", "raw", "iso"]
MediaType = Literal["RootVolumeTemplate", "DataVolumeTemplate", "ISO"]
Platform = Literal["Linux", "Windows", "Other"]
ImageStatus = Literal["Downloading", "Ready"]
ImageState = Literal["Enabled", "Disabled"]
BsUuid = Annotated[str, Field(min_length=32, max_length=36, pattern=UUID_PATTERN)]


class ImageBackupStorageRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    backupStorageUuid: str = Field(description="The backup storage.")
    installPath: str = Field(description="Where the image is on it.")
    status: ImageStatus = Field(description="Downloading or Ready.")


class ImageInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The image's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    url: str = Field(description="Where it was downloaded from.")
    format: ImageFormat = Field(description="qcow2, raw or iso.")
    mediaType: MediaType = Field(description="RootVolumeTemplate, DataVolumeTemplate or ISO.")
    platform: Platform = Field(description="Linux, Windows or Other.")
    architecture: str = Field(description="CPU architecture (x86_64 …).")
    guestOsType: str | None = Field(description="Guest OS, if given.")
    status: ImageStatus = Field(description="Downloading, then Ready.")
    state: ImageState = Field(description="Enabled or Disabled (no new VMs from it).")
    size: int = Field(description="Bytes (the virtual size).")
    actualSize: int = Field(description="Bytes it takes on a backup storage.")
    md5Sum: str | None = Field(description="MD5 of the bytes downloaded (hex).")
    downloadProgress: int = Field(description="Percent downloaded (100 once Ready).")
    downloadedBytes: int = Field(description="Bytes downloaded so far.")
    backupStorageRefs: list[ImageBackupStorageRef] = Field(
        description="The backup storages it is on."
    )
    ownerAccountUuid: str = Field(description="Its owner (the admin).")
    createDate: datetime = Field(description="When it was added.")
    lastOpDate: datetime = Field(description="When it last changed.")


class ImageReply(Reply):
    inventory: ImageInventory


class ImageDeleted(Reply):
    deleted: list[str] = Field(default_factory=list, description="Types deleted, leaves first.")


class AddImage(ApiRequest[ImageReply]):
    """Add an image: every backup storage named downloads ``url`` (http/https) before the
    reply; the inventory shows the progress meanwhile (``GET /v1/images/{uuid}``). A
    download that fails (an HTTP error, refused, the storage full) fails the job with the
    reason and removes the image: nothing is left (no row, no capacity, no quota)."""

    api = ApiSpec("create", "images", "Image", "Add an image", admin_only=True)
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "cirros",
                    "url": "http://127.0.0.1:8080/cirros.qcow2",
                    "format": "qcow2",
                    "mediaType": "RootVolumeTemplate",
                    "platform": "Linux",
                    "backupStorageUuids": ["<backup storage uuid>"],
                }
            ]
        }
    )

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    name: str = Field(min_length=1, max_length=255, description="Name of the image.")
    description: str = Field(default="", max_length=2048, description="Free text.")
    url: str = Field(
        min_length=8,
        max_length=2048,
        pattern=r"^https?://\S+$",
        description="http(s) URL.",
        # the create matrix (tests/integration/api/test_create_uuids.py) gives a field
        # marked so a URL that serves a file
        json_schema_extra={"x-zcloud-download": True},
    )
    format: ImageFormat = Field(description="qcow2, raw or iso.")
    mediaType: MediaType = Field(
        default="RootVolumeTemplate", description="RootVolumeTemplate, DataVolumeTemplate, ISO."
    )
    platform: Platform = Field(default="Linux", description="Linux, Windows or Other.")
    architecture: Literal["x86_64", "aarch64"] = Field(
        default="x86_64", description="x86_64 or aarch64."
    )
    guestOsType: str | None = Field(default=None, max_length=64, description="Guest OS.")
    backupStorageUuids: list[BsUuid] = Field(
        min_length=1, max_length=16, description="The backup storages to download it to."
    )


class UpdateImage(ApiRequest[ImageReply]):
    """Change an image's name, description, platform or guest OS."""

    api = ApiSpec("update", "images", "Image", "Update an image", admin_only=True)
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "cirros-renamed"}]})

    name: str | None = Field(default=None, min_length=1, max_length=255, description="New name.")
    description: str | None = Field(default=None, max_length=2048, description="New text.")
    platform: Platform | None = Field(default=None, description="Linux, Windows or Other.")
    guestOsType: str | None = Field(default=None, max_length=64, description="Guest OS.")


class DeleteImage(ApiRequest[ImageDeleted]):
    """Delete an image: its backup storages delete its bits (through their agents; a
    failure is retried by the GC queue), their capacity and the quota are given back."""

    api = ApiSpec("delete", "images", "Image", "Delete an image", admin_only=True)
    model_config = ConfigDict(json_schema_extra={"examples": [{"deleteMode": "Permissive"}]})

    deleteMode: DeleteMode = delete_mode()


class ChangeImageState(ApiRequest[ImageReply]):
    """Enable or disable an image (a disabled one makes no new VMs)."""

    api = ApiSpec(
        "action",
        "images",
        "Image",
        "Change an image's state",
        action="change-state",
        admin_only=True,
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{"stateEvent": "disable"}]})

    stateEvent: Literal["enable", "disable"] = Field(description="enable or disable.")


class CreateImageFromVolume(ApiRequest[ImageReply]):
    """Make an image of a volume (``volumeUuid``) or of a snapshot of one
    (``volumeSnapshotUuid``) in backup storage: a root volume's is a RootVolumeTemplate, a
    data volume's a DataVolumeTemplate. The volume's host's agent uploads it to every
    backup storage named; their capacity and ``image.size`` are taken for its size. A
    volume with no bits yet (NotInstantiated) makes an empty image. A failure removes the
    image: nothing is left."""

    api = ApiSpec(
        "create",
        "images",
        "Image",
        "Create an image from a volume or snapshot",
        variant="from-volume",
        admin_only=True,
    )
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "template-1",
                    "volumeUuid": "<volume uuid>",
                    "backupStorageUuids": ["<backup storage uuid>"],
                }
            ]
        }
    )

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    name: str = Field(min_length=1, max_length=255, description="Name of the image.")
    description: str = Field(default="", max_length=2048, description="Free text.")
    volumeUuid: str | None = Field(
        default=None, pattern=UUID_PATTERN, description="The volume (or give a snapshot)."
    )
    volumeSnapshotUuid: str | None = Field(
        default=None, pattern=UUID_PATTERN, description="The snapshot (or give a volume)."
    )
    platform: Platform = Field(default="Linux", description="Linux, Windows or Other.")
    guestOsType: str | None = Field(default=None, max_length=64, description="Guest OS.")
    backupStorageUuids: list[BsUuid] = Field(
        min_length=1, max_length=16, description="The backup storages to upload it to."
    )


API_MESSAGES = (AddImage, UpdateImage, DeleteImage, ChangeImageState, CreateImageFromVolume)
