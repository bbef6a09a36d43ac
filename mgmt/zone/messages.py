"""Zone and cluster API messages and inventories (the REST API is derived from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mgmt.core.api import ApiRequest, ApiSpec, DeleteMode, delete_mode, uuid_ref
from mgmt.core.messages import Reply

State = Literal["Enabled", "Disabled"]
HypervisorType = Literal["KVM", "VMware", "Simulator"]


class ZoneInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The zone's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    state: State = Field(description="Enabled or Disabled.")
    ownerAccountUuid: str = Field(description="Owner account.")
    createDate: datetime = Field(description="When it was created.")
    lastOpDate: datetime = Field(description="When it last changed.")


class ClusterInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The cluster's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    state: State = Field(description="Enabled or Disabled.")
    hypervisorType: HypervisorType = Field(description="KVM, VMware or Simulator.")
    zoneUuid: str = Field(description="The zone it belongs to.")
    ownerAccountUuid: str = Field(description="Owner account.")
    createDate: datetime = Field(description="When it was created.")
    lastOpDate: datetime = Field(description="When it last changed.")


class ZoneReply(Reply):
    inventory: ZoneInventory


class ClusterReply(Reply):
    inventory: ClusterInventory


class DeletedReply(Reply):
    deleted: list[str] = Field(description="Types deleted, dependents first.")


class CreateZone(ApiRequest[ZoneReply]):
    """Create a zone: the top of the resource tree (clusters, storage, networks)."""

    api = ApiSpec("create", "zones", "Zone", "Create a zone")
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "zone-1"}]})

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    name: str = Field(min_length=1, max_length=255, description="Name of the zone.")
    description: str = Field(default="", max_length=2048, description="Free text.")


class UpdateZone(ApiRequest[ZoneReply]):
    """Change a zone's name, description or state."""

    api = ApiSpec("update", "zones", "Zone", "Update a zone")
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "zone-renamed"}]})

    name: str | None = Field(default=None, min_length=1, max_length=255, description="New name.")
    description: str | None = Field(default=None, max_length=2048, description="New text.")
    state: State | None = Field(default=None, description="Enabled or Disabled.")


class DeleteZone(ApiRequest[DeletedReply]):
    """Delete a zone and everything in it (cascade)."""

    api = ApiSpec("delete", "zones", "Zone", "Delete a zone")
    model_config = ConfigDict(json_schema_extra={"examples": [{"deleteMode": "Permissive"}]})

    deleteMode: DeleteMode = delete_mode()


class CreateCluster(ApiRequest[ClusterReply]):
    """Create a cluster of hosts of one hypervisor type in a zone."""

    api = ApiSpec("create", "clusters", "Cluster", "Create a cluster")
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "c1", "zoneUuid": "<zone uuid>", "hypervisorType": "Simulator"}]
        }
    )

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    zoneUuid: str = uuid_ref("The zone it goes in.")
    name: str = Field(min_length=1, max_length=255, description="Name of the cluster.")
    description: str = Field(default="", max_length=2048, description="Free text.")
    hypervisorType: HypervisorType = Field(default="KVM", description="Hypervisor of its hosts.")


class UpdateCluster(ApiRequest[ClusterReply]):
    """Change a cluster's name, description or state."""

    api = ApiSpec("update", "clusters", "Cluster", "Update a cluster")
    model_config = ConfigDict(json_schema_extra={"examples": [{"state": "Disabled"}]})

    name: str | None = Field(default=None, min_length=1, max_length=255, description="New name.")
    description: str | None = Field(default=None, max_length=2048, description="New text.")
    state: State | None = Field(default=None, description="Enabled or Disabled.")


class DeleteCluster(ApiRequest[DeletedReply]):
    """Delete a cluster and everything in it (cascade)."""

    api = ApiSpec("delete", "clusters", "Cluster", "Delete a cluster")
    model_config = ConfigDict(json_schema_extra={"examples": [{"deleteMode": "Permissive"}]})

    deleteMode: DeleteMode = delete_mode()


API_MESSAGES = (CreateZone, UpdateZone, DeleteZone, CreateCluster, UpdateCluster, DeleteCluster)
