"""How a resource type declares its states: ``StateMachine`` over ``Operation`` declarations.

A service declares its machine once, next to its models::

    VM_STATES = StateMachine(
        "VmInstance",
        VmState,  # a StrEnum: every state the resource can be in
        model=VmInstanceRow,  # a table with StateColumns
        transitional={VmState.STARTING, VmState.STOPPING, ...},
        operations=[
            Operation("start", {VmState.STOPPED}, success=VmState.RUNNING,
                      transitional=VmState.STARTING),
            Operation("stop", {VmState.RUNNING, VmState.PAUSED}, success=VmState.STOPPED,
                      transitional=VmState.STOPPING),  # failure: back where it started
            ...
        ],
    )

The declaration is checked when it is made (start-up), so a machine that could leave a
resource stuck fails there: unknown states, a transitional state no operation owns (or two
do), an operation that ends in a transitional state or starts from one. Moving a resource
(``begin``/``finish``) is in ``transitions.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import String, Table
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db.types import UtcDateTime

S = TypeVar("S", bound=StrEnum)


class StateCodes:
    """Error catalogue of the state machine framework (STATE.1001 answers HTTP 409)."""

    ILLEGAL = ("STATE.1001", "Operation not allowed in the resource's current state")


class StateColumns:
    """The columns a resource table under a state machine has (a declarative mixin).

    ``state`` is the resource's state; the ``op_*`` columns are set while an operation
    holds the resource (``op_holder`` = the flow run id) and cleared when it leaves:
    ``op_from`` is the state it started from (where a failure returns by default) and
    ``op_since`` the database time it began (the sweeper's grace for a run never created).
    """

    state: Mapped[str] = mapped_column(String(32), index=True)
    op_holder: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    op_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    op_from: Mapped[str | None] = mapped_column(String(32), nullable=True)
    op_since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


_STATE_COLUMNS = ("uuid", "state", "op_holder", "op_name", "op_from", "op_since")


@dataclass(frozen=True)
class Operation(Generic[S]):
    """One operation of a machine: from which states it may begin, the transitional state
    it holds while it runs (None: the resource keeps its state), the state it ends in on
    success, and on failure or rollback (None: the state it started from)."""

    name: str
    allowed_from: frozenset[S]
    success: S
    transitional: S | None = None
    failure: S | None = None

    def __init__(
        self,
        name: str,
        allowed_from: Iterable[S],
        *,
        success: S,
        transitional: S | None = None,
        failure: S | None = None,
    ) -> None:
        # frozen: set through object.__setattr__ so a set literal can be passed
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "allowed_from", frozenset(allowed_from))
        object.__setattr__(self, "success", success)
        object.__setattr__(self, "transitional", transitional)
        object.__setattr__(self, "failure", failure)

    def stable_after(self, success: bool, started_from: S) -> S:
        """Where a run of this operation leaves the resource."""
        if success:
            return self.success
        return self.failure if self.failure is not None else started_from


class StateMachine(Generic[S]):
    """The states and operations of one resource type, validated when declared.

    ``model`` is the resource's table: a ``uuid`` primary key and ``StateColumns``.
    Immutable once declared.
    """

    def __init__(
        self,
        resource_type: str,
        states: type[S],
        *,
        model: Any,
        transitional: Iterable[S],
        operations: Sequence[Operation[S]],
    ) -> None:
        self.resource_type = resource_type
        self.states = states
        self.model = model
        self.transitional: frozenset[S] = frozenset(transitional)
        self.operations: tuple[Operation[S], ...] = tuple(operations)
        self._validate()
        self._by_name = {op.name: op for op in self.operations}
        self._owner = {op.transitional: op for op in self.operations if op.transitional is not None}

    def __repr__(self) -> str:
        return f"StateMachine({self.resource_type!r})"

    # -- validation ----------------------------------------------------------------------

    def _validate(self) -> None:
        where = f"state machine {self.resource_type}"
        if not self.operations:
            raise ValueError(f"{where} declares no operations")
        self._check_known(where, "transitional", self.transitional)
        names = [op.name for op in self.operations]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"{where}: operation names must be unique, repeated: {dupes}")
        owners: dict[S, list[str]] = {s: [] for s in self.transitional}
        for op in self.operations:
            at = f"{where}, operation {op.name!r}"
            if not op.name:
                raise ValueError(f"{where}: an operation has no name")
            if not op.allowed_from:
                raise ValueError(f"{at}: allowed from no state")
            self._check_known(at, "allowed_from", op.allowed_from)
            self._check_known(at, "success", [op.success])
            if op.failure is not None:
                self._check_known(at, "failure", [op.failure])
            if op.transitional is not None:
                self._check_known(at, "transitional", [op.transitional])
                if op.transitional not in self.transitional:
                    raise ValueError(
                        f"{at}: {op.transitional} is not declared transitional "
                        f"(transitional: {sorted(str(s) for s in self.transitional)})"
                    )
                owners[op.transitional].append(op.name)
        orphans = sorted(str(s) for s, ops in owners.items() if not ops)
        if orphans:
            raise ValueError(f"{where}: transitional states no operation holds: {orphans}")
        shared = {str(s): ops for s, ops in owners.items() if len(ops) > 1}
        if shared:
            raise ValueError(f"{where}: transitional states held by several operations: {shared}")
        for op in self.operations:
            at = f"{where}, operation {op.name!r}"
            # a transitional state is always held by a running operation: no operation may
            # begin from one (it is held) or leave a resource in one (nothing would own it)
            starts = sorted(str(s) for s in op.allowed_from & self.transitional)
            if starts:
                raise ValueError(f"{at}: cannot begin from transitional states {starts}")
            for kind, target in (("success", op.success), ("failure", op.failure)):
                if target is not None and target in self.transitional:
                    raise ValueError(f"{at}: {kind} state {target} is transitional")
        if not hasattr(self.model, "__table__"):
            raise ValueError(f"{where}: model {self.model!r} is not a mapped table")
        missing = [c for c in _STATE_COLUMNS if c not in self.table.c]
        if missing:
            raise ValueError(f"{where}: table {self.table.name} lacks columns {missing}")

    def _check_known(self, where: str, what: str, states: Iterable[Any]) -> None:
        unknown = sorted(str(s) for s in states if not isinstance(s, self.states))
        if unknown:
            known = [str(s) for s in self.states]
            raise ValueError(f"{where}: unknown {what} states {unknown} (states: {known})")

    # -- reading the declaration ---------------------------------------------------------

    @property
    def table(self) -> Table:
        table = self.model.__table__
        assert isinstance(table, Table)
        return table

    def all_states(self) -> list[S]:
        """Every declared state, in declaration order."""
        return list(self.states)

    def operation(self, name: str) -> Operation[S]:
        op = self._by_name.get(name)
        if op is None:
            raise KeyError(f"state machine {self.resource_type} has no operation {name!r}")
        return op

    def state(self, value: str) -> S:
        """The declared state named ``value`` (as stored in the table)."""
        return self.states(value)

    def allowed_operations(self, state: S | str) -> list[str]:
        """The operations that may begin in ``state``, in declaration order."""
        return [op.name for op in self.operations if state in op.allowed_from]

    def is_transitional(self, state: S | str) -> bool:
        return state in self.transitional

    def owner_of(self, transitional: S) -> Operation[S]:
        """The one operation that holds ``transitional`` while it runs."""
        return self._owner[transitional]
