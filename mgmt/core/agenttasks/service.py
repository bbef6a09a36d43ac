"""Owner side of agent tasks: completion, timeouts and lost callbacks.

``AgentTaskService`` handles ``AgentTaskCompleted`` on the resource's partition. It finishes
the task row (``UPDATE … WHERE status='Pending'``: a duplicate or late reply changes nothing)
and wakes whoever waits for it on this node. What happens next is the business of the flow
step that sent the task (``mgmt.core.agenttasks.step.AgentStep``): it reads the final row,
here or — after a take-over — on the node that resumed the flow. There is no other way to
continue after a reply. For the partitions this node owns the service also tracks pending
tasks: a task past its deadline times out with ``SYS.1102``; a task pending for
``poll_after`` seconds is asked for at the agent (``GET /tasks/{uuid}``), which recovers
replies whose callback was lost.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from agent.protocol import TaskState
from agent.protocol import TaskStatus as AgentTaskStatus
from mgmt.core.agenttasks.messages import AgentTaskCompleted
from mgmt.core.agenttasks.models import AgentTaskRow, TaskStatus
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.db import Database
from mgmt.core.errors import Codes, ErrorCode, error
from mgmt.core.logging import get_logger
from mgmt.core.messages import Message

log = get_logger(__name__)


@dataclass(frozen=True)
class TaskOutcome:
    task_uuid: str
    status: TaskStatus
    reply: dict[str, Any] | None
    error: ErrorCode | None


class AgentTaskService:
    def __init__(
        self,
        db: Database,
        node_id: str,
        *,
        http: httpx.AsyncClient,
        scan_interval: float = 1.0,
        poll_after: float = 10.0,
    ) -> None:
        self._db = db
        self._node_id = node_id
        self._http = http
        self._scan_interval = scan_interval
        self._poll_after = poll_after
        self._waiters: dict[str, asyncio.Future[TaskOutcome]] = {}
        self._owned: frozenset[int] = frozenset()
        self._tracker: asyncio.Task[None] | None = None

    def handlers(self) -> dict[type[Message], Handler]:
        return {AgentTaskCompleted: self.on_completed}

    def wait(self, task_uuid: str) -> asyncio.Future[TaskOutcome]:
        """A future for the outcome, resolved if this node finishes the task."""
        fut = self._waiters.get(task_uuid)
        if fut is None:
            fut = self._waiters[task_uuid] = asyncio.get_running_loop().create_future()
        return fut

    def forget(self, task_uuid: str) -> None:
        self._waiters.pop(task_uuid, None)

    async def on_completed(self, msg: AgentTaskCompleted, ctx: HandlerContext) -> None:
        await self.finish_from_reply(msg.taskUuid, msg.reply)

    async def finish_from_reply(self, task_uuid: str, reply: dict[str, Any]) -> bool:
        """Finish a task from the agent's reply (callback, or the answer to a task query)."""
        success = bool(reply.get("success", True))
        err = (
            None
            if success
            else error(
                Codes.AGENT_ERROR,
                str(reply.get("error") or "agent failed"),
                agentCode=reply.get("errorCode"),
                retryable=bool(reply.get("retryable", False)),
            )
        )
        return await self.finish(
            task_uuid, TaskStatus.DONE if success else TaskStatus.FAILED, reply, err
        )

    async def finish(
        self,
        task_uuid: str,
        status: TaskStatus,
        reply: dict[str, Any] | None,
        err: ErrorCode | None,
    ) -> bool:
        """Make the task final; False if it already was (duplicate or late reply)."""
        outcome = TaskOutcome(task_uuid, status, reply, err)
        now = await self._db.now()
        async with self._db.session() as s, s.begin():
            result = await s.execute(
                update(AgentTaskRow)
                .where(
                    AgentTaskRow.task_uuid == task_uuid, AgentTaskRow.status == TaskStatus.PENDING
                )
                .values(
                    status=status,
                    reply=json.dumps(reply) if reply is not None else None,
                    error=err.model_dump_json() if err is not None else None,
                    completed_by=self._node_id,
                    completed_at=now,
                )
            )
            if getattr(result, "rowcount", 0) != 1:
                log.info("agent_task.ignored_reply", task_uuid=task_uuid, reason="not pending")
                return False
        log.info("agent_task.finished", task_uuid=task_uuid, status=status)
        fut = self._waiters.pop(task_uuid, None)
        if fut is not None and not fut.done():
            fut.set_result(outcome)
        return True

    # -- partition listener: the tracker runs for the partitions this node owns ----------

    async def partitions_changed(self, owned: frozenset[int]) -> None:
        self._owned = owned
        if owned and self._tracker is None:
            self._tracker = asyncio.create_task(self._track(), name="agent-task-tracker")
        elif not owned and self._tracker is not None:
            await self.stop()

    async def stop(self) -> None:
        if self._tracker is not None:
            self._tracker.cancel()
            await asyncio.gather(self._tracker, return_exceptions=True)
            self._tracker = None

    async def _track(self) -> None:
        while True:
            await asyncio.sleep(self._scan_interval)
            try:
                await self.scan_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("agent_task.scan_failed", error=f"{type(exc).__name__}: {exc}")

    async def scan_once(self) -> None:
        owned = self._owned
        if not owned:
            return
        now = await self._db.now()
        async with self._db.session() as s:
            rows = (
                (
                    await s.execute(
                        select(AgentTaskRow)
                        .where(
                            AgentTaskRow.status == TaskStatus.PENDING,
                            AgentTaskRow.partition.in_(sorted(owned)),
                            AgentTaskRow.created_at
                            < now - timedelta(seconds=min(self._poll_after, 1.0)),
                        )
                        .limit(500)
                    )
                )
                .scalars()
                .all()
            )
        for row in rows:
            if row.deadline_at <= now:
                await self.finish(
                    row.task_uuid,
                    TaskStatus.TIMED_OUT,
                    None,
                    error(
                        Codes.AGENT_TIMEOUT,
                        f"{row.command} got no reply by its deadline",
                        taskUuid=row.task_uuid,
                        hostUuid=row.host_uuid,
                    ),
                )
            elif row.created_at <= now - timedelta(seconds=self._poll_after):
                await self._poll_agent(row)

    async def _poll_agent(self, row: AgentTaskRow) -> None:
        try:
            resp = await self._http.get(f"{row.agent_url}/tasks/{row.task_uuid}", timeout=5.0)
        except httpx.HTTPError:
            return  # agent unreachable: the deadline decides
        if resp.status_code == 404:
            await self.finish(
                row.task_uuid,
                TaskStatus.FAILED,
                None,
                error(
                    Codes.AGENT_ERROR,
                    "the agent does not know this task (restarted?)",
                    taskUuid=row.task_uuid,
                ),
            )
            return
        if resp.status_code != 200:
            return
        try:
            status = AgentTaskStatus.model_validate_json(resp.content)
        except ValueError:
            return
        if status.state == TaskState.DONE and status.reply is not None:
            log.info("agent_task.recovered_lost_callback", task_uuid=row.task_uuid)
            await self.finish_from_reply(row.task_uuid, status.reply)
