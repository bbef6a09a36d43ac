"""Web-hooks, declared (reads, queries, cascade with their account, default delete)."""

from __future__ import annotations

from mgmt.core.resource import ResourceType
from mgmt.webhook.messages import WebHookInventory
from mgmt.webhook.models import WebHookRow

WEBHOOK = ResourceType("WebHook", "web-hooks", WebHookRow, WebHookInventory, owner="account_uuid")
