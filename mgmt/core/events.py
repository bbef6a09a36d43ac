"""Canonical resource events: created, updated, state changed, deleted.

Published on the bus's topic exchange under ``resource.<Type>.<kind>`` by the API job
wrapper when an API message succeeds; webhooks and any other subscriber follow them. The
event's ``path`` (``resource/Zone/created``) is what webhook globs match.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from mgmt.core.messages import Event

EventKind = Literal["created", "updated", "stateChanged", "deleted"]


class ResourceEvent(Event):
    route_by = "resourceUuid"

    resourceUuid: str = Field(description="The resource.")
    resourceType: str = Field(description="Its type, e.g. Zone.")
    kind: EventKind = Field(description="What happened.")
    accountUuid: str = Field(description="The account that did it.")
    api: str = Field(description="The API that did it.")
    jobUuid: str = Field(default="", description="The API job.")
    at: datetime = Field(description="When (database time of the node).")
    inventory: dict[str, Any] | None = Field(default=None, description="The resource after.")
    reason: str = Field(
        default="", description="Why, when no API call did it (e.g. a VM state sync)."
    )

    @classmethod
    def topic(cls) -> str:
        return "resource.#"

    def event_topic(self) -> str:
        return f"resource.{self.resourceType}.{self.kind}"

    @property
    def path(self) -> str:
        return f"resource/{self.resourceType}/{self.kind}"
