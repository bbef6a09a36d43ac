"""Identity API messages: accounts, users, groups, policies, access keys, quotas.

Passwords travel only to the frontend: ``prepare`` replaces them with their scrypt hash
before the message is stored or published.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from mgmt.core.api import ApiRequest, ApiSpec
from mgmt.core.messages import Reply
from mgmt.identity.passwords import hash_password

_SECRET: JsonDict = {"format": "password", "writeOnly": True}


class _WithPassword:
    password: str | None
    passwordHash: str | None

    server_fields: ClassVar[frozenset[str]] = frozenset({"passwordHash"})

    async def prepare(self) -> Any:
        if self.password is None:
            return self
        hashed = await hash_password(self.password)
        return self.model_copy(update={"password": None, "passwordHash": hashed})  # type: ignore[attr-defined]


# -- inventories -----------------------------------------------------------------------------


class AccountInventory(BaseModel):
    uuid: str = Field(description="The account's UUID.")
    name: str = Field(description="Unique name; used to log in.")
    type: str = Field(description="SystemAdmin or Normal.")
    description: str = Field(description="Free text.")
    createDate: datetime = Field(description="When it was created.")
    lastOpDate: datetime = Field(description="When it last changed.")


class UserInventory(BaseModel):
    uuid: str = Field(description="The user's UUID.")
    accountUuid: str = Field(description="The account it belongs to.")
    name: str = Field(description="Name, unique in the account.")
    description: str = Field(description="Free text.")
    createDate: datetime = Field(description="When it was created.")
    lastOpDate: datetime = Field(description="When it last changed.")


class GroupInventory(BaseModel):
    uuid: str = Field(description="The group's UUID.")
    accountUuid: str = Field(description="The account it belongs to.")
    name: str = Field(description="Name, unique in the account.")
    description: str = Field(description="Free text.")
    userUuids: list[str] = Field(description="Its members.")
    createDate: datetime = Field(description="When it was created.")


class PolicyStatement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    effect: Literal["Allow", "Deny"] = Field(description="Deny wins over Allow.")
    actions: list[str] = Field(
        min_length=1, description="API names, `*` globs allowed: `CreateZone`, `Query*`, `*`."
    )
    resources: list[str] = Field(
        default_factory=lambda: ["*"], description="Resource UUIDs (globs); `*` for all."
    )


class PolicyInventory(BaseModel):
    uuid: str = Field(description="The policy's UUID.")
    accountUuid: str = Field(description="The account it belongs to.")
    name: str = Field(description="Name.")
    description: str = Field(description="Free text.")
    statements: list[PolicyStatement] = Field(description="What it allows and denies.")
    principalUuids: list[str] = Field(description="Users and groups it is attached to.")
    createDate: datetime = Field(description="When it was created.")


class AccessKeyInventory(BaseModel):
    uuid: str = Field(description="The access key's UUID.")
    keyId: str = Field(description="Sent with every signed request.")
    accountUuid: str = Field(description="The account it acts for.")
    userUuid: str | None = Field(description="The user it acts for, if any.")
    state: str = Field(description="Enabled or Disabled.")
    createDate: datetime = Field(description="When it was created.")


class QuotaInventory(BaseModel):
    accountUuid: str = Field(description="The account.")
    name: str = Field(description="Quota name, e.g. vm.num.")
    value: int = Field(description="The limit.")
    used: int = Field(description="How much is used.")


class AccountReply(Reply):
    inventory: AccountInventory


class UserReply(Reply):
    inventory: UserInventory


class GroupReply(Reply):
    inventory: GroupInventory


class PolicyReply(Reply):
    inventory: PolicyInventory


class AccessKeyReply(Reply):
    inventory: AccessKeyInventory
    keySecret: str | None = Field(
        default=None, description="Only in the reply that created the key: keep it safe."
    )


class QuotaReply(Reply):
    inventory: QuotaInventory


class DeleteReply(Reply):
    deleted: list[str] = Field(default_factory=list, description="Types deleted, in order.")


# -- accounts ---------------------------------------------------------------------------------


class CreateAccount(_WithPassword, ApiRequest[AccountReply]):
    """Create an account (admin only)."""

    api = ApiSpec("create", "accounts", "Account", "Create an account", admin_only=True)
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "tenant-a", "password": "a long secret"}]}
    )

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    name: str = Field(min_length=1, max_length=128, description="Unique account name.")
    password: str | None = Field(
        min_length=8,
        max_length=1024,
        description="Password (8+ characters); hashed before it is stored or sent on.",
        json_schema_extra=_SECRET,
    )
    passwordHash: str | None = Field(default=None, description="Set by the frontend.")
    type: Literal["Normal", "SystemAdmin"] = Field(default="Normal", description="Account type.")
    description: str = Field(default="", max_length=2048, description="Free text.")


class UpdateAccount(_WithPassword, ApiRequest[AccountReply]):
    """Change an account's password or description (itself, or an admin)."""

    api = ApiSpec("update", "accounts", "Account", "Update an account")
    model_config = ConfigDict(json_schema_extra={"examples": [{"description": "team A"}]})

    password: str | None = Field(
        default=None,
        min_length=8,
        max_length=1024,
        description="A new password (8+ characters).",
        json_schema_extra=_SECRET,
    )
    passwordHash: str | None = Field(default=None, description="Set by the frontend.")
    description: str | None = Field(default=None, max_length=2048, description="New text.")


