"""The web-hook service module: subscriptions, and their delivery on every node."""

from __future__ import annotations

from mgmt.core.module import NodeParts, ServiceModule
from mgmt.webhook.messages import API_MESSAGES
from mgmt.webhook.resources import WEBHOOK
from mgmt.webhook.service import WebHookDispatcher, WebHookService


def _dispatcher(parts: NodeParts) -> list[WebHookDispatcher]:
    return [WebHookDispatcher(parts.db, parts.bus, parts.http, parts.master_key)]


MODULE = ServiceModule(
    "webhook",
    apis=API_MESSAGES,
    resources=(WEBHOOK,),
    service=WebHookService,
    runners=_dispatcher,
)
