"""Instance and disk offering API messages and inventories (ZStack's names).

Offerings are the admin's (creates are ``admin_only``); tenants see and use those the
admin shares with them or makes public (``/v1/resource-shares``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mgmt.core.api import ApiRequest, ApiSpec, DeleteMode, delete_mode
from mgmt.core.messages import Reply

State = Literal["Enabled", "Disabled"]
HostAllocator = Literal[
    "DefaultHostAllocatorStrategy",
    "LastHostPreferredAllocatorStrategy",
    "LeastVmPreferredHostAllocatorStrategy",
    "MinimumCPUUsageHostAllocatorStrategy",
    "MinimumMemoryUsageHostAllocatorStrategy",
]
_MIB = 1 << 20


class InstanceOfferingInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The offering's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    cpuNum: int = Field(description="Virtual CPUs.")
    memorySize: int = Field(description="Memory in bytes.")
    allocatorStrategy: str = Field(description="How a host is chosen for its VMs.")
    type: str = Field(description="UserVm.")
    state: State = Field(description="Enabled or Disabled.")
    ownerAccountUuid: str = Field(description="Owner account.")
    createDate: datetime = Field(description="When it was created.")
    lastOpDate: datetime = Field(description="When it last changed.")


class DiskOfferingInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The offering's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    diskSize: int = Field(description="Size in bytes.")
    allocatorStrategy: str = Field(description="How a primary storage is chosen.")
    type: str = Field(description="DefaultDiskOfferingType.")
    state: State = Field(description="Enabled or Disabled.")
    ownerAccountUuid: str = Field(description="Owner account.")
    createDate: datetime = Field(description="When it was created.")
    lastOpDate: datetime = Field(description="When it last changed.")


class InstanceOfferingReply(Reply):
    inventory: InstanceOfferingInventory


class DiskOfferingReply(Reply):
    inventory: DiskOfferingInventory


class DeletedReply(Reply):
    deleted: list[str] = Field(description="Types deleted, dependents first.")


class CreateInstanceOffering(ApiRequest[InstanceOfferingReply]):
    """Create an instance offering: the CPU and memory of the VMs made from it."""

    api = ApiSpec(
        "create",
        "instance-offerings",
        "InstanceOffering",
        "Create an instance offering",
        admin_only=True,
    )
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "small", "cpuNum": 1, "memorySize": 1073741824}]}
    )

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    name: str = Field(min_length=1, max_length=255, description="Name of the offering.")
    description: str = Field(default="", max_length=2048, description="Free text.")
    cpuNum: int = Field(ge=1, le=1024, description="Virtual CPUs.")
    memorySize: int = Field(
        ge=16 * _MIB, le=1 << 44, description="Memory in bytes (at least 16 MiB)."
    )
    allocatorStrategy: HostAllocator = Field(
        default="DefaultHostAllocatorStrategy", description="How a host is chosen."
    )


class UpdateInstanceOffering(ApiRequest[InstanceOfferingReply]):
    """Change an instance offering's name, description or state."""

    api = ApiSpec("update", "instance-offerings", "InstanceOffering", "Update an instance offering")
    model_config = ConfigDict(json_schema_extra={"examples": [{"state": "Disabled"}]})

    name: str | None = Field(default=None, min_length=1, max_length=255, description="New name.")
    description: str | None = Field(default=None, max_length=2048, description="New text.")
    state: State | None = Field(default=None, description="Enabled or Disabled.")


class DeleteInstanceOffering(ApiRequest[DeletedReply]):
    """Delete an instance offering (VMs made from it keep their sizes)."""

    api = ApiSpec("delete", "instance-offerings", "InstanceOffering", "Delete an instance offering")
    model_config = ConfigDict(json_schema_extra={"examples": [{"deleteMode": "Permissive"}]})

    deleteMode: DeleteMode = delete_mode()


class CreateDiskOffering(ApiRequest[DiskOfferingReply]):
    """Create a disk offering: the size of the data volumes made from it."""

    api = ApiSpec(
        "create", "disk-offerings", "DiskOffering", "Create a disk offering", admin_only=True
    )
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "disk-10g", "diskSize": 10737418240}]}
    )

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    name: str = Field(min_length=1, max_length=255, description="Name of the offering.")
    description: str = Field(default="", max_length=2048, description="Free text.")
    diskSize: int = Field(ge=_MIB, le=1 << 50, description="Size in bytes (at least 1 MiB).")


class UpdateDiskOffering(ApiRequest[DiskOfferingReply]):
    """Change a disk offering's name, description or state."""

    api = ApiSpec("update", "disk-offerings", "DiskOffering", "Update a disk offering")
    model_config = ConfigDict(json_schema_extra={"examples": [{"state": "Disabled"}]})

    name: str | None = Field(default=None, min_length=1, max_length=255, description="New name.")
    description: str | None = Field(default=None, max_length=2048, description="New text.")
    state: State | None = Field(default=None, description="Enabled or Disabled.")


class DeleteDiskOffering(ApiRequest[DeletedReply]):
    """Delete a disk offering (volumes made from it keep their sizes)."""

    api = ApiSpec("delete", "disk-offerings", "DiskOffering", "Delete a disk offering")
    model_config = ConfigDict(json_schema_extra={"examples": [{"deleteMode": "Permissive"}]})

    deleteMode: DeleteMode = delete_mode()


API_MESSAGES = (
    CreateInstanceOffering,
    UpdateInstanceOffering,
    DeleteInstanceOffering,
    CreateDiskOffering,
    UpdateDiskOffering,
    DeleteDiskOffering,
)
