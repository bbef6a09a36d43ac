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

from mgmt.core.api import CallerContext, caller_of, not_found
from mgmt.core.api.delivery import post_with_retries
from mgmt.core.api.reads import ReadableResource, plain
from mgmt.core.bus import Bus, Consumer, HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.db import Database, utcnow
from mgmt.core.errors import PermanentError
from mgmt.core.events import ResourceEvent
from mgmt.core.messages import Message
from mgmt.core.query import QueryableResource
from mgmt.core.resource import forget, insert_or_get
from mgmt.webhook.messages import (
    CreateWebHook,
    DeleteWebHook,
    WebHookDeleted,
    WebHookInventory,
    WebHookReply,
)
from mgmt.webhook.models import WebHookRow

MasterKey = Callable[[], Awaitable[bytes]]


def hook_secret(master: bytes, hook_uuid: str) -> str:
    return hmac.new(master, f"web-hook:{hook_uuid}".encode(), "sha256").hexdigest()


def inventory(row: WebHookRow) -> WebHookInventory:
    return WebHookInventory(
        uuid=row.uuid,
        accountUuid=row.account_uuid,
        name=row.name,
        url=row.url,
        events=row.events,
        createDate=row.created_at,
    )


class WebHookService:
    def __init__(self, db: Database, master_key: MasterKey) -> None:
        self._db = db
        self._master_key = master_key

    def handlers(self) -> dict[type[Message], Handler]:
        return {CreateWebHook: self.create, DeleteWebHook: self.delete}

    async def create(self, msg: CreateWebHook, ctx: HandlerContext) -> WebHookReply:
        now = utcnow()

        def build(caller: CallerContext) -> WebHookRow:
            return WebHookRow(
                uuid=msg.resourceUuid,
                account_uuid=caller.accountUuid,
                name=msg.name,
                url=msg.url,
                events=msg.events,
                all_accounts=caller.isAdmin,
                created_at=now,
            )

        async with self._db.session() as s, s.begin():
            row = await insert_or_get(s, WebHookRow, msg, ctx, build=build)
        secret = hook_secret(await self._master_key(), row.uuid)
        return WebHookReply(inventory=inventory(row), secret=secret)

    async def delete(self, msg: DeleteWebHook, ctx: HandlerContext) -> WebHookDeleted:
        caller = caller_of(msg)
        async with self._db.session() as s, s.begin():
            row = await s.get(WebHookRow, msg.resourceUuid)
            if row is None or not (caller.isAdmin or row.account_uuid == caller.accountUuid):
                raise PermanentError(not_found("WebHook", msg.resourceUuid))
            await s.delete(row)
            await forget(s, [row.uuid])
        return WebHookDeleted(deleted=["WebHook"])


class WebHookDispatcher:
    def __init__(
        self, db: Database, http: httpx.AsyncClient, master_key: MasterKey, *, attempts: int = 4
    ) -> None:
        self._db = db
        self._http = http
        self._master_key = master_key
        self._attempts = attempts
        self._consumer: Consumer | None = None

    async def start(self, bus: Bus) -> None:
        self._consumer = await bus.subscribe(
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


def readables() -> list[ReadableResource]:
    query = QueryableResource(
        "WebHook",
        WebHookRow,
        WebHookRow.uuid,
        {
            "uuid": WebHookRow.uuid,
            "accountUuid": WebHookRow.account_uuid,
            "name": WebHookRow.name,
            "url": WebHookRow.url,
            "events": WebHookRow.events,
            "createDate": WebHookRow.created_at,
        },
        owner=WebHookRow.account_uuid,
    )
    return [ReadableResource(query, "web-hooks", plain(inventory), WebHookInventory)]
