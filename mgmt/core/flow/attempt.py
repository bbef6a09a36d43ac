"""Which attempt of which step of which run is executing: ``current_attempt()``.

The engine (and the GC queue, which re-runs rollbacks and clean-ups outside the engine's
loop) sets it around every ``Step.run`` and ``Step.rollback``, so a step can derive names
that are stable across a take-over without the engine knowing what the step does: the
durable agent step derives its task UUID from it (``mgmt.core.agenttasks.step``), and a
step that starts child runs derives their uuids from it.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

# A fixed namespace: the same (run, step, phase, attempt) names the same UUID on every node
# and in every release, which is what lets a resumed step find the task it already sent.
_NAMESPACE = uuidlib.UUID("5b0e6c9e-2f55-4d8e-9a57-6f1f9c1c2a10")


@dataclass(frozen=True)
class StepAttempt:
    """One try of one step. ``phase`` is ``run``, ``rollback`` or ``gc:<job uuid>`` (a GC
    retry); ``attempt`` counts from 1 within the phase (the step's ``RetryPolicy`` tries,
    or the GC job's attempts). A node that takes a run over starts counting again from 1,
    so it re-attaches to what the first attempts did, in order."""

    flow_uuid: str
    flow_name: str
    resource_uuid: str
    step: str
    phase: str
    attempt: int
    #: the run's epoch on the node executing it (1: its first owner; 0 in a GC retry)
    epoch: int = 0

    def derive_uuid(self, purpose: str = "") -> str:
        """A UUID that only this attempt (and ``purpose`` within it) ever names."""
        name = f"{self.flow_uuid}|{self.step}|{self.phase}|{self.attempt}|{purpose}"
        return str(uuidlib.uuid5(_NAMESPACE, name))


_current: ContextVar[StepAttempt | None] = ContextVar("zcloud_step_attempt", default=None)


def current_attempt() -> StepAttempt:
    """The attempt being executed; raises ``RuntimeError`` outside a step."""
    attempt = _current.get()
    if attempt is None:
        raise RuntimeError("not inside a flow step: run it through FlowEngine")
    return attempt


@contextmanager
def executing(attempt: StepAttempt) -> Iterator[None]:
    """Mark ``attempt`` as current (tasks created inside inherit it)."""
    token = _current.set(attempt)
    try:
        yield
    finally:
        _current.reset(token)
