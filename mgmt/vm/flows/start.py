"""StartVmInstance, under the state machine (Starting while it runs; Running, or back to
where it was). A Stopped VM: ``allocate-host`` (its last host, where its root volume is)
→ ``start-on-host``. A Created VM (JustCreate) gets what a create would have given it:
``allocate-host`` → ``allocate-nics`` → ``reserve-root-volume-capacity`` →
``start-on-host``. A failure gives back what the run took; a take-over rolls it back."""

from __future__ import annotations

from typing import Any

from mgmt.allocator import HostAllocator
from mgmt.core.db import Database
from mgmt.core.flow import FlowDef, Interrupt
from mgmt.core.states import StatefulOperation
from mgmt.vm.flows.steps import (
    AgentUrl,
    AllocateNics,
    AllocateVmHost,
    ReserveRootVolumeCapacity,
    StartOnHost,
    VmCtx,
)
from mgmt.vm.states import START, VM_STATES


def start_operations(
    db: Database, allocator: HostAllocator, agent_url: AgentUrl, agents: Any
) -> tuple[StatefulOperation[VmCtx], StatefulOperation[VmCtx]]:
    """(start a Stopped VM, first start of a Created one)."""
    again = FlowDef(
        "StartVmInstance",
        VmCtx,
        [AllocateVmHost(allocator, db, agent_url), StartOnHost(agents)],
        on_interrupt=Interrupt.ROLLBACK,
    )
    first = FlowDef(
        "StartVmInstanceFirst",
        VmCtx,
        [
            AllocateVmHost(allocator, db, agent_url),
            AllocateNics(db),
            ReserveRootVolumeCapacity(db),
            StartOnHost(agents),
        ],
        on_interrupt=Interrupt.ROLLBACK,
    )
    return StatefulOperation(VM_STATES, START, again), StatefulOperation(VM_STATES, START, first)
