"""Simulated hosts: capacity, VMs and injected faults. Pure state, no I/O.

Every check-then-change runs without an ``await`` in between, so counters stay exact however
many commands run at once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from agent.protocol import VmPowerState


class FaultAction(StrEnum):
    DELAY = "delay"
    FAIL = "fail"
    DROP_CALLBACK = "drop_callback"
    SILENT = "silent"
    CRASH = "crash"
    #: accept the command (async: 202) and never answer it: no reply, no callback
    HANG = "hang"
    #: answer twice: the callback is POSTed two times (receivers must ignore the second)
    DUPLICATE_CALLBACK = "duplicate_callback"
    #: run the command only once the fault is cleared: a test holds an operation in flight
    #: for exactly as long as it needs (the fault stays listed, spent, until cleared)
    HOLD = "hold"
    #: the guest ignores a graceful StopVm (no ACPI): the agent waits out the command's
    #: ``graceSeconds``, then powers it off and answers ``forced``
    IGNORE_SHUTDOWN = "ignore_shutdown"


class Fault(BaseModel):
    """One injected fault. ``times`` counts the commands it still affects (None: until
    cleared)."""

    model_config = ConfigDict(extra="forbid")

    command: str = Field(default="*", description="Protocol command name, or * for all.")
    path: str | None = Field(
        default=None,
        pattern=r"^/[a-z/-]+$",
        description="Command path (`/host/facts`): the fault applies only to it.",
    )
    action: FaultAction
    seconds: float = Field(default=0.0, ge=0, le=3600)
    times: int | None = Field(default=None, ge=1)
    error: str = "injected failure"
    retryable: bool = Field(
        default=False, description="fail: mark the reply retryable (a transient failure)."
    )


@dataclass
class SimVm:
    uuid: str
    name: str
    cpu: int
    memory: int
    state: VmPowerState = VmPowerState.RUNNING
    hostname: str = ""


@dataclass
class SimVolume:
    uuid: str
    size: int
    path: str


@dataclass
class SimSnapshot:
    uuid: str
    volume: str
    size: int
    path: str


class VmError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class SimHost:
    uuid: str
    cpu: int
    memory: int
    cpu_used: int = 0
    memory_used: int = 0
    vms: dict[str, SimVm] = field(default_factory=dict)
    #: bridge name → what it is on (the L2 networks realised here, as a real agent would)
    bridges: dict[str, dict[str, object]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    crashed: bool = False
    booted: float = field(default_factory=time.monotonic)
    #: primary storages this host has mounted: uuid → the size they report
    mounts: dict[str, int] = field(default_factory=dict)
    #: volumes and snapshots made here, and which VM each plugged volume is in
    volumes: dict[str, SimVolume] = field(default_factory=dict)
    snapshots: dict[str, SimSnapshot] = field(default_factory=dict)
    plugged: dict[str, str] = field(default_factory=dict)
    #: where change reports go (the last ``ConnectHost``'s ``reportUrl``; empty: nowhere)
    report_url: str = ""
    #: set when the faults are cleared (what a held command waits for)
    cleared: asyncio.Event = field(default_factory=asyncio.Event)

    def take_fault(self, command: str, path: str = "") -> Fault | None:
        """The first fault matching ``command`` (and ``path``), counted as used once."""
        for fault in self.faults:
            if fault.times == 0:
                continue  # a spent hold, listed until cleared
            if fault.command in ("*", command) and fault.path in (None, path):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0 and fault.action is not FaultAction.HOLD:
                        self.faults.remove(fault)
                return fault
        return None

    def holds(self, fault: Fault) -> bool:
        """Whether a ``hold`` fault still holds its command (it has not been cleared)."""
        return any(f is fault for f in self.faults)

    async def held(self, fault: Fault) -> None:
        """Wait until ``fault`` is cleared (a ``hold``)."""
        while self.holds(fault):
            await self.cleared.wait()

    def clear_faults(self) -> None:
        """Remove every fault and release the commands they hold."""
        self.faults.clear()
        self.cleared.set()
        self.cleared = asyncio.Event()

    def is_silent(self, command: str, path: str = "") -> bool:
        return any(
            f.action is FaultAction.SILENT
            and f.command in ("*", command)
            and f.path in (None, path)
            for f in self.faults
        )

    def resize(self, cpu: int | None, memory: int | None) -> None:
        """A connect asking for a capacity gets it (what is in use stays in use)."""
        self.cpu = cpu or self.cpu
        self.memory = memory or self.memory

    def crash(self) -> None:
        """Power loss: every VM stops and its capacity is released."""
        self.crashed = True
        for vm in self.vms.values():
            if vm.state is not VmPowerState.STOPPED:
                self._release(vm)

    def recover(self) -> None:
        """Power back on, empty of running VMs; a crash fault is spent by the crash."""
        self.faults = [f for f in self.faults if f.action is not FaultAction.CRASH]
        self.crashed = False
        self.booted = time.monotonic()

    def _release(self, vm: SimVm) -> None:
        self.cpu_used -= vm.cpu
        self.memory_used -= vm.memory
        vm.state = VmPowerState.STOPPED

    def _get(self, vm_uuid: str) -> SimVm:
        vm = self.vms.get(vm_uuid)
        if vm is None:
            raise VmError("NOT_FOUND", f"no VM {vm_uuid} on host {self.uuid}")
        return vm

    def start_vm(self, vm_uuid: str, name: str, cpu: int, memory: int, hostname: str = "") -> SimVm:
        vm = self.vms.get(vm_uuid)
        if vm is not None and vm.state is VmPowerState.RUNNING:
            return vm
        if vm is not None and vm.state is VmPowerState.PAUSED:
            raise VmError("INVALID_STATE", "the VM is paused: resume it")
        # vCPUs are time-shared, as on a real hypervisor (the management node's CPU
        # over-commit ratio decides how many): only memory is a hard limit
        if self.memory_used + memory > self.memory:
            raise VmError(
                "CAPACITY",
                f"needs {memory} B of memory; free {self.memory - self.memory_used} B "
                f"({self.cpu_used + cpu} vCPUs on {self.cpu} CPUs)",
            )
        self.cpu_used += cpu
        self.memory_used += memory
        if vm is None:
            vm = self.vms[vm_uuid] = SimVm(vm_uuid, name, cpu, memory, hostname=hostname)
        else:
            vm.cpu, vm.memory, vm.state = cpu, memory, VmPowerState.RUNNING
            vm.hostname = hostname
        return vm

    def stop_vm(self, vm_uuid: str) -> SimVm:
        vm = self._get(vm_uuid)
        if vm.state is not VmPowerState.STOPPED:
            self._release(vm)
        return vm

    def reboot_vm(self, vm_uuid: str) -> SimVm:
        vm = self._get(vm_uuid)
        if vm.state is not VmPowerState.RUNNING:
            raise VmError("INVALID_STATE", f"cannot reboot a VM that is {vm.state}")
        return vm

    def pause_vm(self, vm_uuid: str) -> SimVm:
        vm = self._get(vm_uuid)
        if vm.state is VmPowerState.STOPPED:
            raise VmError("INVALID_STATE", "cannot pause a stopped VM")
        vm.state = VmPowerState.PAUSED
        return vm

    def resume_vm(self, vm_uuid: str) -> SimVm:
        vm = self._get(vm_uuid)
        if vm.state is VmPowerState.STOPPED:
            raise VmError("INVALID_STATE", "cannot resume a stopped VM")
        vm.state = VmPowerState.RUNNING
        return vm

    def migrate_vm(self, vm_uuid: str, dest: SimHost) -> SimVm:
        """Move a running VM to ``dest`` (no ``await`` between the check and the move, so
        both hosts' counters stay exact); a VM already on ``dest`` and gone from here
        succeeds (idempotent)."""
        vm = self.vms.get(vm_uuid)
        if vm is None:
            moved = dest.vms.get(vm_uuid)
            if moved is not None:
                return moved
            raise VmError("NOT_FOUND", f"no VM {vm_uuid} on host {self.uuid} or {dest.uuid}")
        if vm.state is VmPowerState.STOPPED:
            raise VmError("INVALID_STATE", "cannot live-migrate a stopped VM")
        if dest.crashed:
            raise VmError("UNREACHABLE", f"destination host {dest.uuid} is down")
        if dest.memory_used + vm.memory > dest.memory:
            raise VmError(
                "CAPACITY",
                f"destination {dest.uuid} needs {vm.memory} B of memory; "
                f"free {dest.memory - dest.memory_used} B",
            )
        del self.vms[vm_uuid]
        self.cpu_used -= vm.cpu
        self.memory_used -= vm.memory
        dest.cpu_used += vm.cpu
        dest.memory_used += vm.memory
        dest.vms[vm_uuid] = vm
        return vm

    def destroy_vm(self, vm_uuid: str) -> None:
        vm = self.vms.pop(vm_uuid, None)
        for volume in [v for v, holder in self.plugged.items() if holder == vm_uuid]:
            del self.plugged[volume]
        if vm is not None and vm.state is not VmPowerState.STOPPED:
            self.cpu_used -= vm.cpu
            self.memory_used -= vm.memory

    def set_vm_state(self, vm_uuid: str, state: str, cpu: int, memory: int) -> None:
        """A change on the host's own (a guest shut down, crashed, or a VM appeared):
        ``state`` is a power state, or ``Gone`` (undefined). Capacity follows, unchecked:
        the hypervisor did it, nobody asked."""
        vm = self.vms.get(vm_uuid)
        if state == "Gone":
            self.destroy_vm(vm_uuid)
            return
        target = VmPowerState(state)
        if vm is None:
            vm = self.vms[vm_uuid] = SimVm(vm_uuid, "", cpu, memory, VmPowerState.STOPPED)
        if vm.state is VmPowerState.STOPPED and target is not VmPowerState.STOPPED:
            self.cpu_used += vm.cpu
            self.memory_used += vm.memory
        elif target is VmPowerState.STOPPED and vm.state is not VmPowerState.STOPPED:
            self._release(vm)
        vm.state = target

    def summary(self) -> dict[str, object]:
        return {
            "uuid": self.uuid,
            "cpuNum": self.cpu,
            "cpuUsed": self.cpu_used,
            "memoryBytes": self.memory,
            "memoryUsed": self.memory_used,
            "vmCount": len(self.vms),
            "crashed": self.crashed,
            "mounts": dict(self.mounts),
        }

    def detail(self) -> dict[str, object]:
        return {
            **self.summary(),
            "vms": [
                {
                    "uuid": v.uuid,
                    "name": v.name,
                    "cpuNum": v.cpu,
                    "memoryBytes": v.memory,
                    "powerState": v.state,
                    "hostname": v.hostname,
                }
                for v in self.vms.values()
            ],
            "bridges": dict(self.bridges),
            "volumes": {v.uuid: v.size for v in self.volumes.values()},
            "snapshots": {s.uuid: s.volume for s in self.snapshots.values()},
            "plugged": dict(self.plugged),
            "faults": [f.model_dump(mode="json") for f in self.faults],
        }
