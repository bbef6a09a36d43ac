"""Identity service: accounts, users, groups, policies, sessions, access keys, quotas.

Public surface: its API messages and inventories.
"""

from mgmt.identity.messages import (
    API_MESSAGES,
    AccessKeyInventory,
    AccountInventory,
    GroupInventory,
    PolicyInventory,
    PolicyStatement,
    QuotaInventory,
    UserInventory,
)

__all__ = [
    "API_MESSAGES",
    "AccessKeyInventory",
    "AccountInventory",
    "GroupInventory",
    "PolicyInventory",
    "PolicyStatement",
    "QuotaInventory",
    "UserInventory",
]
