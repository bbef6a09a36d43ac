"""How an operation is declared: a flow is a recipe of named steps over a typed context.

A service declares each operation in one module::

    CREATE_THING = FlowDef(
        "CreateThing",
        CreateThingCtx,
        steps=[AllocateCapacity(db), WriteRow(db), NotifyAgent(agents)],
        on_interrupt=Interrupt.RESUME,
    )

``ctx`` is a pydantic model (it is persisted after every step); a step's ``run`` returns a
JSON-serialisable result that its ``rollback`` receives back, possibly on another node after
a take-over. Steps must be idempotent: the step a node died in is run again. Plugins add
steps at named anchors through ``FlowExtension`` without editing the flow's module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel

from mgmt.core.errors import ErrorCode

C = TypeVar("C", bound=BaseModel)
SubC = TypeVar("SubC", bound=BaseModel)

#: What a step's run returns: stored as JSON, handed back to its rollback.
StepResult = Any


@dataclass(frozen=True)
class RetryPolicy:
    """How often a step is tried when it raises ``TemporaryError`` (or a transient
    database/network error). ``PermanentError`` and other exceptions are never retried.
    Validated when declared, so a bad policy fails at start-up, not mid-flow."""

    max_attempts: int = 3
    initial_delay: float = 0.2
    backoff: float = 2.0
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be >= 1")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("RetryPolicy delays must be >= 0")
        if self.backoff < 1:
            raise ValueError("RetryPolicy.backoff must be >= 1")

    def delay(self, attempt: int, asked: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``asked``: the error's delay)."""
        computed = min(self.max_delay, self.initial_delay * self.backoff ** (attempt - 1))
        return max(computed, asked or 0.0)


NO_RETRY = RetryPolicy(max_attempts=1)


class Step(Generic[C]):
    """One named step of a flow. Subclass, set ``name`` and implement ``run``.

    ``run`` may be called again after a node died in it (make it idempotent). ``rollback``
    undoes ``run`` given its result; it is called for steps whose run completed, in reverse
    order, and is retried by the GC queue when it fails. When a flow declared
    ``Interrupt.ROLLBACK`` loses its node in the middle of a step, that step's rollback is
    called with ``result=None``: undo whatever the interrupted run may have done. So is the
    rollback of a step with ``undo_on_timeout`` whose run failed with ``OperationTimeout``
    (its work may have happened without an answer: an agent command past its deadline),
    and of a step with ``undo_on_failure`` whose run failed in any way (a step that does
    several things and may fail after the first: its rollback undoes what is there).
    ``no_rollback`` marks a step past the point of no return: it is never undone, and a
    flow interrupted after it is always resumed, never rolled back.
    """

    name: ClassVar[str] = ""
    no_rollback: ClassVar[bool] = False
    undo_on_timeout: ClassVar[bool] = False
    undo_on_failure: ClassVar[bool] = False
    retry: ClassVar[RetryPolicy] = RetryPolicy()

    @property
    def step_name(self) -> str:
        return self.name or type(self).__name__

    async def run(self, ctx: C) -> StepResult:
        raise NotImplementedError

    async def rollback(self, ctx: C, result: StepResult) -> None:
        return None


class Interrupt(StrEnum):
    """What the node taking over a flow whose node died does with it."""

    RESUME = "resume"  # re-run the interrupted step, then go on
    ROLLBACK = "rollback"  # undo what completed


ErrorHandler = Callable[[Any, ErrorCode], Awaitable[None]]
FinallyHandler = Callable[[Any], Awaitable[None]]


