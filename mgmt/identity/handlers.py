"""Identity service handlers: what accounts, users, groups, policies and access keys do
beyond the kit's defaults (deletes of users, groups, policies and keys are the defaults).

Thin: check who may act, change the rows in one transaction, reply. Something another
account owns is reported as not found. Creates go through the kit's one create path, with
the name checks and server-made values (password hashes, key ids) of each type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core import quota
from mgmt.core.api import ApiCodes, caller_of, not_found, require_admin
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.cascade import CascadeDeleter
from mgmt.core.db import utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.core.messages import Message
from mgmt.core.module import NodeParts
from mgmt.core.resource.create import Check
from mgmt.identity import inventories as inv
from mgmt.identity.keys import key_secret, new_key_id
from mgmt.identity.messages import (
    AccessKeyReply,
    AccountReply,
    AddUserToGroup,
    AttachPolicy,
    CreateAccessKey,
    CreateAccount,
    CreatePolicy,
    CreateUser,
    CreateUserGroup,
    DeleteAccount,
    DeleteReply,
    DetachPolicy,
    GroupReply,
    PolicyReply,
    QuotaInventory,
    QuotaReply,
    UpdateAccount,
    UpdateQuota,
    UserReply,
)
from mgmt.identity.models import (
    AccountRow,
    AccountType,
    GroupMemberRow,
    GroupRow,
    PolicyAttachmentRow,
    UserRow,
)
from mgmt.identity.resources import ACCESS_KEY, ACCOUNT, USER
from mgmt.identity.sessions import ADMIN_NAME


def _unique(model: Any, **unique: str) -> Check:
    """A create's check: refuse a name its scope already has."""

    async def check(s: AsyncSession) -> None:
        clauses = [getattr(model, k) == v for k, v in unique.items()]
        if await s.scalar(select(model.uuid).where(*clauses)):
            names = ", ".join(f"{k}={v}" for k, v in unique.items() if k != "account_uuid")
            raise PermanentError(error(ApiCodes.CONFLICT, f"{names} is taken", field="name"))

    return check


