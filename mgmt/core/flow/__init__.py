"""The workflow engine: operations as durable recipes of named steps with rollback.

Declare a ``FlowDef`` (definition.py), register it in the composition root's
``FlowRegistry``, and run it from a handler with ``FlowEngine.run``. ``FlowRecovery`` and
``GarbageCollector`` finish what dead nodes and failed rollbacks left.
"""

from mgmt.core.flow.attempt import StepAttempt, current_attempt
from mgmt.core.flow.definition import (
    NO_RETRY,
    FlowDef,
    FlowExtension,
    FlowRegistry,
    Insertion,
    Interrupt,
    Position,
    RetryPolicy,
    Step,
    SubFlow,
)
from mgmt.core.flow.engine import (
    FlowEndObserver,
    FlowEngine,
    FlowFailed,
    FlowObserver,
    RunInfo,
)
from mgmt.core.flow.errors import FlowCodes
from mgmt.core.flow.metrics import FlowMetrics
from mgmt.core.flow.models import FlowRunRow, FlowState, GcJobRow, GcKind, GcState
from mgmt.core.flow.recovery import FlowRecovery, GarbageCollector
from mgmt.core.flow.store import (
    DbFlowStore,
    FlowFenced,
    FlowRecord,
    FlowStore,
    GcJob,
    MemoryFlowStore,
)

__all__ = [
    "NO_RETRY",
    "DbFlowStore",
    "FlowCodes",
    "FlowDef",
    "FlowEndObserver",
    "FlowEngine",
    "FlowExtension",
    "FlowFailed",
    "FlowFenced",
    "FlowMetrics",
    "FlowObserver",
    "FlowRecord",
    "FlowRecovery",
    "FlowRegistry",
    "FlowRunRow",
    "FlowState",
    "FlowStore",
    "GarbageCollector",
    "GcJob",
    "GcJobRow",
    "GcKind",
    "GcState",
    "Insertion",
    "Interrupt",
    "MemoryFlowStore",
    "Position",
    "RetryPolicy",
    "RunInfo",
    "Step",
    "StepAttempt",
    "SubFlow",
    "current_attempt",
]