@dataclass(frozen=True)
class FlowDef(Generic[C]):
    """A declared flow. ``name`` is stored with every run and must stay stable."""

    name: str
    ctx_type: type[C]
    steps: Sequence[Step[C]]
    on_interrupt: Interrupt = Interrupt.RESUME
    #: Called after the rollback of a failed run (ctx, error); exceptions are logged.
    on_error: Sequence[ErrorHandler] = ()
    #: Called after every run, succeeded or not (ctx); exceptions are logged.
    finally_: Sequence[FinallyHandler] = ()

    def __post_init__(self) -> None:
        names = [s.step_name for s in self.steps]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"flow {self.name}: step names must be unique, repeated: {dupes}")
        if not self.steps:
            raise ValueError(f"flow {self.name} has no steps")


class SubFlow(Step[C], Generic[C, SubC]):
    """A step that runs another flow as a child run (durable in its own row).

    ``make_ctx`` builds the child's context from the parent's; ``merge`` copies what the
    child produced back into the parent. Rolling this step back rolls the child back.
    """

    def __init__(
        self,
        flow: FlowDef[SubC],
        make_ctx: Callable[[C], SubC],
        merge: Callable[[C, SubC], None] | None = None,
        *,
        name: str | None = None,
    ) -> None:
        self.flow = flow
        self.make_ctx = make_ctx
        self.merge = merge
        self._name = name or f"sub:{flow.name}"

    @property
    def step_name(self) -> str:
        return self._name


class Position(StrEnum):
    BEFORE = "before"
    AFTER = "after"


@dataclass(frozen=True)
class Insertion:
    """A step a plugin adds to ``flow`` before or after the step named ``anchor``."""

    flow: str
    anchor: str
    position: Position
    step: Step[Any]


class FlowExtension(Protocol):
    """Extension point (observer kind): plugins add steps to flows at named anchors.

    Called once per flow when the composition root resolves the flows, in plugin
    registration order; insertions at the same anchor keep that order. An anchor that does
    not exist fails start-up with the flow and anchor named.
    """

    def flow_insertions(self) -> Sequence[Insertion]: ...


def with_insertions(flow: FlowDef[C], insertions: Sequence[Insertion]) -> FlowDef[C]:
    """``flow`` with every insertion aimed at it applied."""
    mine = [i for i in insertions if i.flow == flow.name]
    if not mine:
        return flow
    steps: list[Step[C]] = list(flow.steps)
    for ins in mine:
        names = [s.step_name for s in steps]
        if ins.anchor not in names:
            raise ValueError(
                f"plugin step {ins.step.step_name!r} targets anchor {ins.anchor!r} "
                f"which flow {flow.name} does not have (steps: {names})"
            )
        at = names.index(ins.anchor)
        # later insertions at one anchor go after earlier ones on either side
        if ins.position == Position.AFTER:
            at += 1
            while at < len(steps) and any(
                steps[at] is other.step for other in mine if other.anchor == ins.anchor
            ):
                at += 1
        steps.insert(at, ins.step)
    return FlowDef(
        flow.name,
        flow.ctx_type,
        steps,
        on_interrupt=flow.on_interrupt,
        on_error=flow.on_error,
        finally_=flow.finally_,
    )


@dataclass
class FlowRegistry:
    """Flow name -> resolved definition, built by the composition root (the take-over and
    the GC queue look flows up by the name stored in a run)."""

    _flows: dict[str, FlowDef[Any]] = field(default_factory=dict)

    def add(self, flow: FlowDef[Any], insertions: Sequence[Insertion] = ()) -> FlowDef[Any]:
        if flow.name in self._flows:
            raise ValueError(f"two flows named {flow.name!r}")
        resolved = with_insertions(flow, insertions)
        self._flows[flow.name] = resolved
        for step in resolved.steps:
            if isinstance(step, SubFlow) and step.flow.name not in self._flows:
                self._flows[step.flow.name] = step.flow
        return resolved

    def get(self, name: str) -> FlowDef[Any] | None:
        return self._flows.get(name)

    def __getitem__(self, name: str) -> FlowDef[Any]:
        flow = self._flows.get(name)
        if flow is None:
            raise KeyError(f"no flow named {name!r} is registered")
        return flow

    def names(self) -> list[str]:
        return sorted(self._flows)