class DeleteAccount(ApiRequest[DeleteReply]):
    """Delete an account and everything it owns (cascade; admin only)."""

    api = ApiSpec("delete", "accounts", "Account", "Delete an account", admin_only=True)
    model_config = ConfigDict(json_schema_extra={"examples": [{"deleteMode": "Enforcing"}]})

    deleteMode: Literal["Permissive", "Enforcing"] = Field(
        default="Permissive", description="Permissive: dependents may veto."
    )


class UpdateQuota(ApiRequest[QuotaReply]):
    """Set one quota of an account (admin only)."""

    api = ApiSpec(
        "action", "accounts", "Account", "Update a quota", action="update-quota", admin_only=True
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "vm.num", "value": 50}]})

    name: str = Field(min_length=1, max_length=64, description="Quota name, e.g. vm.num.")
    value: int = Field(ge=0, description="The new limit.")


# -- users and groups ------------------------------------------------------------------------


class CreateUser(_WithPassword, ApiRequest[UserReply]):
    """Create a user in the caller's account."""

    api = ApiSpec("create", "users", "User", "Create a user")
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "ops", "password": "a long secret"}]}
    )

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    name: str = Field(min_length=1, max_length=128, description="Name, unique in the account.")
    password: str | None = Field(
        min_length=8,
        max_length=1024,
        description="Password (8+ characters); hashed before it is stored or sent on.",
        json_schema_extra=_SECRET,
    )
    passwordHash: str | None = Field(default=None, description="Set by the frontend.")
    description: str = Field(default="", max_length=2048, description="Free text.")


class DeleteUser(ApiRequest[DeleteReply]):
    """Delete a user."""

    api = ApiSpec("delete", "users", "User", "Delete a user")
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class CreateUserGroup(ApiRequest[GroupReply]):
    """Create a user group in the caller's account."""

    api = ApiSpec("create", "user-groups", "UserGroup", "Create a user group")
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "operators"}]})

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    name: str = Field(min_length=1, max_length=128, description="Name, unique in the account.")
    description: str = Field(default="", max_length=2048, description="Free text.")


class AddUserToGroup(ApiRequest[GroupReply]):
    """Add a user of the account to the group."""

    api = ApiSpec("action", "user-groups", "UserGroup", "Add a user", action="add-user")
    model_config = ConfigDict(json_schema_extra={"examples": [{"userUuid": "<user uuid>"}]})

    userUuid: str = Field(min_length=1, max_length=64, description="The user to add.")


class DeleteUserGroup(ApiRequest[DeleteReply]):
    """Delete a user group (its members stay)."""

    api = ApiSpec("delete", "user-groups", "UserGroup", "Delete a user group")
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


# -- policies and access keys ------------------------------------------------------------------


class CreatePolicy(ApiRequest[PolicyReply]):
    """Create a policy: statements allowing or denying API actions on resources."""

    api = ApiSpec("create", "policies", "Policy", "Create a policy")
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "read-only",
                    "statements": [{"effect": "Allow", "actions": ["Query*", "Get*"]}],
                }
            ]
        }
    )

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    name: str = Field(min_length=1, max_length=128, description="Name.")
    description: str = Field(default="", max_length=2048, description="Free text.")
    statements: list[PolicyStatement] = Field(min_length=1, description="The rules.")


class AttachPolicy(ApiRequest[PolicyReply]):
    """Attach the policy to a user or a group of the account."""

    api = ApiSpec("action", "policies", "Policy", "Attach a policy", action="attach")
    model_config = ConfigDict(json_schema_extra={"examples": [{"principalUuid": "<user uuid>"}]})

    principalUuid: str = Field(min_length=1, max_length=64, description="A user or a group.")


class DetachPolicy(ApiRequest[PolicyReply]):
    """Detach the policy from a user or a group."""

    api = ApiSpec("action", "policies", "Policy", "Detach a policy", action="detach")
    model_config = ConfigDict(json_schema_extra={"examples": [{"principalUuid": "<user uuid>"}]})

    principalUuid: str = Field(min_length=1, max_length=64, description="A user or a group.")


class DeletePolicy(ApiRequest[DeleteReply]):
    """Delete a policy (and its attachments)."""

    api = ApiSpec("delete", "policies", "Policy", "Delete a policy")
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class CreateAccessKey(ApiRequest[AccessKeyReply]):
    """Create an access key for the caller (account, or user); the secret is shown once."""

    api = ApiSpec("create", "access-keys", "AccessKey", "Create an access key")
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")


class DeleteAccessKey(ApiRequest[DeleteReply]):
    """Delete an access key: requests it signs are refused from then on."""

    api = ApiSpec("delete", "access-keys", "AccessKey", "Delete an access key")
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


API_MESSAGES = (
    CreateAccount,
    UpdateAccount,
    DeleteAccount,
    UpdateQuota,
    CreateUser,
    DeleteUser,
    CreateUserGroup,
    AddUserToGroup,
    DeleteUserGroup,
    CreatePolicy,
    AttachPolicy,
    DetachPolicy,
    DeletePolicy,
    CreateAccessKey,
    DeleteAccessKey,
)
