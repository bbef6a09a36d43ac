"""Cascade declarations of zones and clusters: a cluster depends on its zone, both on their
owner account; deleting them gives their quota back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core import quota
from mgmt.core.cascade.table import Hook, TableCascade
from mgmt.zone.models import ClusterRow, ZoneRow


def _release(model: Any, quota_name: str) -> Hook:
    async def release(session: AsyncSession, uuids: Sequence[str]) -> None:
        owners = await session.execute(
            select(model.owner_account_uuid, func.count())
            .where(model.uuid.in_(uuids))
            .group_by(model.owner_account_uuid)
        )
        for owner, n in owners.all():
            await quota.release(session, owner, quota_name, int(n))

    return release


def declarations() -> list[TableCascade]:
    return [
        TableCascade(
            "Zone",
            ZoneRow,
            parents={"Account": ZoneRow.owner_account_uuid},
            before_delete=_release(ZoneRow, "zone.num"),
        ),
        TableCascade(
            "Cluster",
            ClusterRow,
            parents={"Zone": ClusterRow.zone_uuid, "Account": ClusterRow.owner_account_uuid},
            before_delete=_release(ClusterRow, "cluster.num"),
        ),
    ]
