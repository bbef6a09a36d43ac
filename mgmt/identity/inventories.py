"""Rows to API inventories (what every read and reply shows; never a secret)."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.identity.messages import (
    AccessKeyInventory,
    AccountInventory,
    GroupInventory,
    PolicyInventory,
    PolicyStatement,
    UserInventory,
)
from mgmt.identity.models import (
    AccessKeyRow,
    AccountRow,
    GroupMemberRow,
    GroupRow,
    PolicyAttachmentRow,
    PolicyRow,
    UserRow,
)


def account(row: AccountRow) -> AccountInventory:
    return AccountInventory(
        uuid=row.uuid,
        name=row.name,
        type=row.type,
        description=row.description,
        createDate=row.created_at,
        lastOpDate=row.updated_at,
    )


def user(row: UserRow) -> UserInventory:
    return UserInventory(
        uuid=row.uuid,
        accountUuid=row.account_uuid,
        name=row.name,
        description=row.description,
        createDate=row.created_at,
        lastOpDate=row.updated_at,
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


def access_key(row: AccessKeyRow) -> AccessKeyInventory:
    return AccessKeyInventory(
        uuid=row.uuid,
        keyId=row.key_id,
        accountUuid=row.account_uuid,
        userUuid=row.user_uuid,
        state=row.state,
        createDate=row.created_at,
    )
