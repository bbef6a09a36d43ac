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
from mgmt.core.api import ApiCodes, CallerContext, caller_of, not_found
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.cascade import CascadeCtx, CascadeDeleter
from mgmt.core.db import Database, utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.core.flow import FlowDef, FlowEngine
from mgmt.core.messages import Message
from mgmt.core.resource import forget, insert_or_get
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
    return PermanentError(not_found(what, uuid))


def _admin(caller: CallerContext) -> None:
    if not caller.isAdmin:
        raise PermanentError(error(ApiCodes.PERMISSION_DENIED, "admin only"))


async def _owned(s: AsyncSession, model: Any, uuid: str, caller: CallerContext, what: str) -> Any:
    row = await s.get(model, uuid)
    if row is None or not (caller.isAdmin or row.account_uuid == caller.accountUuid):
        raise _not_found(what, uuid)
    return row


def _unique(model: Any, **unique: str) -> Check:
    """A create's check: refuse a name its scope already has."""

    async def check(s: AsyncSession) -> None:
        clauses = [getattr(model, k) == v for k, v in unique.items()]
        if await s.scalar(select(model.uuid).where(*clauses)):
            names = ", ".join(f"{k}={v}" for k, v in unique.items() if k != "account_uuid")
            raise PermanentError(error(ApiCodes.CONFLICT, f"{names} is taken", field="name"))

    return check


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

        def build(caller: CallerContext) -> AccountRow:
            return AccountRow(
                uuid=msg.resourceUuid,
                name=msg.name,
                type=AccountType(msg.type),
                description=msg.description,
                password_hash=msg.passwordHash or "",
                created_at=now,
                updated_at=now,
            )

        async with self._db.session() as s, s.begin():
            row = await insert_or_get(
                s,
                AccountRow,
                msg,
                ctx,
                build=build,
                check=_unique(AccountRow, name=msg.name),
            )
        return AccountReply(inventory=inv.account(row))

    async def update_account(self, msg: UpdateAccount, ctx: HandlerContext) -> AccountReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            row = await s.get(AccountRow, msg.resourceUuid)
            if row is None or not (caller.isAdmin or row.uuid == caller.accountUuid):
                raise _not_found("Account", msg.resourceUuid)
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
            raise _not_found("Account", msg.resourceUuid)
        if row.name == ADMIN_NAME:
            raise PermanentError(error(ApiCodes.CONFLICT, "the admin account cannot be deleted"))
        return await self._delete("Account", msg.resourceUuid, msg.deleteMode, msg.jobUuid, ctx)

    async def update_quota(self, msg: UpdateQuota, ctx: HandlerContext) -> QuotaReply:
        _admin(caller_of(msg))
        async with self._db.session() as s, s.begin():
            if await s.get(AccountRow, msg.resourceUuid) is None:
                raise _not_found("Account", msg.resourceUuid)
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

        def build(caller: CallerContext) -> UserRow:
            return UserRow(
                uuid=msg.resourceUuid,
                account_uuid=caller.accountUuid,
                name=msg.name,
                description=msg.description,
                password_hash=msg.passwordHash or "",
                created_at=now,
                updated_at=now,
            )

        async with self._db.session() as s, s.begin():
            row = await insert_or_get(
                s,
                UserRow,
                msg,
                ctx,
                build=build,
                check=_unique(UserRow, account_uuid=caller.accountUuid, name=msg.name),
            )
        return UserReply(inventory=inv.user(row))

    async def delete_user(self, msg: DeleteUser, ctx: HandlerContext) -> DeleteReply:
        async with self._db.session() as s:
            await _owned(s, UserRow, msg.resourceUuid, caller_of(msg), "User")
        return await self._delete("User", msg.resourceUuid, "Enforcing", msg.jobUuid, ctx)

    async def create_group(self, msg: CreateUserGroup, ctx: HandlerContext) -> GroupReply:
        caller = caller_of(msg)
        now = utcnow()

        def build(caller: CallerContext) -> GroupRow:
            return GroupRow(
                uuid=msg.resourceUuid,
                account_uuid=caller.accountUuid,
                name=msg.name,
                description=msg.description,
                created_at=now,
                updated_at=now,
            )

        async with self._db.session() as s, s.begin():
            row = await insert_or_get(
                s,
                GroupRow,
                msg,
                ctx,
                build=build,
                check=_unique(GroupRow, account_uuid=caller.accountUuid, name=msg.name),
            )
            return GroupReply(inventory=await inv.group(s, row))

    async def add_user(self, msg: AddUserToGroup, ctx: HandlerContext) -> GroupReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            group = await _owned(s, GroupRow, msg.resourceUuid, caller, "UserGroup")
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
            await _owned(s, GroupRow, msg.resourceUuid, caller_of(msg), "UserGroup")
        return await self._delete("UserGroup", msg.resourceUuid, "Enforcing", msg.jobUuid, ctx)

    # -- policies and access keys -----------------------------------------------------------

    async def create_policy(self, msg: CreatePolicy, ctx: HandlerContext) -> PolicyReply:
        now = utcnow()

        def build(caller: CallerContext) -> PolicyRow:
            return PolicyRow(
                uuid=msg.resourceUuid,
                account_uuid=caller.accountUuid,
                name=msg.name,
                description=msg.description,
                statements=json.dumps([st.model_dump() for st in msg.statements]),
                created_at=now,
                updated_at=now,
            )

        async with self._db.session() as s, s.begin():
            row = await insert_or_get(s, PolicyRow, msg, ctx, build=build)
            return PolicyReply(inventory=await inv.policy(s, row))

    async def attach(self, msg: AttachPolicy, ctx: HandlerContext) -> PolicyReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            policy = await _owned(s, PolicyRow, msg.resourceUuid, caller, "Policy")
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
            policy = await _owned(s, PolicyRow, msg.resourceUuid, caller, "Policy")
            await s.execute(
                delete(PolicyAttachmentRow).where(
                    PolicyAttachmentRow.policy_uuid == policy.uuid,
                    PolicyAttachmentRow.principal_uuid == msg.principalUuid,
                )
            )
            return PolicyReply(inventory=await inv.policy(s, policy))

    async def delete_policy(self, msg: DeletePolicy, ctx: HandlerContext) -> DeleteReply:
        async with self._db.session() as s:
            await _owned(s, PolicyRow, msg.resourceUuid, caller_of(msg), "Policy")
        return await self._delete("Policy", msg.resourceUuid, "Enforcing", msg.jobUuid, ctx)

    async def create_key(self, msg: CreateAccessKey, ctx: HandlerContext) -> AccessKeyReply:
        now = utcnow()

        def build(caller: CallerContext) -> AccessKeyRow:
            return AccessKeyRow(
                uuid=msg.resourceUuid,
                key_id=new_key_id(),
                account_uuid=caller.accountUuid,
                user_uuid=caller.userUuid,
                state="Enabled",
                created_at=now,
            )

        async with self._db.session() as s, s.begin():
            row = await insert_or_get(s, AccessKeyRow, msg, ctx, build=build)
        # derived, never stored: a redelivered create answers the same job with the same one
        secret = key_secret(await self._master_key(), row.key_id)
        return AccessKeyReply(inventory=inv.access_key(row), keySecret=secret)

    async def delete_key(self, msg: DeleteAccessKey, ctx: HandlerContext) -> DeleteReply:
        async with self._db.session() as s, s.begin():
            row = await _owned(s, AccessKeyRow, msg.resourceUuid, caller_of(msg), "AccessKey")
            await s.delete(row)
            await forget(s, [row.uuid])
        return DeleteReply(deleted=["AccessKey"])

    async def _delete(
        self, type_name: str, uuid: str, mode: str, job: str, ctx: HandlerContext
    ) -> DeleteReply:
        deleted = await self._deleter.delete(
            type_name, uuid, mode, run_id=job or ctx.message_id, deadline=ctx.deadline
        )
        return DeleteReply(deleted=deleted)
