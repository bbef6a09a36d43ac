"""Messages of global config: the update request, its reply, and the change event.

``UpdateGlobalConfig`` is routed by a UUID derived from the config's identity
(``gconfig_routing_uuid``), so updates to one config run one at a time on one partition.
``GlobalConfigChanged`` is published after an update commits; every node's
``GlobalConfigService`` applies it (and polls the table in case an event is lost).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mgmt.core.gconfig.definitions import CATEGORY_MAX, NAME_MAX
from mgmt.core.messages import Event, Reply, Request

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:zcloud:global-config")


def gconfig_routing_uuid(category: str, name: str) -> str:
    """The stable resource UUID a config's messages are routed by (uuid5 of its identity)."""
    return str(uuid.uuid5(_NAMESPACE, f"{category}.{name}"))


class GlobalConfigInventory(BaseModel):
    """A config as stored: values are JSON text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: str = Field(description="Category, e.g. the owning service.", examples=["vm"])
    name: str = Field(description="Name within the category.", examples=["expungePeriod"])
    value: str = Field(description="Current value, JSON text.", examples=["3600"])
    defaultValue: str = Field(description="Default value, JSON text.", examples=["3600"])
    description: str = Field(description="What the config controls.")
    version: int = Field(ge=1, description="Bumped by every update.")
    updateDate: datetime = Field(description="When the value was last written (UTC).")


class UpdateGlobalConfigReply(Reply):
    inventory: GlobalConfigInventory = Field(description="The config after the update.")


class UpdateGlobalConfig(Request[UpdateGlobalConfigReply]):
    """Set a config's value; every node applies it within seconds.

    Fails with ``GCONF.1002`` for an unknown config and ``GCONF.1001`` for a value its
    definition refuses (nothing is written then)."""

    category: str = Field(min_length=1, max_length=CATEGORY_MAX, description="Config category.")
    name: str = Field(min_length=1, max_length=NAME_MAX, description="Config name.")
    value: str = Field(
        max_length=65536,
        description='New value: JSON text ("30", "true", "\\"fast\\"") or a plain string.',
    )
    resourceUuid: str = Field(
        default="",
        max_length=64,
        description="Routing key; use `gconfig_routing_uuid(category, name)` (filled in "
        "when left empty).",
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_routing_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("resourceUuid"):
            category, name = data.get("category"), data.get("name")
            if isinstance(category, str) and isinstance(name, str):
                return {**data, "resourceUuid": gconfig_routing_uuid(category, name)}
        return data

    @model_validator(mode="after")
    def _check_routing_key(self) -> UpdateGlobalConfig:
        expected = gconfig_routing_uuid(self.category, self.name)
        if self.resourceUuid != expected:
            raise ValueError(f"resourceUuid must be gconfig_routing_uuid(...) = {expected}")
        return self


class GlobalConfigChanged(Event):
    """A config's value changed (published after the update committed)."""

    category: str = Field(description="Config category.")
    name: str = Field(description="Config name.")
    value: str = Field(description="The new value, JSON text.")
    version: int = Field(ge=1, description="The row version carrying this value.")
