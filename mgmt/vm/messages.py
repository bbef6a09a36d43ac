"""VM instance API messages and inventory (ZStack's names; the REST API at
``/v1/vm-instances`` is derived from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mgmt.core.api import UUID_PATTERN, ApiRequest, ApiSpec, uuid_ref
from mgmt.core.messages import Reply
from mgmt.volume import VolumeInventory

_MIB = 1 << 20
Uuid = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
Strategy = Literal["InstantStart", "CreateStopped", "JustCreate"]
VmStateName = Literal[
    "Created",
    "Starting",
    "Running",
    "Stopping",
    "Stopped",
    "Rebooting",
    "Pausing",
    "Paused",
    "Resuming",
    "Migrating",
    "Destroying",
    "Destroyed",
    "Expunging",
    "Unknown",
    "Error",
]


class VmNicInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The NIC's UUID (the holder of its IP in IPAM).")
    vmInstanceUuid: str | None = Field(default=None, description="The VM it belongs to.")
    l3NetworkUuid: str = Field(description="The L3 network it is on.")
    ip: str = Field(description="Its IPv4 address.")
    mac: str = Field(description="Its MAC address (unique).")
    netmask: str = Field(description="The netmask of its IP range.")
    gateway: str = Field(description="The gateway of its IP range.")
    deviceId: int = Field(description="Its position among the VM's NICs, from 0.")


class VmInstanceInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The VM's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    state: VmStateName = Field(description="Its state (Created, Running, Stopped …).")
    hostUuid: str | None = Field(description="The host it runs on (None when not running).")
    lastHostUuid: str | None = Field(description="The host it last ran on.")
    clusterUuid: str | None = Field(description="The cluster of its host.")
    zoneUuid: str | None = Field(description="The zone of its host.")
    imageUuid: str = Field(description="The image its root volume is made from.")
    instanceOfferingUuid: str | None = Field(description="The offering it was made from.")
    cpuNum: int = Field(description="Virtual CPUs.")
    memorySize: int = Field(description="Memory in bytes.")
    rootVolumeUuid: str | None = Field(description="Its root volume (None until placed).")
    defaultL3NetworkUuid: str | None = Field(description="The L3 network of its default NIC.")
    vmNics: list[VmNicInventory] = Field(description="Its NICs, by deviceId.")
    allVolumes: list[VolumeInventory] = Field(
        description="Its volumes: the root volume (deviceId 0), then data volumes by deviceId."
    )
    hypervisorType: str | None = Field(description="Its host's hypervisor type.")
    platform: str = Field(description="The guest platform (Linux, Windows, Other).")
    ownerAccountUuid: str = Field(description="Owner account.")
    createDate: datetime = Field(description="When it was created.")
    lastOpDate: datetime = Field(description="When it last changed.")


class VmInstanceReply(Reply):
    inventory: VmInstanceInventory


class VmInstanceDeleted(Reply):
    deleted: list[str] = Field(default_factory=list, description="Types deleted, leaves first.")


def _optional_uuid(description: str) -> Any:
    return Field(default=None, pattern=UUID_PATTERN, description=description)


class CreateVmInstance(ApiRequest[VmInstanceReply]):
    """Create a VM from an image on L3 networks: a host is allocated (CPU and memory),
    NICs get their IPs (``staticIp::{l3Uuid}::{ip}`` honoured), the root volume's size is
    reserved on primary storage, and the VM is started (``InstantStart``), left Stopped
    (``CreateStopped``) or only recorded (``JustCreate``: everything is allocated by its
    first start). A failure at any step gives back everything taken and leaves no VM."""

    api = ApiSpec("create", "vm-instances", "VmInstance", "Create a VM instance")
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "vm1",
                    "instanceOfferingUuid": "<instance offering uuid>",
                    "imageUuid": "<image uuid>",
                    "l3NetworkUuids": ["<l3 network uuid>"],
                    "strategy": "JustCreate",
                }
            ]
        }
    )

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    name: str = Field(min_length=1, max_length=255, description="Name of the VM.")
    description: str = Field(default="", max_length=2048, description="Free text.")
    instanceOfferingUuid: str | None = _optional_uuid(
        "The instance offering (CPU and memory); or give cpuNum and memorySize."
    )
    cpuNum: int | None = Field(default=None, ge=1, le=1024, description="vCPUs (no offering).")
    memorySize: int | None = Field(
        default=None, ge=16 * _MIB, le=1 << 44, description="Memory in bytes (no offering)."
    )
    imageUuid: str = uuid_ref("The image of its root volume (Ready).")
    l3NetworkUuids: list[Uuid] = Field(
        min_length=1,
        max_length=16,
        description="The L3 networks it gets a NIC on, in device order.",
    )
    defaultL3NetworkUuid: str | None = _optional_uuid(
        "The L3 network of its default NIC (one of l3NetworkUuids; default: the first)."
    )
    zoneUuid: str | None = _optional_uuid("Place it in this zone.")
    clusterUuid: str | None = _optional_uuid("Place it in this cluster.")
    hostUuid: str | None = _optional_uuid("Place it on this host (admins).")
    primaryStorageUuidForRootVolume: str | None = _optional_uuid(
        "Put its root volume on this primary storage (its own, shared with it or public); "
        "only hosts of clusters it is attached to are candidates."
    )
    platform: Literal["Linux", "Windows", "Other"] = Field(
        default="Linux", description="The guest platform."
    )
    strategy: Strategy = Field(
        default="InstantStart",
        description="InstantStart (run it), CreateStopped (allocate, leave it Stopped) or "
        "JustCreate (record it; its first start allocates).",
    )


def _action(action: str, summary: str) -> ApiSpec:
    return ApiSpec("action", "vm-instances", "VmInstance", summary, action=action)


_EMPTY = ConfigDict(json_schema_extra={"examples": [{}]})


class StartVmInstance(ApiRequest[VmInstanceReply]):
    """Start a Created or Stopped VM: a host is allocated again (a Stopped VM's last host,
    where its root volume is), then the hypervisor starts it."""

    api = _action("start", "Start a VM instance")
    model_config = _EMPTY


class StopVmInstance(ApiRequest[VmInstanceReply]):
    """Stop a Running or Paused VM; its host's CPU and memory are given back (its IPs and
    root volume capacity stay)."""

    api = _action("stop", "Stop a VM instance")
    model_config = ConfigDict(json_schema_extra={"examples": [{"type": "grace"}]})

    type: Literal["grace", "cold"] = Field(
        default="grace", description="grace: ask the guest to shut down; cold: power off."
    )


class RebootVmInstance(ApiRequest[VmInstanceReply]):
    """Reboot a Running VM on its host."""

    api = _action("reboot", "Reboot a VM instance")
    model_config = _EMPTY


class PauseVmInstance(ApiRequest[VmInstanceReply]):
    """Pause a Running VM (it keeps its host)."""

    api = _action("pause", "Pause a VM instance")
    model_config = _EMPTY


class ResumeVmInstance(ApiRequest[VmInstanceReply]):
    """Resume a Paused VM."""

    api = _action("resume", "Resume a VM instance")
    model_config = _EMPTY


class MigrateVm(ApiRequest[VmInstanceReply]):
    """Live-migrate a Running VM to another host (admins): ``hostUuid``, or the one the
    allocator picks (never its current host; only hosts that reach its root volume's
    primary storage). The destination's CPU and memory are reserved before the move and
    the source's given back after it; a failure leaves it Running on its source host."""

    api = ApiSpec(
        "action",
        "vm-instances",
        "VmInstance",
        "Migrate a VM instance",
        action="migrate",
        admin_only=True,
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})

    hostUuid: str | None = _optional_uuid("The destination host (default: the allocator's).")


