"""Cascade declarations of the diagnostic resource types (each declares only itself).

DiagZone > DiagCluster > DiagHost > DiagVm, and DiagNic depending on both a DiagVm and a
DiagCluster: four levels plus a second path, enough to prove ordering and vetoes.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.db import Database
from mgmt.diag.models import DiagDeleted, DiagResource

TYPES: dict[str, tuple[str, ...]] = {
    "DiagZone": (),
    "DiagCluster": ("DiagZone",),
    "DiagHost": ("DiagCluster",),
    "DiagVm": ("DiagHost",),
    "DiagNic": ("DiagVm", "DiagCluster"),
}


class DiagResourceType:
    """``CascadeResource`` for one diagnostic type."""

    def __init__(self, type_name: str, db: Database) -> None:
        self._db = db
        self.type_name = type_name
        self.parents: Sequence[str] = TYPES[type_name]

    async def dependents_of(
        self, session: AsyncSession, parent_type: str, parent_uuids: Sequence[str]
    ) -> list[str]:
        rows = await session.execute(
            select(DiagResource.uuid).where(
                DiagResource.type == self.type_name,
                or_(
                    DiagResource.parent_uuid.in_(parent_uuids),
                    DiagResource.other_parent_uuid.in_(parent_uuids),
                ),
            )
        )
        return [u for (u,) in rows.all()]

    async def check(self, session: AsyncSession, uuids: Sequence[str]) -> str | None:
        rows = await session.execute(
            select(DiagResource.uuid, DiagResource.veto_reason).where(
                DiagResource.uuid.in_(uuids), DiagResource.veto_reason.is_not(None)
            )
        )
        first = rows.first()
        return f"{self.type_name} {first[0]}: {first[1]}" if first else None

    async def delete(self, session: AsyncSession, uuids: Sequence[str], *, force: bool) -> None:
        gone = (
            await session.execute(
                delete(DiagResource)
                .where(DiagResource.uuid.in_(uuids))
                .returning(DiagResource.uuid)
            )
        ).all()
        for (u,) in gone:
            session.add(DiagDeleted(uuid=u, type=self.type_name))

    async def cleanup(self, uuids: Sequence[str]) -> None:
        # after the commit; leaves a trace so tests can see the phase ran (idempotent)
        async with self._db.session() as s, s.begin():
            await s.execute(
                update(DiagDeleted).where(DiagDeleted.uuid.in_(uuids)).values(cleaned=True)
            )
