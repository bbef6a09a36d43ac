"""The GC queue as a read-only REST collection: ``GET /v1/gc-jobs`` (admin only).

Work the GC queue holds (failed rollbacks, failed clean-ups of cascade deletes) is what an
operator must see: what is still pending, how often it was tried, why it failed last and
when it is tried next. Declared here, listed by the composition root's ``readables()``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from mgmt.core.api.reads import ReadableResource, plain
from mgmt.core.flow.models import GcJobRow
from mgmt.core.query import QueryableResource


class GcJobInventory(BaseModel):
    uuid: str = Field(description="The GC job.")
    kind: str = Field(description="rollback (a step's undo) or flow (a clean-up flow).")
    flowUuid: str = Field(description="The run that left this work.")
    flowName: str = Field(description="The flow whose step (rollback) or run (flow) is retried.")
    step: str = Field(description="The step retried (rollback jobs); '' for flow jobs.")
    resourceUuid: str = Field(description="The resource the work is about.")
    state: str = Field(description="Pending until an attempt succeeds, then Done.")
    attempts: int = Field(description="Attempts made by the GC queue so far.")
    lastError: str | None = Field(description="Why the last attempt failed, down to its cause.")
    nextAt: datetime = Field(description="When it is tried next (exponential back-off).")
    createdAt: datetime = Field(description="When it was queued.")
    doneAt: datetime | None = Field(description="When an attempt succeeded.")


def gc_readable() -> ReadableResource:
    query = QueryableResource(
        "GcJob",
        GcJobRow,
        GcJobRow.uuid,
        {
            "uuid": GcJobRow.uuid,
            "kind": GcJobRow.kind,
            "flowUuid": GcJobRow.flow_uuid,
            "flowName": GcJobRow.flow_name,
            "step": GcJobRow.step,
            "resourceUuid": GcJobRow.resource_uuid,
            "state": GcJobRow.state,
            "attempts": GcJobRow.attempts,
            "lastError": GcJobRow.last_error,
            "nextAt": GcJobRow.next_at,
            "createdAt": GcJobRow.created_at,
            "doneAt": GcJobRow.done_at,
        },
    )

    def inventory(row: GcJobRow) -> BaseModel:
        return GcJobInventory(
            uuid=row.uuid,
            kind=row.kind,
            flowUuid=row.flow_uuid,
            flowName=row.flow_name,
            step=row.step,
            resourceUuid=row.resource_uuid,
            state=row.state,
            attempts=row.attempts,
            lastError=row.last_error,
            nextAt=row.next_at,
            createdAt=row.created_at,
            doneAt=row.done_at,
        )

    return ReadableResource(query, "gc-jobs", plain(inventory), GcJobInventory, admin_only=True)
