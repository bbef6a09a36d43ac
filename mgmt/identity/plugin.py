"""The identity service's in-tree plugin: cascade declarations of its types.

An account takes everything it owns with it (other services declare ``Account`` as a parent
of their resources); a user takes its sessions, memberships, attachments and keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.cascade import CASCADE_RESOURCES
from mgmt.core.cascade.table import TableCascade
from mgmt.core.plugins import Extension
from mgmt.core.quota import QuotaRow
from mgmt.identity.models import (
    AccessKeyRow,
    AccountRow,
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


async def _user_leftovers(session: AsyncSession, uuids: Sequence[str]) -> None:
    await session.execute(delete(SessionRow).where(SessionRow.user_uuid.in_(uuids)))
    await session.execute(delete(GroupMemberRow).where(GroupMemberRow.user_uuid.in_(uuids)))
    await session.execute(
        delete(PolicyAttachmentRow).where(PolicyAttachmentRow.principal_uuid.in_(uuids))
    )


async def _group_leftovers(session: AsyncSession, uuids: Sequence[str]) -> None:
    await session.execute(delete(GroupMemberRow).where(GroupMemberRow.group_uuid.in_(uuids)))
    await session.execute(
        delete(PolicyAttachmentRow).where(PolicyAttachmentRow.principal_uuid.in_(uuids))
    )


async def _policy_leftovers(session: AsyncSession, uuids: Sequence[str]) -> None:
    await session.execute(
        delete(PolicyAttachmentRow).where(PolicyAttachmentRow.policy_uuid.in_(uuids))
    )


class IdentityPlugin:
    name = "identity"

    def extensions(self) -> Sequence[Extension]:
        declarations = [
            TableCascade("Account", AccountRow, before_delete=_account_leftovers),
            TableCascade(
                "User",
                UserRow,
                parents={"Account": UserRow.account_uuid},
                before_delete=_user_leftovers,
            ),
            TableCascade(
                "UserGroup",
                GroupRow,
                parents={"Account": GroupRow.account_uuid},
                before_delete=_group_leftovers,
            ),
            TableCascade(
                "Policy",
                PolicyRow,
                parents={"Account": PolicyRow.account_uuid},
                before_delete=_policy_leftovers,
            ),
            TableCascade(
                "AccessKey",
                AccessKeyRow,
                parents={"Account": AccessKeyRow.account_uuid, "User": AccessKeyRow.user_uuid},
            ),
        ]
        return [Extension(CASCADE_RESOURCES, d, type=d.type_name) for d in declarations]
