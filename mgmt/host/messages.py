"""Host API messages and inventory (the REST API at ``/v1/hosts`` is derived from these).

Secrets (an SSH password or private key, for hypervisors whose agent is deployed over SSH)
travel only to the frontend: ``prepare`` replaces them with a salted scrypt hash before the
message is stored in its job row or published, so no secret is at rest in clear and none is
ever in an inventory.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from mgmt.core.api import ApiRequest, ApiSpec, CallerContext, DeleteMode, delete_mode, uuid_ref
from mgmt.core.messages import Reply, Request

HostState = Literal["Enabled", "Disabled", "PreMaintenance", "Maintenance"]
HostStatus = Literal["Connecting", "Connected", "Disconnected"]

_SECRET: JsonDict = {"format": "password", "writeOnly": True}
#: the create matrix (tests/integration/api/test_create_uuids.py) gives a field marked so a
#: fresh value per create: a second host under one managementIp is a 409
_UNIQUE: JsonDict = {"x-zcloud-unique": True}


class HostInventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    uuid: str = Field(description="The host's UUID.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    zoneUuid: str = Field(description="The zone of its cluster.")
    clusterUuid: str = Field(description="The cluster it belongs to.")
    managementIp: str = Field(description="Address the management plane knows it by (unique).")
    hypervisorType: str = Field(description="Its cluster's: KVM, VMware or Simulator.")
    state: HostState = Field(description="Enabled, Disabled, PreMaintenance or Maintenance.")
    status: HostStatus = Field(description="Connecting, Connected or Disconnected.")
    cpuNum: int = Field(description="CPUs the agent reported.")
    cpuSpeedMhz: int = Field(description="CPU speed the agent reported, MHz.")
    architecture: str = Field(description="CPU architecture the agent reported (x86_64 …).")
    totalCpuCapacity: int = Field(description="CPUs VMs may use.")
    availableCpuCapacity: int = Field(description="CPUs not reserved (the host.cpu counter).")
    totalMemoryCapacity: int = Field(description="Bytes of memory VMs may use.")
    availableMemoryCapacity: int = Field(
        description="Bytes of memory not reserved (the host.memory counter)."
    )
    createDate: datetime = Field(description="When it was added.")
    lastOpDate: datetime = Field(description="When it last changed.")


class HostReply(Reply):
    inventory: HostInventory


class HostDeleted(Reply):
    deleted: list[str] = Field(default_factory=list, description="Types deleted, leaves first.")


def _hash_secret(secret: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=1 << 14, r=8, p=1, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


class AddHost(ApiRequest[HostReply]):
    """Add a host to a cluster: the connect handshake (the agent reports its CPUs, memory,
    architecture, local storage and VMs) runs before the reply; a failed handshake leaves
    nothing behind."""

    api = ApiSpec("create", "hosts", "Host", "Add a host", admin_only=True)
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"clusterUuid": "<cluster uuid>", "name": "h1", "managementIp": "127.0.0.2"}
            ]
        }
    )
    server_fields: ClassVar[frozenset[str]] = frozenset({"passwordHash", "sshPrivateKeyHash"})

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    clusterUuid: str = uuid_ref("The cluster it joins.")
    name: str = Field(min_length=1, max_length=255, description="Name of the host.")
    description: str = Field(default="", max_length=2048, description="Free text.")
    managementIp: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9.:-]*$",
        description="IP address or DNS name the management plane reaches it by; unique. "
        "A Simulator host's is only an identifier (nothing is ever sent to it).",
        json_schema_extra=_UNIQUE,
    )
    username: str = Field(default="root", max_length=64, description="SSH user (KVM).")
    password: str | None = Field(
        default=None, max_length=1024, description="SSH password (KVM).", json_schema_extra=_SECRET
    )
    sshPrivateKey: str | None = Field(
        default=None,
        max_length=16384,
        description="SSH private key, PEM (KVM), instead of a password.",
        json_schema_extra=_SECRET,
    )
    sshPort: int = Field(default=22, ge=1, le=65535, description="SSH port (KVM).")
    cpuCapacity: int | None = Field(
        default=None, ge=1, le=100_000, description="Simulator: CPUs the simulated host has."
    )
    memoryCapacity: int | None = Field(
        default=None, ge=1, description="Simulator: bytes of memory the simulated host has."
    )
    passwordHash: str | None = Field(default=None, description="Set by the frontend.")
    sshPrivateKeyHash: str | None = Field(default=None, description="Set by the frontend.")

    async def prepare(self) -> Any:
        update: dict[str, Any] = {}
        if self.password is not None:
            update.update(
                password=None, passwordHash=await asyncio.to_thread(_hash_secret, self.password)
            )
        if self.sshPrivateKey is not None:
            update.update(
                sshPrivateKey=None,
                sshPrivateKeyHash=await asyncio.to_thread(_hash_secret, self.sshPrivateKey),
            )
        return self.model_copy(update=update) if update else self


class UpdateHost(ApiRequest[HostReply]):
    """Change a host's name or description."""

    api = ApiSpec("update", "hosts", "Host", "Update a host", admin_only=True)
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "h1-renamed"}]})

    name: str | None = Field(default=None, min_length=1, max_length=255, description="New name.")
    description: str | None = Field(default=None, max_length=2048, description="New text.")


class DeleteHost(ApiRequest[HostDeleted]):
    """Remove a host (its capacity counters go with it)."""

    api = ApiSpec("delete", "hosts", "Host", "Delete a host", admin_only=True)
    model_config = ConfigDict(json_schema_extra={"examples": [{"deleteMode": "Permissive"}]})

    deleteMode: DeleteMode = delete_mode()


class ReconnectHost(ApiRequest[HostReply]):
    """Run the connect handshake again (the agent's facts and capacity are read anew);
    a failure leaves the host Disconnected."""

    api = ApiSpec(
        "action", "hosts", "Host", "Reconnect a host", action="reconnect", admin_only=True
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class ChangeHostState(ApiRequest[HostReply]):
    """Enable or disable a host (a disabled host gets no new VMs), or put it in
    maintenance (``maintain``: PreMaintenance — no new VMs — while its VMs are migrated
    away, or stopped when they cannot move, then Maintenance; ``enable`` ends it)."""

    api = ApiSpec(
        "action", "hosts", "Host", "Change a host's state", action="change-state", admin_only=True
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{"stateEvent": "disable"}]})

    stateEvent: Literal["enable", "disable", "maintain"] = Field(
        description="enable, disable or maintain."
    )


class EvacuateHostReply(Reply):
    migrated: list[str] = Field(default_factory=list, description="VMs moved to other hosts.")
    stopped: list[str] = Field(default_factory=list, description="VMs that could not move.")
    failed: list[str] = Field(default_factory=list, description="VMs left as they were.")


class EvacuateHost(Request[EvacuateHostReply]):
    """Sent by a host's maintenance to whichever service runs VMs (the VM service handles
    it): move every VM off the host — migrate it, else stop it. Its own sync signature,
    so it never waits behind the host's operation that sent it."""

    resourceUuid: str
    caller: CallerContext

    def sync_signature(self) -> str:
        return f"evacuate/{self.resourceUuid}"


API_MESSAGES = (AddHost, UpdateHost, DeleteHost, ReconnectHost, ChangeHostState)
