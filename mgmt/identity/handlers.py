"""Identity service handlers: accounts, users, groups, policies, access keys, quotas.

Thin: check who may act, change the rows in one transaction, reply. Something another
account owns is reported as not found. Creates are idempotent on the resource UUID. Deletes
run the cascade flow (an account takes everything it owns with it).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core import quota
from mgmt.core.api import ApiCodes, CallerContext, caller_of
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.cascade import CascadeCtx, CascadeDeleter
from mgmt.core.db import Database, utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.core.flow import FlowDef, FlowEngine
from mgmt.core.messages import Message
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
    DeleteAccessKey,
    DeleteAccount,
    DeletePolicy,
    DeleteReply,
    DeleteUser,
    DeleteUserGroup,
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
    AccessKeyRow,
    AccountRow,
    AccountType,
    GroupMemberRow,
    GroupRow,
    PolicyAttachmentRow,
    PolicyRow,
    UserRow,
)
from mgmt.identity.sessions import ADMIN_NAME


def _not_found(what: str, uuid: str) -> PermanentError:
    return PermanentError(error(ApiCodes.NOT_FOUND, f"{what} {uuid} not found", uuid=uuid))


def _admin(caller: CallerContext) -> None:
    if not caller.isAdmin:
        raise PermanentError(error(ApiCodes.PERMISSION_DENIED, "admin only"))


async def _owned(s: AsyncSession, model: Any, uuid: str, caller: CallerContext, what: str) -> Any:
    row = await s.get(model, uuid)
    if row is None or not (caller.isAdmin or row.account_uuid == caller.accountUuid):
        raise _not_found(what, uuid)
    return row


async def _taken(s: AsyncSession, model: Any, uuid: str, **unique: str) -> Any:
    """The row with this uuid (a redelivered create), else refuse a taken unique name."""
    row = await s.get(model, uuid)
    if row is not None:
        return row
    clauses = [getattr(model, k) == v for k, v in unique.items()]
    if await s.scalar(select(model.uuid).where(*clauses)):
        names = ", ".join(f"{k}={v}" for k, v in unique.items() if k != "account_uuid")
        raise PermanentError(error(ApiCodes.CONFLICT, f"{names} is taken", field="name"))
    return None


class IdentityService:
    def __init__(
        self,
        db: Database,
        engine: FlowEngine,
        cascade: FlowDef[CascadeCtx],
        master_key: Any,
    ) -> None:
        self._db = db
        self._deleter = CascadeDeleter(engine, cascade)
        #: async () -> bytes: the deployment secret access keys derive from
        self._master_key = master_key

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            CreateAccount: self.create_account,
            UpdateAccount: self.update_account,
            DeleteAccount: self.delete_account,
            UpdateQuota: self.update_quota,
            CreateUser: self.create_user,
            DeleteUser: self.delete_user,
            CreateUserGroup: self.create_group,
            AddUserToGroup: self.add_user,
            DeleteUserGroup: self.delete_group,
            CreatePolicy: self.create_policy,
            AttachPolicy: self.attach,
            DetachPolicy: self.detach,
            DeletePolicy: self.delete_policy,
            CreateAccessKey: self.create_key,
            DeleteAccessKey: self.delete_key,
        }

    # -- accounts -------------------------------------------------------------------------

    async def create_account(self, msg: CreateAccount, ctx: HandlerContext) -> AccountReply:
        _admin(caller_of(msg))
        now = utcnow()
        async with self._db.session() as s, s.begin():
            row = await _taken(s, AccountRow, msg.resourceUuid, name=msg.name)
            if row is None:
                row = AccountRow(
                    uuid=msg.resourceUuid,
                    name=msg.name,
                    type=AccountType(msg.type),
                    description=msg.description,
                    password_hash=msg.passwordHash or "",
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
        return AccountReply(inventory=inv.account(row))

    async def update_account(self, msg: UpdateAccount, ctx: HandlerContext) -> AccountReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            row = await s.get(AccountRow, msg.resourceUuid)
            if row is None or not (caller.isAdmin or row.uuid == caller.accountUuid):
                raise _not_found("account", msg.resourceUuid)
            if caller.userUuid is not None and not caller.isAdmin:
                raise PermanentError(error(ApiCodes.PERMISSION_DENIED, "users cannot do this"))
            if msg.passwordHash is not None:
                row.password_hash = msg.passwordHash
            if msg.description is not None:
                row.description = msg.description
            row.updated_at = utcnow()
        return AccountReply(inventory=inv.account(row))

    async def delete_account(self, msg: DeleteAccount, ctx: HandlerContext) -> DeleteReply:
        _admin(caller_of(msg))
        async with self._db.session() as s:
            row = await s.get(AccountRow, msg.resourceUuid)
        if row is None:
            raise _not_found("account", msg.resourceUuid)
        if row.name == ADMIN_NAME:
            raise PermanentError(error(ApiCodes.CONFLICT, "the admin account cannot be deleted"))
        return await self._delete("Account", msg.resourceUuid, msg.deleteMode, msg.jobUuid, ctx)

    async def update_quota(self, msg: UpdateQuota, ctx: HandlerContext) -> QuotaReply:
        _admin(caller_of(msg))
        async with self._db.session() as s, s.begin():
            if await s.get(AccountRow, msg.resourceUuid) is None:
                raise _not_found("account", msg.resourceUuid)
            row = await quota.set_limit(s, msg.resourceUuid, msg.name, msg.value)
        return QuotaReply(
            inventory=QuotaInventory(
                accountUuid=row.account_uuid, name=row.name, value=row.limit, used=row.used
            )
        )

    # -- users and groups -----------------------------------------------------------------

    async def create_user(self, msg: CreateUser, ctx: HandlerContext) -> UserReply:
        caller = caller_of(msg)
        now = utcnow()
        async with self._db.session() as s, s.begin():
            row = await _taken(
                s, UserRow, msg.resourceUuid, account_uuid=caller.accountUuid, name=msg.name
            )
            if row is None:
                row = UserRow(
                    uuid=msg.resourceUuid,
                    account_uuid=caller.accountUuid,
                    name=msg.name,
                    description=msg.description,
                    password_hash=msg.passwordHash or "",
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
        return UserReply(inventory=inv.user(row))

    async def delete_user(self, msg: DeleteUser, ctx: HandlerContext) -> DeleteReply:
        async with self._db.session() as s:
            await _owned(s, UserRow, msg.resourceUuid, caller_of(msg), "user")
        return await self._delete("User", msg.resourceUuid, "Enforcing", msg.jobUuid, ctx)

    async def create_group(self, msg: CreateUserGroup, ctx: HandlerContext) -> GroupReply:
        caller = caller_of(msg)
        now = utcnow()
        async with self._db.session() as s, s.begin():
            row = await _taken(
                s, GroupRow, msg.resourceUuid, account_uuid=caller.accountUuid, name=msg.name
            )
            if row is None:
                row = GroupRow(
                    uuid=msg.resourceUuid,
                    account_uuid=caller.accountUuid,
                    name=msg.name,
                    description=msg.description,
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
            return GroupReply(inventory=await inv.group(s, row))

    async def add_user(self, msg: AddUserToGroup, ctx: HandlerContext) -> GroupReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            group = await _owned(s, GroupRow, msg.resourceUuid, caller, "user group")
            user = await s.get(UserRow, msg.userUuid)
            if user is None or user.account_uuid != group.account_uuid:
                raise PermanentError(
                    error(ApiCodes.INVALID_ARGUMENT, "userUuid: no such user", field="userUuid")
                )
            if await s.get(GroupMemberRow, (group.uuid, user.uuid)) is None:
                s.add(GroupMemberRow(group_uuid=group.uuid, user_uuid=user.uuid))
                await s.flush()
            return GroupReply(inventory=await inv.group(s, group))

    async def delete_group(self, msg: DeleteUserGroup, ctx: HandlerContext) -> DeleteReply:
        async with self._db.session() as s:
            await _owned(s, GroupRow, msg.resourceUuid, caller_of(msg), "user group")
        return await self._delete("UserGroup", msg.resourceUuid, "Enforcing", msg.jobUuid, ctx)

    # -- policies and access keys -----------------------------------------------------------

    async def create_policy(self, msg: CreatePolicy, ctx: HandlerContext) -> PolicyReply:
        caller = caller_of(msg)
        now = utcnow()
        async with self._db.session() as s, s.begin():
            row = await s.get(PolicyRow, msg.resourceUuid)
            if row is None:
                row = PolicyRow(
                    uuid=msg.resourceUuid,
                    account_uuid=caller.accountUuid,
                    name=msg.name,
                    description=msg.description,
                    statements=json.dumps([st.model_dump() for st in msg.statements]),
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
            return PolicyReply(inventory=await inv.policy(s, row))

    async def attach(self, msg: AttachPolicy, ctx: HandlerContext) -> PolicyReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            policy = await _owned(s, PolicyRow, msg.resourceUuid, caller, "policy")
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
            policy = await _owned(s, PolicyRow, msg.resourceUuid, caller, "policy")
            await s.execute(
                delete(PolicyAttachmentRow).where(
                    PolicyAttachmentRow.policy_uuid == policy.uuid,
                    PolicyAttachmentRow.principal_uuid == msg.principalUuid,
                )
            )
            return PolicyReply(inventory=await inv.policy(s, policy))

    async def delete_policy(self, msg: DeletePolicy, ctx: HandlerContext) -> DeleteReply:
        async with self._db.session() as s:
            await _owned(s, PolicyRow, msg.resourceUuid, caller_of(msg), "policy")
        return await self._delete("Policy", msg.resourceUuid, "Enforcing", msg.jobUuid, ctx)

    async def create_key(self, msg: CreateAccessKey, ctx: HandlerContext) -> AccessKeyReply:
        caller = caller_of(msg)
        now = utcnow()
        async with self._db.session() as s, s.begin():
            row = await s.get(AccessKeyRow, msg.resourceUuid)
            if row is None:
                row = AccessKeyRow(
                    uuid=msg.resourceUuid,
                    key_id=new_key_id(),
                    account_uuid=caller.accountUuid,
                    user_uuid=caller.userUuid,
                    state="Enabled",
                    created_at=now,
                )
                s.add(row)
        # derived, never stored: a redelivered create answers the same job with the same one
        secret = key_secret(await self._master_key(), row.key_id)
        return AccessKeyReply(inventory=inv.access_key(row), keySecret=secret)

    async def delete_key(self, msg: DeleteAccessKey, ctx: HandlerContext) -> DeleteReply:
        async with self._db.session() as s, s.begin():
            row = await _owned(s, AccessKeyRow, msg.resourceUuid, caller_of(msg), "access key")
            await s.delete(row)
        return DeleteReply(deleted=["AccessKey"])

    async def _delete(
        self, type_name: str, uuid: str, mode: str, job: str, ctx: HandlerContext
    ) -> DeleteReply:
        deleted = await self._deleter.delete(
            type_name, uuid, mode, run_id=job or ctx.message_id, deadline=ctx.deadline
        )
        return DeleteReply(deleted=deleted)
