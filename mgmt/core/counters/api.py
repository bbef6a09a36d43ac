"""Counters through the REST API and the bus: read by admins, recalculated by admins.

``GET /v1/counters`` queries every counter like any collection (``q=ownerUuid=…``,
``q=available<10``); ``GET /v1/counters/<ownerUuid>.<name>`` reads one.
``POST /v1/counters/{ownerUuid}/actions/recalculate`` rebuilds an owner's counters from
what uses them (optionally one, ``{"name": "host.cpu"}``), routed to the node owning the
owner's partition. ``CounterDriftFound`` is published when a recalculation found a counter
wrong, whoever ran it (the API or the periodic checker).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mgmt.core.api import ApiRequest, ApiSpec
from mgmt.core.api.reads import ReadableResource, plain
from mgmt.core.counters.models import CounterRow
from mgmt.core.messages import Event, Reply
from mgmt.core.query import QueryableResource


class CounterInventory(BaseModel):
    """A counter as stored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uuid: str = Field(description="<ownerUuid>.<name>: the counter's id in the API.")
    ownerUuid: str = Field(description="The resource the counter belongs to.")
    ownerType: str = Field(description="Its type, e.g. Host.", examples=["Host"])
    name: str = Field(description="The counter's name.", examples=["host.cpu"])
    total: int = Field(description="Capacity.")
    available: int = Field(description="Capacity not reserved (negative: over-committed).")
    used: int = Field(description="Capacity reserved (total - available).")
    createDate: datetime = Field(description="When the counter was defined (UTC).")
    lastOpDate: datetime = Field(description="When it last changed (UTC).")


class RecalculatedCounter(BaseModel):
    """One counter after a recalculation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ownerUuid: str = Field(description="The counter's owner.")
    name: str = Field(description="The counter's name.")
    total: int = Field(description="Capacity now.")
    available: int = Field(description="Available now (total - what its rows use).")
    totalBefore: int = Field(description="Capacity the counter said before.")
    availableBefore: int = Field(description="Available the counter said before.")
    drift: int = Field(
        description="How far the stored used was off: > 0 leaked capacity, < 0 under-counted."
    )


class RecalculateCountersReply(Reply):
    inventories: list[RecalculatedCounter] = Field(description="The counters, by name.")


class RecalculateCounters(ApiRequest[RecalculateCountersReply]):
    """Rebuild the counters of a resource from the rows that use them (admin only).

    ``resourceUuid`` (the path) is the counters' owner. A counter found wrong is corrected,
    counted in ``zcloud_counter_drift_found_total`` and announced as ``CounterDriftFound``.
    An owner with no counter (or none named ``name``) is a 404.
    """

    api = ApiSpec(
        "action",
        "counters",
        "Counter",
        "Recalculate a resource's counters from what uses them",
        action="recalculate",
        admin_only=True,
    )
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "host.cpu"}]})

    name: str | None = Field(
        default=None, max_length=64, description="Only this counter (default: all of them)."
    )


class CounterDriftFound(Event):
    """A recalculation found a counter wrong and corrected it (like a ``ResourceEvent``:
    about the owner resource, published on the topic exchange as
    ``counter.drift.<name>``)."""

    resourceUuid: str = Field(description="The counter's owner.")
    resourceType: str = Field(description="The owner's type.")
    name: str = Field(description="The counter.")
    drift: int = Field(description="How far used was off (> 0 leaked, < 0 under-counted).")
    totalBefore: int
    availableBefore: int
    total: int
    available: int
    trigger: str = Field(description="Who recalculated: api or checker.")
    node: str = Field(description="The management node that corrected it.")
    at: datetime = Field(description="When (UTC).")

    @classmethod
    def topic(cls) -> str:
        return "counter.drift.#"

    def event_topic(self) -> str:
        return f"counter.drift.{self.name}"

    @property
    def path(self) -> str:
        return f"counter/{self.name}/drift"


API_MESSAGES = (RecalculateCounters,)


def inventory(row: CounterRow) -> CounterInventory:
    return CounterInventory(
        uuid=f"{row.owner_uuid}.{row.name}",
        ownerUuid=row.owner_uuid,
        ownerType=row.owner_type,
        name=row.name,
        total=row.total,
        available=row.available,
        used=row.total - row.available,
        createDate=row.created_at,
        lastOpDate=row.updated_at,
    )


def readables() -> list[ReadableResource]:
    # owner UUIDs have no dot, so "<owner>.<name>" splits back unambiguously
    identity = (CounterRow.owner_uuid + "." + CounterRow.name).label("uuid")
    query = QueryableResource(
        "Counter",
        CounterRow,
        identity,
        {
            "uuid": identity,
            "ownerUuid": CounterRow.owner_uuid,
            "ownerType": CounterRow.owner_type,
            "name": CounterRow.name,
            "total": CounterRow.total,
            "available": CounterRow.available,
            "used": (CounterRow.total - CounterRow.available).label("used"),
            "createDate": CounterRow.created_at,
            "lastOpDate": CounterRow.updated_at,
        },
    )
    return [
        ReadableResource(query, "counters", plain(inventory), CounterInventory, admin_only=True)
    ]
