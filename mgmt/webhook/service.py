"""Web-hook service: the subscriptions (handlers) and the delivery of events to them.

``WebHookDispatcher`` consumes resource events from one durable queue shared by every
management node (each event is delivered by one node), POSTs it to every matching
subscription of the account that caused it, signed with the hook's secret, with retries;
the event is acknowledged after the attempts, so a node dying mid-delivery means the event
is delivered again by another node (at-least-once).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from fnmatch import fnmatchcase

import httpx
from sqlalchemy import or_, select

from mgmt.core.api import caller_of
from mgmt.core.api.delivery import post_with_retries
from mgmt.core.bus import Bus, Consumer, HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.db import Database
from mgmt.core.events import ResourceEvent
from mgmt.core.messages import Message
from mgmt.core.module import NodeParts
from mgmt.webhook.messages import CreateWebHook, WebHookInventory, WebHookReply
from mgmt.webhook.models import WebHookRow
from mgmt.webhook.resources import WEBHOOK

MasterKey = Callable[[], Awaitable[bytes]]


def hook_secret(master: bytes, hook_uuid: str) -> str:
    return hmac.new(master, f"web-hook:{hook_uuid}".encode(), "sha256").hexdigest()


def inventory(row: WebHookRow) -> WebHookInventory:
    return WEBHOOK.to_inventory(row)


class WebHookService:
    """Creates web-hooks (an admin's gets every account's events; the reply carries the
    signing secret, derived, never stored). Delete is the kit's default."""

    def __init__(self, parts: NodeParts) -> None:
        self._db = parts.db
        self._master_key = parts.master_key
        self._hooks = parts.resource("WebHook")

    def handlers(self) -> dict[type[Message], Handler]:
        return {CreateWebHook: self.create}

    async def create(self, msg: CreateWebHook, ctx: HandlerContext) -> WebHookReply:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            row = await self._hooks.create_row(s, msg, ctx, values={"all_accounts": caller.isAdmin})
        secret = hook_secret(await self._master_key(), row.uuid)
        return WebHookReply(inventory=inventory(row), secret=secret)


class WebHookDispatcher:
    """A node's share of web-hook delivery (a ``Runner`` of the node: started last)."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        http: httpx.AsyncClient,
        master_key: MasterKey,
        *,
        attempts: int = 4,
    ) -> None:
        self._db = db
        self._bus = bus
        self._http = http
        self._master_key = master_key
        self._attempts = attempts
        self._consumer: Consumer | None = None

    async def start(self) -> None:
        self._consumer = await self._bus.subscribe(
            "web-hooks", [ResourceEvent], self.on_event, durable=True
        )

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.close()
            self._consumer = None

    async def on_event(self, event: ResourceEvent) -> None:
        async with self._db.session() as s:
            hooks = (
                await s.execute(
                    select(WebHookRow).where(
                        or_(
                            WebHookRow.account_uuid == event.accountUuid,
                            WebHookRow.all_accounts.is_(True),
                        )
                    )
                )
            ).scalars()
            matching = [h for h in hooks if fnmatchcase(event.path, h.events)]
        if not matching:
            return
        body = json.dumps({"path": event.path, "event": event.model_dump(mode="json")}).encode()
        master = await self._master_key()
        for hook in matching:
            await post_with_retries(
                self._http,
                hook.url,
                body,
                {"X-ZCloud-Event": event.path, "X-ZCloud-WebHook": hook.uuid},
                secret=hook_secret(master, hook.uuid).encode(),
                attempts=self._attempts,
            )
