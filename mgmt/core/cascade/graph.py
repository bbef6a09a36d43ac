"""Resource types declare what they depend on; the graph plans a delete across them.

Each resource type implements ``CascadeResource`` once, in its own service, and joins the
graph through the ``CASCADE_RESOURCES`` extension point (a strategy keyed by type name): no
other resource's code changes. The graph orders types so that a type comes after everything
it depends on; a delete removes the deepest dependents first and the root last.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

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


CASCADE_RESOURCES: ExtensionPoint[CascadeResource] = ExtensionPoint(
    "cascade.resource",
    CascadeResource,
    Kind.STRATEGY,
    "A resource type's cascade declaration, keyed by type name; consulted by every delete.",
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
        self, resources: Iterable[CascadeResource], observers: Iterable[CascadeObserver] = ()
    ) -> None:
        self.by_type = {r.type_name: r for r in resources}
        self.observers = list(observers)
        for r in self.by_type.values():
            unknown = [p for p in r.parents if p not in self.by_type]
            if unknown:
                raise ValueError(f"{r.type_name} depends on undeclared types {unknown}")
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
