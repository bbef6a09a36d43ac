"""The identity service module: accounts, users, groups, policies, access keys, quotas
and sessions (and the global configs of sessions)."""

from __future__ import annotations

from mgmt.core.module import ServiceModule
from mgmt.identity.handlers import IdentityService
from mgmt.identity.messages import API_MESSAGES
from mgmt.identity.resources import TYPES
from mgmt.identity.sessions import IDENTITY_CONFIGS

MODULE = ServiceModule(
    "identity",
    apis=API_MESSAGES,
    resources=TYPES,
    service=IdentityService,
    global_configs=IDENTITY_CONFIGS,
)