class ChangeInstanceOffering(ApiRequest[VmInstanceReply]):
    """Give a Stopped VM the CPU and memory of another instance offering (one it may
    use); the owner's ``vm.cpuNum`` and ``vm.memorySize`` quotas change by the difference
    (over quota: nothing changes). A Running or Paused VM: 409 with the reason (the
    hypervisor does not hot-plug)."""

    api = _action("change-instance-offering", "Change a VM instance's offering")
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"instanceOfferingUuid": "<instance offering uuid>"}]}
    )

    instanceOfferingUuid: str = uuid_ref("The new instance offering.")


class RecoverVmInstance(ApiRequest[VmInstanceReply]):
    """Recover a Destroyed VM (deletion policy Delay or Never, not expunged yet): it is
    Stopped again, with new NICs on its L3 networks (its static IPs asked for again) and
    its quotas counted again; a failure (an address taken, over quota) leaves it
    Destroyed."""

    api = _action("recover", "Recover a destroyed VM instance")
    model_config = _EMPTY


class ExpungeVmInstance(ApiRequest[VmInstanceDeleted]):
    """Expunge a Destroyed VM: what it still holds (its root volume's primary storage
    capacity, ``vm.totalNum``) is given back and its row removed."""

    api = _action("expunge", "Expunge a destroyed VM instance")
    model_config = _EMPTY


class DestroyVmInstance(ApiRequest[VmInstanceDeleted]):
    """Destroy a VM by the deletion policy (global config ``vm.deletionPolicy``): Direct
    destroys it on its host and gives everything back with its row; Delay (the default)
    and Never destroy it on its host and give back its host capacity, IPs and
    ``vm.num``/``vm.cpuNum``/``vm.memorySize``, leaving it Destroyed (recoverable) with
    its root volume's capacity until it is expunged (Delay: after ``vm.expungePeriod``)."""

    api = ApiSpec("delete", "vm-instances", "VmInstance", "Destroy a VM instance")
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


API_MESSAGES = (
    CreateVmInstance,
    StartVmInstance,
    StopVmInstance,
    RebootVmInstance,
    PauseVmInstance,
    ResumeVmInstance,
    MigrateVm,
    ChangeInstanceOffering,
    RecoverVmInstance,
    ExpungeVmInstance,
    DestroyVmInstance,
)
