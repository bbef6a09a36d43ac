"""Resource types declare what they depend on; the graph plans a delete across them.

Each resource type implements ``CascadeResource`` once, in its own service, and joins the
graph through the ``CASCADE_RESOURCES`` extension point (a strategy keyed by type name): no
other resource's code changes. The graph orders types so that a type comes after everything
it depends on; a delete removes the deepest dependents first and the root last.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.flow import FlowDef
from mgmt.core.plugins import ExtensionPoint, Kind


class DeleteMode(StrEnum):
    #: Every affected resource's check may veto the delete, with a reason for the caller.
    PERMISSIVE = "Permissive"
    #: No checks; errors are logged and the delete goes on until nothing is left.
    ENFORCING = "Enforcing"


class CascadeResource(Protocol):
    """A resource type's part in cascades. All calls for one delete happen on the root
    resource's partition, inside the cascade flow; ``check``/``delete`` get the flow's
    transaction (``session``), ``cleanup`` runs after the commit (external clean-up: agents,
    storage), and must be idempotent like every flow step."""

    #: The type's name, e.g. ``"Cluster"``.
    type_name: str
    #: Types this one depends on (its parents); deleting a parent deletes it.
    parents: Sequence[str]

    async def dependents_of(
        self, session: AsyncSession, parent_type: str, parent_uuids: Sequence[str]
    ) -> list[str]:
        """UUIDs of resources of this type that depend on the given parents."""
        ...

    async def check(self, session: AsyncSession, uuids: Sequence[str]) -> str | None:
        """Permissive mode only: a reason to refuse deleting these, or None."""
        ...

    async def delete(self, session: AsyncSession, uuids: Sequence[str], *, force: bool) -> None:
        """Remove the rows (``force``: Enforcing mode, ignore soft refusals)."""
        ...

    async def cleanup(self, uuids: Sequence[str]) -> None:
        """After the delete committed: release what lives outside the database."""
        ...


class CascadeObserver(Protocol):
    """Told of every resource a cascade deleted, in the delete's transaction (e.g. tags go
    with their resource). Registration order; an exception aborts the delete (Permissive)
    or is logged (Enforcing)."""

    async def resources_deleted(
        self, session: AsyncSession, type_name: str, uuids: Sequence[str]
    ) -> None: ...


@dataclass(frozen=True)
class Release:
    """One clean-up flow to run before a resource's rows go (destroy the VM on its host,
    delete the volume file): ``flow`` on ``ctx``. The ctx must carry everything the flow
    needs, since the rows are gone by the time the GC queue retries a failed release."""

    flow: FlowDef[Any]
    ctx: BaseModel


class CascadeRelease(Protocol):
    """A resource type's side effects on delete (strategy keyed by type name; optional: a
    type without one has none). Called in the cascade flow's ``release`` step, after the
    checks and before the delete, on the root's partition, for the resources of the type
    that the delete will remove. Each ``Release`` runs as a child flow (its agent steps are
    sent once, however often the step is resumed); one that fails goes to the GC queue and
    is retried with back-off until it succeeds, and the delete goes on."""

    #: The resource type, e.g. ``"VmInstance"``.
    type_name: str
    #: Every flow ``releases`` may return (registered at start-up: a take-over and the GC
    #: queue find them by name).
    flows: Sequence[FlowDef[Any]]

    async def releases(self, session: AsyncSession, uuids: Sequence[str]) -> Sequence[Release]:
        """The clean-up flows for these resources (read from their rows); [] for none."""
        ...


CASCADE_RESOURCES: ExtensionPoint[CascadeResource] = ExtensionPoint(
    "cascade.resource",
    CascadeResource,
    Kind.STRATEGY,
    "A resource type's cascade declaration, keyed by type name; consulted by every delete.",
)
CASCADE_RELEASES: ExtensionPoint[CascadeRelease] = ExtensionPoint(
    "cascade.release",
    CascadeRelease,
    Kind.STRATEGY,
    "A resource type's clean-up flows (agents, storage), run before its rows are deleted; "
    "a failed one is retried by the GC queue.",
)
CASCADE_OBSERVERS: ExtensionPoint[CascadeObserver] = ExtensionPoint(
    "cascade.observer",
    CascadeObserver,
    Kind.OBSERVER,
    "Called for each type's deleted resources inside the delete transaction.",
)


class CascadeGraph:
    """The declared types, ordered parents-first; refuses unknown parents and cycles."""

    def __init__(
        self,
        resources: Iterable[CascadeResource],
        observers: Iterable[CascadeObserver] = (),
        releases: Iterable[CascadeRelease] = (),
    ) -> None:
        self.by_type = {r.type_name: r for r in resources}
        self.observers = list(observers)
        self.releases = {r.type_name: r for r in releases}
        for r in self.by_type.values():
            unknown = [p for p in r.parents if p not in self.by_type]
            if unknown:
                raise ValueError(f"{r.type_name} depends on undeclared types {unknown}")
        undeclared = sorted(set(self.releases) - set(self.by_type))
        if undeclared:
            raise ValueError(f"cascade releases for undeclared types {undeclared}")
        self.order = self._topological()

    def _topological(self) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(t: str, path: list[str]) -> None:
            if state.get(t) == 2:
                return
            if state.get(t) == 1:
                raise ValueError(f"cascade dependency cycle: {' -> '.join([*path, t])}")
            state[t] = 1
            for parent in self.by_type[t].parents:
                visit(parent, [*path, t])
            state[t] = 2
            order.append(t)

        for t in sorted(self.by_type):
            visit(t, [])
        return order

    def release_flows(self) -> list[FlowDef[Any]]:
        """Every clean-up flow of every type (for the composition root's flow registry)."""
        return [f for r in self.releases.values() for f in r.flows]

    async def plan(
        self, session: AsyncSession, root_type: str, root_uuids: Sequence[str]
    ) -> list[tuple[str, list[str]]]:
        """Every affected (type, uuids), in delete order: dependents first, root last."""
        if root_type not in self.by_type:
            raise LookupError(f"no cascade declaration for type {root_type!r}")
        found: dict[str, list[str]] = {root_type: list(dict.fromkeys(root_uuids))}
        for t in self.order:  # parents before children: a type sees all its parents' sets
            if t == root_type:
                continue
            mine: dict[str, None] = {}
            for parent in self.by_type[t].parents:
                if found.get(parent):
                    for u in await self.by_type[t].dependents_of(session, parent, found[parent]):
                        mine[u] = None
            if mine:
                found[t] = list(mine)
        return [(t, found[t]) for t in reversed(self.order) if found.get(t)]
