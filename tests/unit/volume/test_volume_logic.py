"""The volume service's pure logic: the volume and snapshot machines' declarations, the
derived root volume UUID, the inventory mapping of the declared types, the flows'
recipes (named steps, in order), and the simulator's volume commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from agent.protocol import (
    AgentCommand,
    AttachVolume,
    CreateSnapshot,
    CreateVolume,
    DeleteVolume,
    DetachVolume,
    ResizeVolume,
    RevertSnapshot,
    UploadVolume,
)
from agent.sim.hosts import SimHost, SimVm, VmError
from agent.sim.volumes import VOLUME_HANDLERS
from mgmt.volume import root_volume_uuid
from mgmt.volume.flows.attach import attach_operations
from mgmt.volume.flows.delete import delete_operation
from mgmt.volume.flows.resize import resize_operation
from mgmt.volume.flows.snapshot import snapshot_operations
from mgmt.volume.models import VolumeRow
from mgmt.volume.resources import VOLUME, reservations
from mgmt.volume.states import SNAPSHOT_STATES, VOLUME_STATES, SnapshotStatus, VolumeStatus

VM = "7ab1c3d4-0000-4000-8000-000000000001"


def test_the_volume_machine_allows_what_each_status_may_do() -> None:
    allowed = {s: sorted(VOLUME_STATES.allowed_operations(s)) for s in VolumeStatus}
    assert allowed[VolumeStatus.NOT_INSTANTIATED] == ["attach", "delete", "instantiate"]
    assert allowed[VolumeStatus.READY] == ["attach", "delete", "detach", "resize"]
    assert allowed[VolumeStatus.DELETED] == ["delete"]
    for held in ("Creating", "Attaching", "Detaching", "Resizing", "Deleting"):
        assert VOLUME_STATES.is_transitional(held) and allowed[VolumeStatus(held)] == []


def test_the_snapshot_machine_reverts_and_deletes_ready_snapshots_only() -> None:
    assert sorted(SNAPSHOT_STATES.allowed_operations(SnapshotStatus.READY)) == [
        "delete",
        "revert",
    ]
    assert SNAPSHOT_STATES.allowed_operations(SnapshotStatus.REVERTING) == []


def test_a_root_volume_uuid_is_derived_from_its_vm() -> None:
    assert root_volume_uuid(VM) == root_volume_uuid(VM)
    assert root_volume_uuid(VM) != root_volume_uuid(VM.replace("1", "2"))
    assert len(root_volume_uuid(VM)) == 32


def test_the_inventory_shows_the_lifecycle_as_status_and_the_switch_as_state() -> None:
    now = datetime.now(UTC)
    row = VolumeRow(
        uuid="v1",
        name="d",
        description="",
        owner_account_uuid="a",
        created_at=now,
        updated_at=now,
        state="NotInstantiated",
        type="Data",
        size=1 << 30,
        actual_size=0,
        format="qcow2",
        enabled_state="Enabled",
        reservation="r/0/0,r/0/1",
    )
    inv = VOLUME.to_inventory(row)
    assert (inv.status, inv.state, inv.type) == ("NotInstantiated", "Enabled", "Data")
    assert reservations(row) == ["r/0/0", "r/0/1"]


def test_the_flows_are_recipes_of_named_steps() -> None:
    attach, detach = attach_operations(None, None, None)  # type: ignore[arg-type]
    assert [s.name for s in attach.flow.steps] == [
        "reserve-volume-capacity",
        "create-on-storage",
        "attach-on-host",
        "record-attach",
    ]
    assert [s.name for s in detach.flow.steps] == ["detach-on-host", "record-detach"]
    resize = resize_operation(None, None)  # type: ignore[arg-type]
    assert [s.name for s in resize.flow.steps] == [
        "reserve-growth",
        "resize-on-storage",
        "record-size",
    ]
    delete = delete_operation(None, None)  # type: ignore[arg-type]
    assert [s.name for s in delete.flow.steps] == [
        "detach-on-host",
        "delete-on-storage",
        "record-detach",
    ]
    take, _, _ = snapshot_operations(None, None, None, None, "n")  # type: ignore[arg-type]
    assert [s.name for s in take.flow.steps] == [
        "create-row",
        "reserve-snapshot-capacity",
        "take-on-storage",
        "mark-ready",
    ]


def _run(host: SimHost, cmd: AgentCommand) -> Any:
    return VOLUME_HANDLERS[type(cmd)](host, cmd)


def test_the_simulator_keeps_volumes_snapshots_and_plugs_exactly() -> None:
    host = SimHost(uuid="h", cpu=4, memory=8 << 30)
    made = _run(host, CreateVolume(volumeUuid="v", primaryStorageUuid="ps", size=10))
    assert made.installPath == "/ps/data/v.qcow2"
    _run(host, CreateVolume(volumeUuid="v", primaryStorageUuid="ps", size=10))  # idempotent
    with pytest.raises(VmError):  # no such VM here
        _run(host, AttachVolume(vmUuid="vm", volumeUuid="v", deviceId=1))
    host.vms["vm"] = SimVm("vm", "vm", 1, 1 << 30)
    _run(host, AttachVolume(vmUuid="vm", volumeUuid="v", deviceId=1))
    assert host.plugged == {"v": "vm"}
    assert _run(host, ResizeVolume(volumeUuid="v", size=5)).size == 10
    _run(host, CreateSnapshot(volumeUuid="v", snapshotUuid="s"))
    _run(host, ResizeVolume(volumeUuid="v", size=20))
    assert _run(host, RevertSnapshot(volumeUuid="v", snapshotUuid="s")).size == 10
    host.destroy_vm("vm")
    assert host.plugged == {}
    _run(host, DetachVolume(vmUuid="vm", volumeUuid="v"))  # not plugged: fine
    _run(host, DeleteVolume(volumeUuid="v"))
    assert host.volumes == {} and host.snapshots == {}
    _run(host, DeleteVolume(volumeUuid="v"))  # unknown: fine


def test_the_simulator_uploads_a_volume_or_a_snapshot_it_has() -> None:
    host = SimHost(uuid="h", cpu=4, memory=8 << 30)
    body = {"volumeUuid": "v", "imageUuid": "i", "backupStorageUuid": "b", "installPath": "/p"}
    got = _run(host, UploadVolume(**body, size=7))
    assert (got.installPath, got.size) == ("/p", 7) and len(got.md5Sum) == 32
    with pytest.raises(VmError):
        _run(host, UploadVolume(**body, snapshotUuid="nope", size=7))
