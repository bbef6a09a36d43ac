"""How identity resources are queried and shown. An account sees itself and what it owns."""

from __future__ import annotations

from mgmt.core.api.reads import ReadableResource, plain
from mgmt.core.query import QueryableResource, Relation
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
    GroupRow,
    PolicyRow,
    UserRow,
)


def readables() -> list[ReadableResource]:
    account = QueryableResource(
        "Account",
        AccountRow,
        AccountRow.uuid,
        {
            "uuid": AccountRow.uuid,
            "name": AccountRow.name,
            "type": AccountRow.type,
            "description": AccountRow.description,
            "createDate": AccountRow.created_at,
            "lastOpDate": AccountRow.updated_at,
        },
        relations={"users": Relation("users", "User", AccountRow.uuid, UserRow.account_uuid)},
        owner=AccountRow.uuid,
        choices={"type": tuple(t.value for t in AccountType)},
    )
    user = QueryableResource(
        "User",
        UserRow,
        UserRow.uuid,
        {
            "uuid": UserRow.uuid,
            "accountUuid": UserRow.account_uuid,
            "name": UserRow.name,
            "description": UserRow.description,
            "createDate": UserRow.created_at,
            "lastOpDate": UserRow.updated_at,
        },
        owner=UserRow.account_uuid,
    )
    group = QueryableResource(
        "UserGroup",
        GroupRow,
        GroupRow.uuid,
        {
            "uuid": GroupRow.uuid,
            "accountUuid": GroupRow.account_uuid,
            "name": GroupRow.name,
            "description": GroupRow.description,
            "createDate": GroupRow.created_at,
        },
        owner=GroupRow.account_uuid,
    )
    policy = QueryableResource(
        "Policy",
        PolicyRow,
        PolicyRow.uuid,
        {
            "uuid": PolicyRow.uuid,
            "accountUuid": PolicyRow.account_uuid,
            "name": PolicyRow.name,
            "description": PolicyRow.description,
            "createDate": PolicyRow.created_at,
        },
        owner=PolicyRow.account_uuid,
    )
    key = QueryableResource(
        "AccessKey",
        AccessKeyRow,
        AccessKeyRow.uuid,
        {
            "uuid": AccessKeyRow.uuid,
            "keyId": AccessKeyRow.key_id,
            "accountUuid": AccessKeyRow.account_uuid,
            "userUuid": AccessKeyRow.user_uuid,
            "state": AccessKeyRow.state,
            "createDate": AccessKeyRow.created_at,
        },
        owner=AccessKeyRow.account_uuid,
        choices={"state": ("Enabled", "Disabled")},
    )
    return [
        ReadableResource(account, "accounts", plain(inv.account), AccountInventory),
        ReadableResource(user, "users", plain(inv.user), UserInventory),
        ReadableResource(group, "user-groups", inv.group, GroupInventory),
        ReadableResource(policy, "policies", inv.policy, PolicyInventory),
        ReadableResource(key, "access-keys", plain(inv.access_key), AccessKeyInventory),
    ]
