"""Sending commands to agents (called on the resource's owner, by ``AgentStep``).

A task is sent under a task UUID its caller chose (derived from the flow step, see
``mgmt.core.agenttasks.step``): ``send`` records the ``agent_task`` row and POSTs the
command the first time, and on any later call for the same UUID — a step resumed on another
node — re-attaches instead: it asks the agent for the task's result and POSTs again only if
the agent has never heard of it (the row was written, the POST never left). A command is
therefore run by the agent at most once per task UUID, however often the step runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from agent.protocol import (
    CALLBACK_URL_HEADER,
    RESOURCE_UUID_HEADER,
    TASK_UUID_HEADER,
    AgentCommand,
    AgentReply,
    TaskState,
    TaskStatus,
)
from mgmt.core.agenttasks.models import AgentTaskRow
from mgmt.core.agenttasks.models import TaskStatus as RowStatus
from mgmt.core.agenttasks.service import AgentTaskService, TaskOutcome
from mgmt.core.db import Database
from mgmt.core.errors import Codes, ErrorCode, ZCloudError, error
from mgmt.core.logging import get_logger
from mgmt.core.ring import partition_of

log = get_logger(__name__)

ReplyT = TypeVar("ReplyT", bound=AgentReply)

CALLBACK_PATH = "/v1/agent/callbacks"
#: where agents POST change reports (``ConnectHost.reportUrl``)
REPORT_PATH = "/v1/agent/reports"


class AgentHttpError(ZCloudError):
    """The agent could not be reached or refused the command."""


@dataclass(frozen=True)
class AgentCall:
    """One command for one agent: where to send it and what it is about."""

    agent_url: str
    command: AgentCommand
    #: the host the agent runs on (kept with the task, for operators and time-outs)
    host_uuid: str
    #: the resource whose partition gets the reply; None: the flow's resource
    resource_uuid: str | None = None
    #: the task's deadline, seconds; None: the node's default (``agent_timeout``)
    timeout: float | None = None


class AgentClient:
    def __init__(
        self,
        db: Database,
        service: AgentTaskService,
        http: httpx.AsyncClient,
        *,
        node_id: str,
        partitions: int,
        callback_base_url: str,
        default_timeout: float,
    ) -> None:
        self._db = db
        self.service = service
        self._http = http
        self._node_id = node_id
        self._partitions = partitions
        self.callback_url = callback_base_url.rstrip("/") + CALLBACK_PATH
        self.report_url = callback_base_url.rstrip("/") + REPORT_PATH
        self._default_timeout = default_timeout

    async def send(
        self,
        task_uuid: str,
        call: AgentCall,
        *,
        resource_uuid: str,
        kind: str = "",
        context: dict[str, Any] | None = None,
    ) -> None:
        """Make sure the agent has task ``task_uuid``: record and POST it the first time,
        re-attach on every later call. Returns once the agent took it (or the task is final:
        an unreachable agent fails it at once); the outcome comes to the resource's owner
        and is read with ``outcome`` or awaited with ``service.wait``."""
        if await self._record(task_uuid, call, resource_uuid, kind, context):
            await self._post_or_fail(task_uuid, call.host_uuid, resource_uuid, call)
            return
        row = await self.load(task_uuid)
        if row is not None and row.status == RowStatus.PENDING:
            await self.reattach(row, call)

    async def load(self, task_uuid: str) -> AgentTaskRow | None:
        async with self._db.session() as s:
            row: AgentTaskRow | None = (
                await s.execute(select(AgentTaskRow).where(AgentTaskRow.task_uuid == task_uuid))
            ).scalar_one_or_none()
            return row

    async def outcome(self, task_uuid: str) -> TaskOutcome | None:
        """The task's outcome if it is final, else None."""
        row = await self.load(task_uuid)
        return None if row is None or row.status == RowStatus.PENDING else outcome_of(row)

    async def reattach(self, row: AgentTaskRow, call: AgentCall) -> None:
        """A pending task this process did not send (or sent before it restarted): ask the
        agent (``GET /tasks/{uuid}``). Done: finish it from the answer (the callback may be
        lost or queued for a dead node). Running: the callback will come. Unknown: the POST
        never reached the agent, so POST it now, under the same UUID. Unreachable: leave it
        to the task's deadline."""
        try:
            resp = await self._http.get(f"{row.agent_url}/tasks/{row.task_uuid}", timeout=5.0)
        except httpx.HTTPError as exc:
            log.info("agent_task.reattach_unreachable", task_uuid=row.task_uuid, error=repr(exc))
            return
        if resp.status_code == 404:
            log.info("agent_task.reattach_resend", task_uuid=row.task_uuid)
            await self._post_or_fail(row.task_uuid, row.host_uuid, row.resource_uuid, call)
            return
        if resp.status_code != 200:
            return
        try:
            status = TaskStatus.model_validate_json(resp.content)
        except ValueError:
            return
        if status.state == TaskState.DONE and status.reply is not None:
            log.info("agent_task.reattached_done", task_uuid=row.task_uuid)
            await self.service.finish_from_reply(row.task_uuid, status.reply)
        else:
            log.info("agent_task.reattached_running", task_uuid=row.task_uuid)

    @property
    def default_timeout(self) -> float:
        """A task's deadline when its call names none, s (``agent_timeout``)."""
        return self._default_timeout

    async def still_running(self, task_uuid: str) -> bool:
        """Whether the agent may still be running task ``task_uuid``: never sent, done or
        refused — no; timed out or pending here — ask the agent (``GET /tasks/{uuid}``):
        unknown to it or done — no, running — yes. Raises ``AgentHttpError`` when the agent
        cannot say (unreachable, or an answer that is not a task status)."""
        row = await self.load(task_uuid)
        if row is None or row.status in (RowStatus.DONE, RowStatus.FAILED):
            return False
        try:
            resp = await self._http.get(f"{row.agent_url}/tasks/{row.task_uuid}", timeout=5.0)
        except httpx.HTTPError as exc:
            raise AgentHttpError(
                error(Codes.AGENT_UNREACHABLE, f"{row.command} on host {row.host_uuid}: {exc!r}")
            ) from exc
        if resp.status_code == 404:
            return False
        try:
            status = TaskStatus.model_validate_json(resp.content)
        except ValueError as exc:
            raise AgentHttpError(
                error(Codes.AGENT_ERROR, f"{row.command}: HTTP {resp.status_code} from the agent")
            ) from exc
        return status.state != TaskState.DONE

    async def _record(
        self,
        task_uuid: str,
        call: AgentCall,
        resource_uuid: str,
        kind: str,
        context: dict[str, Any] | None,
    ) -> bool:
        """Insert the task row; False if it exists (this UUID was sent before)."""
        now = await self._db.now()
        insert = postgresql.insert if self._db.is_postgres else sqlite.insert
        values = {
            "task_uuid": task_uuid,
            "resource_uuid": resource_uuid,
            "partition": partition_of(resource_uuid, self._partitions),
            "host_uuid": call.host_uuid,
            "agent_url": call.agent_url.rstrip("/"),
            "command": call.command.command_name(),
            "kind": kind,
            "context": json.dumps(context or {}),
            "status": RowStatus.PENDING,
            "sender_node": self._node_id,
            "created_at": now,
            "deadline_at": now + timedelta(seconds=call.timeout or self._default_timeout),
        }
        async with self._db.session() as s, s.begin():
            result = await s.execute(
                insert(AgentTaskRow)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["task_uuid"])
            )
        return bool(getattr(result, "rowcount", 0))

    async def _post_or_fail(
        self, task_uuid: str, host_uuid: str, resource_uuid: str, call: AgentCall
    ) -> None:
        failure = await self._post(task_uuid, resource_uuid, call.agent_url, call.command)
        if failure is not None:
            await self.service.finish(
                task_uuid,
                RowStatus.FAILED,
                None,
                error(Codes.AGENT_UNREACHABLE, failure, hostUuid=host_uuid, taskUuid=task_uuid),
            )

    async def _post(
        self, task: str, resource_uuid: str, agent_url: str, command: AgentCommand
    ) -> str | None:
        """POST the command; None when the agent took it, else why not."""
        headers = {
            TASK_UUID_HEADER: task,
            CALLBACK_URL_HEADER: self.callback_url,
            RESOURCE_UUID_HEADER: resource_uuid,
            "Content-Type": "application/json",
        }
        try:
            resp = await self._http.post(
                agent_url.rstrip("/") + command.path,
                content=command.model_dump_json(),
                headers=headers,
                timeout=10.0,
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if resp.status_code in (200, 202):
            return None
        return f"HTTP {resp.status_code}: {resp.text[:200]}"

    async def call_sync(
        self, agent_url: str, command: AgentCommand, reply_type: type[ReplyT], timeout: float = 10.0
    ) -> ReplyT:
        """A cheap synchronous command (echo, connect): the reply is the HTTP answer."""
        try:
            resp = await self._http.post(
                agent_url.rstrip("/") + command.path,
                content=command.model_dump_json(),
                headers={"Content-Type": "application/json"},
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            raise AgentHttpError(
                error(Codes.AGENT_UNREACHABLE, f"{type(exc).__name__}: {exc}")
            ) from exc
        if resp.status_code != 200:
            raise AgentHttpError(
                error(
                    Codes.AGENT_ERROR,
                    f"HTTP {resp.status_code}: {resp.text[:200]}",
                    httpStatus=resp.status_code,
                )
            )
        return reply_type.model_validate_json(resp.content)


def outcome_of(row: AgentTaskRow) -> TaskOutcome:
    """A final task row as its outcome (what a step re-attaching to it reads)."""
    return TaskOutcome(
        row.task_uuid,
        RowStatus(row.status),
        json.loads(row.reply) if row.reply else None,
        ErrorCode.model_validate_json(row.error) if row.error else None,
    )
