"""The web-hook service's in-tree plugin: web-hooks go with their account."""

from __future__ import annotations

from collections.abc import Sequence

from mgmt.core.cascade import CASCADE_RESOURCES
from mgmt.core.cascade.table import TableCascade
from mgmt.core.plugins import Extension
from mgmt.webhook.models import WebHookRow


class WebHookPlugin:
    name = "webhook"

    def extensions(self) -> Sequence[Extension]:
        hooks = TableCascade("WebHook", WebHookRow, parents={"Account": WebHookRow.account_uuid})
        return [Extension(CASCADE_RESOURCES, hooks, type="WebHook")]
