"""The diagnostics service's state machine: a toy resource that starts and stops through the
5-step counter flow, so the suite can SIGKILL a node in the middle of an operation and check
the resource always ends in a stable state (the state machine framework end to end)."""

from __future__ import annotations

from enum import StrEnum

from mgmt.core.db import Database
from mgmt.core.flow import FlowDef, Interrupt
from mgmt.core.gconfig import GlobalConfigService
from mgmt.core.states import Operation, StatefulOperation, StateMachine
from mgmt.core.tags import TagService
from mgmt.diag.flows import DiagFlowCtx, counter_steps
from mgmt.diag.models import DiagStateful


class DiagState(StrEnum):
    STOPPED = "Stopped"
    STARTING = "Starting"
    RUNNING = "Running"
    STOPPING = "Stopping"


DIAG_STATES = StateMachine(
    "DiagStateful",
    DiagState,
    model=DiagStateful,
    transitional={DiagState.STARTING, DiagState.STOPPING},
    operations=[
        Operation(
            "start",
            {DiagState.STOPPED},
            transitional=DiagState.STARTING,
            success=DiagState.RUNNING,
        ),
        Operation(
            "stop",
            {DiagState.RUNNING},
            transitional=DiagState.STOPPING,
            success=DiagState.STOPPED,
        ),
    ],
)


def state_operations(
    db: Database, tags: TagService, gconfig: GlobalConfigService
) -> dict[tuple[str, str], StatefulOperation[DiagFlowCtx]]:
    """(operation, "resume" | "rollback") -> the operation run as a counter flow that a
    take-over resumes or rolls back."""
    resume = FlowDef(
        "DiagStateOp", DiagFlowCtx, counter_steps(db, tags, gconfig), on_interrupt=Interrupt.RESUME
    )
    rollback = FlowDef(
        "DiagStateOpRollback",
        DiagFlowCtx,
        counter_steps(db, tags, gconfig),
        on_interrupt=Interrupt.ROLLBACK,
    )
    return {
        (op.name, mode): StatefulOperation(DIAG_STATES, op.name, flow)
        for op in DIAG_STATES.operations
        for mode, flow in (("resume", resume), ("rollback", rollback))
    }
