"""Inventories that need more than their row (members, attachments); the others are
derived from their declarations. Never a secret."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.identity.messages import (
    GroupInventory,
    PolicyInventory,
    PolicyStatement,
)
from mgmt.identity.models import (
    GroupMemberRow,
    GroupRow,
    PolicyAttachmentRow,
    PolicyRow,
)


async def group(s: AsyncSession, row: GroupRow) -> GroupInventory:
    members = await s.execute(
        select(GroupMemberRow.user_uuid).where(GroupMemberRow.group_uuid == row.uuid)
    )
    return GroupInventory(
        uuid=row.uuid,
        accountUuid=row.account_uuid,
        name=row.name,
        description=row.description,
        userUuids=sorted(u for (u,) in members.all()),
        createDate=row.created_at,
    )


async def policy(s: AsyncSession, row: PolicyRow) -> PolicyInventory:
    attached = await s.execute(
        select(PolicyAttachmentRow.principal_uuid).where(
            PolicyAttachmentRow.policy_uuid == row.uuid
        )
    )
    return PolicyInventory(
        uuid=row.uuid,
        accountUuid=row.account_uuid,
        name=row.name,
        description=row.description,
        statements=[PolicyStatement.model_validate(x) for x in json.loads(row.statements)],
        principalUuids=sorted(p for (p,) in attached.all()),
        createDate=row.created_at,
    )
