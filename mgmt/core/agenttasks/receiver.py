"""The callback receiver's logic (served by every API frontend and the all-in-one).

An agent POSTs a reply with ``X-Task-UUID``. The receiver checks the task exists and is
pending, validates the reply against the command's reply model, and publishes
``AgentTaskCompleted`` on the resource's partition, so the current owner finishes the task
whichever node sent it. A duplicate of a finished task is acknowledged and ignored.

A change report (``receive_report``, no task) is validated and published as
``AgentReported`` on the partition of the host it names.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from agent.protocol import VmStateChangedReport, command_by_name
from mgmt.core.agenttasks.messages import AgentReported, AgentTaskCompleted
from mgmt.core.agenttasks.models import AgentTaskRow, TaskStatus
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.core.errors import ZCloudError


@dataclass(frozen=True)
class CallbackOutcome:
    status_code: int
    body: dict[str, Any]


def _bad(field: str, reason: str) -> CallbackOutcome:
    return CallbackOutcome(400, {"error": {"code": "SYS.1004", "field": field, "details": reason}})


async def receive_callback(
    db: Database, bus: Bus, *, task_uuid: str | None, body: bytes, received_by: str
) -> CallbackOutcome:
    if not task_uuid:
        return _bad("X-Task-UUID", "header is required")
    try:
        task_uuid = str(uuid.UUID(task_uuid))
    except ValueError:
        return _bad("X-Task-UUID", "not a UUID")
    try:
        reply = json.loads(body)
    except ValueError:
        return _bad("body", "not JSON")
    if not isinstance(reply, dict):
        return _bad("body", "must be a JSON object")
    async with db.session() as s:
        row = (
            await s.execute(select(AgentTaskRow).where(AgentTaskRow.task_uuid == task_uuid))
        ).scalar_one_or_none()
    if row is None:
        return CallbackOutcome(404, {"error": {"code": "SYS.1004", "details": "unknown task"}})
    if row.status != TaskStatus.PENDING:
        return CallbackOutcome(200, {"status": "ignored", "taskStatus": row.status})
    command = command_by_name(row.command)
    if command is not None:
        try:
            command.reply_type.model_validate(reply)
        except ValidationError as exc:
            fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
            return _bad(f"body.{fields}", "does not match the command's reply")
    try:
        await bus.send(
            AgentTaskCompleted(
                resourceUuid=row.resource_uuid,
                taskUuid=task_uuid,
                reply=reply,
                receivedBy=received_by,
            )
        )
    except ZCloudError as exc:
        return CallbackOutcome(503, {"error": exc.error.model_dump()})
    return CallbackOutcome(202, {"status": "accepted"})


async def receive_report(bus: Bus, *, body: bytes, received_by: str) -> CallbackOutcome:
    """A ``VmStateChangedReport``: 400 naming the field when it does not validate, 202
    once the host's owner has it on its queue (503 when the bus cannot take it)."""
    try:
        report = VmStateChangedReport.model_validate_json(body)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        return _bad(f"body.{fields}" if fields else "body", "not a VmStateChangedReport")
    try:
        uuid.UUID(report.hostUuid)
    except ValueError:
        return _bad("body.hostUuid", "not a UUID")
    try:
        await bus.send(
            AgentReported(
                hostUuid=report.hostUuid,
                kind=type(report).__name__,
                report=report.model_dump(mode="json"),
                receivedBy=received_by,
            )
        )
    except ZCloudError as exc:
        return CallbackOutcome(503, {"error": exc.error.model_dump()})
    return CallbackOutcome(202, {"status": "accepted"})
