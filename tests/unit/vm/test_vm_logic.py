"""The VM service's pure logic: the state machine's declaration, static IP tags, derived
NIC UUIDs and MACs, and the wiring of its flows (named steps, one module each)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mgmt.core.errors import PermanentError
from mgmt.vm.flows.create import create_vm_flows
from mgmt.vm.flows.steps import mac_of, nic_uuid
from mgmt.vm.service import static_ips
from mgmt.vm.states import VM_STATES, VmState

L3A = "0b5d6f0e-7c1a-4f5e-9a39-3d4e7f1b2c3d"
L3B = "1c6e7a1f-8d2b-4a6f-8b4a-4e5f8a2c3d4e"


def test_the_vm_machine_allows_what_zstack_allows() -> None:
    allowed = {s: sorted(VM_STATES.allowed_operations(s)) for s in VmState}
    assert allowed[VmState.RUNNING] == ["destroy", "migrate", "pause", "reboot", "stop"]
    assert allowed[VmState.STOPPED] == ["change-instance-offering", "destroy", "start"]
    assert allowed[VmState.CREATED] == ["destroy", "start"]
    assert allowed[VmState.PAUSED] == ["destroy", "resume", "stop"]
    assert allowed[VmState.UNKNOWN] == ["destroy"]
    for transitional in (VmState.STARTING, VmState.STOPPING, VmState.DESTROYING, VmState.MIGRATING):
        assert VM_STATES.is_transitional(transitional)
        assert allowed[transitional] == []


def test_static_ips_are_read_per_l3_and_refused_when_they_name_no_nic() -> None:
    tags = [f"staticIp::{L3A}::10.0.0.5", "hostname::web-1"]
    assert static_ips(tags, [L3A, L3B]) == {L3A: "10.0.0.5"}
    assert static_ips([f"staticIp::{L3A.upper()}::10.0.0.5"], [L3A]) == {L3A: "10.0.0.5"}
    with pytest.raises(PermanentError) as refused:
        static_ips([f"staticIp::{L3B}::10.0.0.5"], [L3A])
    assert refused.value.error.extra["field"] == "systemTags"
    with pytest.raises(PermanentError):
        static_ips([f"staticIp::{L3A}::10.0.0.5", f"staticIp::{L3A}::10.0.0.6"], [L3A])


def test_nic_uuids_and_macs_are_derived_and_distinct() -> None:
    vm = "5e0f3a4b-1111-4c2d-9e8f-000000000001"
    assert nic_uuid(vm, 0) == nic_uuid(vm, 0) != nic_uuid(vm, 1)
    macs = {mac_of(nic_uuid(f"{vm[:-4]}{i:04d}", 0)) for i in range(2000)}
    assert len(macs) == 2000
    mac = mac_of(nic_uuid(vm, 0))
    assert re.fullmatch(r"fa(:[0-9a-f]{2}){5}", mac)
    assert mac_of(nic_uuid(vm, 0), 1) != mac  # the salt a clash retries with


def test_every_create_strategy_is_its_recipe_of_named_steps() -> None:
    none: Any = None  # the steps are only declared here, never run
    flows = create_vm_flows(none, none, none, none, none, none, none, "node")
    assert {k: [s.step_name for s in f.steps] for k, f in flows.items()} == {
        "InstantStart": [
            "create-row",
            "allocate-host",
            "allocate-nics",
            "reserve-root-volume-capacity",
            "start-on-host",
            "mark-running",
        ],
        "CreateStopped": [
            "create-row",
            "allocate-host",
            "allocate-nics",
            "reserve-root-volume-capacity",
            "mark-stopped",
        ],
        "JustCreate": ["create-row"],
    }