class IdentityService:
    def __init__(self, parts: NodeParts) -> None:
        self._db = parts.db
        self._deleter = CascadeDeleter(parts.engine, parts.cascade)
        #: async () -> bytes: the deployment secret access keys derive from
        self._master_key = parts.master_key
        self._quotas: Mapping[str, int] = parts.quotas
        self._accounts = parts.resource("Account")
        self._users = parts.resource("User")
        self._groups = parts.resource("UserGroup")
        self._policies = parts.resource("Policy")
        self._keys = parts.resource("AccessKey")

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            CreateAccount: self.create_account,
            UpdateAccount: self.update_account,
            DeleteAccount: self.delete_account,
            UpdateQuota: self.update_quota,
            CreateUser: self.create_user,
            CreateUserGroup: self.create_group,
            AddUserToGroup: self.add_user,
            CreatePolicy: self.create_policy,
            AttachPolicy: self.attach,
            DetachPolicy: self.detach,
            CreateAccessKey: self.create_key,
        }

    # -- accounts -------------------------------------------------------------------------

    async def create_account(self, msg: CreateAccount, ctx: HandlerContext) -> AccountReply:
        require_admin(caller_of(msg))
        values = {"type": AccountType(msg.type), "password_hash": msg.passwordHash or ""}
        async with self._db.session() as s, s.begin():
            row = await self._accounts.create_row(
                s, msg, ctx, values=values, check=_unique(AccountRow, name=msg.name)
            )
        return AccountReply(inventory=ACCOUNT.to_inventory(row))

    async def update_account(self, msg: UpdateAccount, ctx: HandlerContext) -> AccountReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            row = await self._accounts.visible(s, msg.resourceUuid, caller)
            if caller.userUuid is not None and not caller.isAdmin:
                raise PermanentError(error(ApiCodes.PERMISSION_DENIED, "users cannot do this"))
            if msg.passwordHash is not None:
                row.password_hash = msg.passwordHash
            if msg.description is not None:
                row.description = msg.description
            row.updated_at = utcnow()
        return AccountReply(inventory=ACCOUNT.to_inventory(row))

    async def delete_account(self, msg: DeleteAccount, ctx: HandlerContext) -> DeleteReply:
        require_admin(caller_of(msg))
        async with self._db.session() as s:
            row = await s.get(AccountRow, msg.resourceUuid)
        if row is None:
            raise PermanentError(not_found("Account", msg.resourceUuid))
        if row.name == ADMIN_NAME:
            raise PermanentError(error(ApiCodes.CONFLICT, "the admin account cannot be deleted"))
        deleted = await self._deleter.delete(
            "Account",
            msg.resourceUuid,
            msg.deleteMode,
            run_id=msg.jobUuid or ctx.message_id,
            deadline=ctx.deadline,
        )
        return DeleteReply(deleted=deleted)

    async def update_quota(self, msg: UpdateQuota, ctx: HandlerContext) -> QuotaReply:
        require_admin(caller_of(msg))
        async with self._db.session() as s, s.begin():
            if await s.get(AccountRow, msg.resourceUuid) is None:
                raise PermanentError(not_found("Account", msg.resourceUuid))
            row = await quota.set_limit(s, msg.resourceUuid, msg.name, msg.value, self._quotas)
        return QuotaReply(
            inventory=QuotaInventory(
                accountUuid=row.account_uuid, name=row.name, value=row.limit, used=row.used
            )
        )

    # -- users and groups -----------------------------------------------------------------

    async def create_user(self, msg: CreateUser, ctx: HandlerContext) -> UserReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            row = await self._users.create_row(
                s,
                msg,
                ctx,
                values={"password_hash": msg.passwordHash or ""},
                check=_unique(UserRow, account_uuid=caller.accountUuid, name=msg.name),
            )
        return UserReply(inventory=USER.to_inventory(row))

    async def create_group(self, msg: CreateUserGroup, ctx: HandlerContext) -> GroupReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            row = await self._groups.create_row(
                s, msg, ctx, check=_unique(GroupRow, account_uuid=caller.accountUuid, name=msg.name)
            )
            return GroupReply(inventory=await inv.group(s, row))

    async def add_user(self, msg: AddUserToGroup, ctx: HandlerContext) -> GroupReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            group = await self._groups.visible(s, msg.resourceUuid, caller)
            user = await s.get(UserRow, msg.userUuid)
            if user is None or user.account_uuid != group.account_uuid:
                raise PermanentError(
                    error(ApiCodes.INVALID_ARGUMENT, "userUuid: no such user", field="userUuid")
                )
            if await s.get(GroupMemberRow, (group.uuid, user.uuid)) is None:
                s.add(GroupMemberRow(group_uuid=group.uuid, user_uuid=user.uuid))
                await s.flush()
            return GroupReply(inventory=await inv.group(s, group))

    # -- policies and access keys -----------------------------------------------------------

    async def create_policy(self, msg: CreatePolicy, ctx: HandlerContext) -> PolicyReply:
        statements = json.dumps([st.model_dump() for st in msg.statements])
        async with self._db.session() as s, s.begin():
            row = await self._policies.create_row(s, msg, ctx, values={"statements": statements})
            return PolicyReply(inventory=await inv.policy(s, row))

    async def attach(self, msg: AttachPolicy, ctx: HandlerContext) -> PolicyReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            policy = await self._policies.visible(s, msg.resourceUuid, caller)
            principal: UserRow | GroupRow | None = await s.get(UserRow, msg.principalUuid)
            if principal is None:
                principal = await s.get(GroupRow, msg.principalUuid)
            if principal is None or principal.account_uuid != policy.account_uuid:
                raise PermanentError(
                    error(
                        ApiCodes.INVALID_ARGUMENT,
                        "principalUuid: no such user or group",
                        field="principalUuid",
                    )
                )
            if await s.get(PolicyAttachmentRow, (policy.uuid, msg.principalUuid)) is None:
                s.add(
                    PolicyAttachmentRow(policy_uuid=policy.uuid, principal_uuid=msg.principalUuid)
                )
                await s.flush()
            return PolicyReply(inventory=await inv.policy(s, policy))

    async def detach(self, msg: DetachPolicy, ctx: HandlerContext) -> PolicyReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            policy = await self._policies.visible(s, msg.resourceUuid, caller)
            await s.execute(
                delete(PolicyAttachmentRow).where(
                    PolicyAttachmentRow.policy_uuid == policy.uuid,
                    PolicyAttachmentRow.principal_uuid == msg.principalUuid,
                )
            )
            return PolicyReply(inventory=await inv.policy(s, policy))

    async def create_key(self, msg: CreateAccessKey, ctx: HandlerContext) -> AccessKeyReply:
        caller = caller_of(msg)
        values = {"key_id": new_key_id(), "user_uuid": caller.userUuid, "state": "Enabled"}
        async with self._db.session() as s, s.begin():
            row = await self._keys.create_row(s, msg, ctx, values=values)
        # derived, never stored: a redelivered create answers the same job with the same one
        secret = key_secret(await self._master_key(), row.key_id)
        return AccessKeyReply(inventory=ACCESS_KEY.to_inventory(row), keySecret=secret)
