"""The VM state machine (``mgmt/core/states``): its states, which are transitional, and
the operations that move a VM. An operation not allowed in the VM's current state is a 409
naming the state and the operations allowed now; a transitional state is always owned by
the run of its operation and left when that run ends, however it ends."""

from __future__ import annotations

from enum import StrEnum

from mgmt.core.states import Operation, StateMachine
from mgmt.vm.models import VmInstanceRow


class VmState(StrEnum):
    CREATED = "Created"
    STARTING = "Starting"
    RUNNING = "Running"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    REBOOTING = "Rebooting"
    PAUSING = "Pausing"
    PAUSED = "Paused"
    RESUMING = "Resuming"
    MIGRATING = "Migrating"
    DESTROYING = "Destroying"
    DESTROYED = "Destroyed"
    EXPUNGING = "Expunging"
    UNKNOWN = "Unknown"
    ERROR = "Error"


START = "start"
STOP = "stop"
REBOOT = "reboot"
PAUSE = "pause"
RESUME = "resume"
DESTROY = "destroy"
MIGRATE = "migrate"
CHANGE_OFFERING = "change-instance-offering"
RECOVER = "recover"
EXPUNGE = "expunge"
#: why a Running or Paused VM's offering does not change (no hypervisor here hot-plugs)
NO_HOT_PLUG = "the hypervisor does not hot-plug CPU or memory: stop the VM first"

VM_STATES = StateMachine(
    "VmInstance",
    VmState,
    model=VmInstanceRow,
    transitional={
        VmState.STARTING,
        VmState.STOPPING,
        VmState.REBOOTING,
        VmState.PAUSING,
        VmState.RESUMING,
        VmState.DESTROYING,
        VmState.MIGRATING,
        VmState.EXPUNGING,
    },
    operations=[
        # the create flow holds a new VM with this operation too (by insertion)
        Operation(
            START,
            {VmState.CREATED, VmState.STOPPED},
            transitional=VmState.STARTING,
            success=VmState.RUNNING,
        ),
        Operation(
            STOP,
            {VmState.RUNNING, VmState.PAUSED},
            transitional=VmState.STOPPING,
            success=VmState.STOPPED,
        ),
        Operation(
            REBOOT, {VmState.RUNNING}, transitional=VmState.REBOOTING, success=VmState.RUNNING
        ),
        Operation(PAUSE, {VmState.RUNNING}, transitional=VmState.PAUSING, success=VmState.PAUSED),
        Operation(RESUME, {VmState.PAUSED}, transitional=VmState.RESUMING, success=VmState.RUNNING),
        # a failed or rolled-back migrate leaves it Running on its source host
        Operation(
            MIGRATE, {VmState.RUNNING}, transitional=VmState.MIGRATING, success=VmState.RUNNING
        ),
        # in one transaction: the VM stays Stopped (no transitional state)
        Operation(CHANGE_OFFERING, {VmState.STOPPED}, success=VmState.STOPPED),
        Operation(
            DESTROY,
            {
                VmState.CREATED,
                VmState.RUNNING,
                VmState.STOPPED,
                VmState.PAUSED,
                VmState.UNKNOWN,
                VmState.ERROR,
                VmState.DESTROYED,  # a destroy whose row removal did not happen: again
            },
            transitional=VmState.DESTROYING,
            success=VmState.DESTROYED,
        ),
        # a VM destroyed under the Delay or Never policy: back to Stopped with new NICs
        Operation(RECOVER, {VmState.DESTROYED}, success=VmState.STOPPED),
        # what it still holds given back; the service then removes the row (a run that
        # ends before the removal leaves it Destroyed: expunging again removes it)
        Operation(
            EXPUNGE, {VmState.DESTROYED}, transitional=VmState.EXPUNGING, success=VmState.DESTROYED
        ),
    ],
)
