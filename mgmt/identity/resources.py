"""Identity resources, declared: accounts, users, groups, policies and access keys.

An account takes everything it owns with it (other services' resources name ``Account``
through their owner column); a user takes its sessions, memberships, attachments and keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.quota import QuotaRow
from mgmt.core.resource import Parent, ResourceType
from mgmt.identity import inventories as inv
from mgmt.identity.messages import (
    AccessKeyInventory,
    AccountInventory,
    GroupInventory,
    PolicyInventory,
    UserInventory,
)
from mgmt.identity.models import (
    AccessKeyRow,
    AccountRow,
    AccountType,
    GroupMemberRow,
    GroupRow,
    PolicyAttachmentRow,
    PolicyRow,
    SessionRow,
    UserRow,
)


async def _account_leftovers(session: AsyncSession, uuids: Sequence[str]) -> None:
    await session.execute(delete(SessionRow).where(SessionRow.account_uuid.in_(uuids)))
    await session.execute(delete(QuotaRow).where(QuotaRow.account_uuid.in_(uuids)))


async def _principal_leftovers(session: AsyncSession, uuids: Sequence[str]) -> None:
    await session.execute(
        delete(PolicyAttachmentRow).where(PolicyAttachmentRow.principal_uuid.in_(uuids))
    )


async def _user_leftovers(session: AsyncSession, uuids: Sequence[str]) -> None:
    await session.execute(delete(SessionRow).where(SessionRow.user_uuid.in_(uuids)))
    await session.execute(delete(GroupMemberRow).where(GroupMemberRow.user_uuid.in_(uuids)))
    await _principal_leftovers(session, uuids)


async def _group_leftovers(session: AsyncSession, uuids: Sequence[str]) -> None:
    await session.execute(delete(GroupMemberRow).where(GroupMemberRow.group_uuid.in_(uuids)))
    await _principal_leftovers(session, uuids)


async def _policy_leftovers(session: AsyncSession, uuids: Sequence[str]) -> None:
    await session.execute(
        delete(PolicyAttachmentRow).where(PolicyAttachmentRow.policy_uuid.in_(uuids))
    )


ACCOUNT = ResourceType(
    "Account",
    "accounts",
    AccountRow,
    AccountInventory,
    owner="uuid",
    choices={"type": tuple(t.value for t in AccountType)},
    before_delete=_account_leftovers,
)
USER = ResourceType(
    "User",
    "users",
    UserRow,
    UserInventory,
    owner="account_uuid",
    parents=(Parent("Account", UserRow.account_uuid, relation="account", children="users"),),
    before_delete=_user_leftovers,
)
USER_GROUP = ResourceType(
    "UserGroup",
    "user-groups",
    GroupRow,
    GroupInventory,
    owner="account_uuid",
    inventory_of=inv.group,
    before_delete=_group_leftovers,
)
POLICY = ResourceType(
    "Policy",
    "policies",
    PolicyRow,
    PolicyInventory,
    owner="account_uuid",
    inventory_of=inv.policy,
    unqueryable=frozenset({"statements"}),
    before_delete=_policy_leftovers,
)
ACCESS_KEY = ResourceType(
    "AccessKey",
    "access-keys",
    AccessKeyRow,
    AccessKeyInventory,
    owner="account_uuid",
    parents=(Parent("User", AccessKeyRow.user_uuid, relation="user", children="accessKeys"),),
    choices={"state": ("Enabled", "Disabled")},
)

TYPES = (ACCOUNT, USER, USER_GROUP, POLICY, ACCESS_KEY)
