"""Web-hook API messages: subscribe a URL to resource events matching a glob."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mgmt.core.api import ApiRequest, ApiSpec
from mgmt.core.messages import Reply


class WebHookInventory(BaseModel):
    uuid: str = Field(description="The web-hook's UUID.")
    accountUuid: str = Field(description="Its account: it gets that account's events.")
    name: str = Field(description="Name.")
    url: str = Field(description="Where events are POSTed.")
    events: str = Field(description="Glob over event paths, e.g. `resource/Zone/*`.")
    createDate: datetime = Field(description="When it was created.")


class WebHookReply(Reply):
    inventory: WebHookInventory
    secret: str | None = Field(
        default=None,
        description="Only when created: verify `X-ZCloud-Signature: sha256=<HMAC of the body>`.",
    )


class WebHookDeleted(Reply):
    deleted: list[str] = Field(default_factory=list, description="Types deleted.")


class CreateWebHook(ApiRequest[WebHookReply]):
    """Subscribe a URL to the account's resource events (signed, retried)."""

    api = ApiSpec("create", "web-hooks", "WebHook", "Create a web-hook")
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "audit", "url": "http://127.0.0.1:8080/hook", "events": "resource/*/*"}
            ]
        }
    )

    resourceUuid: str = Field(default="", max_length=64, description="Optional UUID to use.")
    name: str = Field(min_length=1, max_length=255, description="Name.")
    # printable ASCII only (non-ASCII is percent-encoded in a URL): `\S` differs between
    # regex engines (U+0085 is a space to the server's, not to ECMA's), so the schema lied
    url: str = Field(
        pattern=r"^https?://[!-~]+$", max_length=2000, description="http(s) URL (ASCII)."
    )
    events: str = Field(
        default="resource/*/*", min_length=1, max_length=255, description="Glob over event paths."
    )


class DeleteWebHook(ApiRequest[WebHookDeleted]):
    """Stop sending events to the URL."""

    api = ApiSpec("delete", "web-hooks", "WebHook", "Delete a web-hook")
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


API_MESSAGES = (CreateWebHook, DeleteWebHook)
