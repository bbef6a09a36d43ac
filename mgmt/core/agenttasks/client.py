"""Sending commands to agents (called by service handlers on the resource's owner)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any, TypeVar

import httpx

from agent.protocol import (
    CALLBACK_URL_HEADER,
    RESOURCE_UUID_HEADER,
    TASK_UUID_HEADER,
    AgentCommand,
    AgentReply,
)
from mgmt.core.agenttasks.models import AgentTaskRow, TaskStatus
from mgmt.core.agenttasks.service import AgentTaskService, TaskOutcome
from mgmt.core.db import Database
from mgmt.core.errors import Codes, OperationTimeout, ZCloudError, error
from mgmt.core.ring import partition_of

ReplyT = TypeVar("ReplyT", bound=AgentReply)

CALLBACK_PATH = "/v1/agent/callbacks"


class AgentHttpError(ZCloudError):
    """The agent could not be reached or refused the command."""


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
        self._service = service
        self._http = http
        self._node_id = node_id
        self._partitions = partitions
        self.callback_url = callback_base_url.rstrip("/") + CALLBACK_PATH
        self._default_timeout = default_timeout

    async def submit(
        self,
        *,
        resource_uuid: str,
        host_uuid: str,
        agent_url: str,
        command: AgentCommand,
        kind: str = "",
        context: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> str:
        """Record the task, then POST it; returns the task UUID. The outcome comes later
        through the continuation ``kind``, on whichever node owns the resource then. An
        agent that cannot be reached fails the task at once."""
        task, _ = await self._submit(
            resource_uuid, host_uuid, agent_url, command, kind, context, timeout, watch=False
        )
        return task

    async def call(
        self,
        *,
        resource_uuid: str,
        host_uuid: str,
        agent_url: str,
        command: AgentCommand,
        kind: str = "",
        context: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> TaskOutcome:
        """``submit`` and wait here for the outcome. Raises ``OperationTimeout`` if this node
        does not see it (the partition moved away) shortly after the task's deadline."""
        limit = timeout or self._default_timeout
        task, fut = await self._submit(
            resource_uuid, host_uuid, agent_url, command, kind, context, limit, watch=True
        )
        assert fut is not None
        try:
            return await asyncio.wait_for(fut, limit + 5.0)
        except TimeoutError:
            self._service.forget(task)
            raise OperationTimeout(
                error(Codes.TIMEOUT, f"no outcome for agent task {task} here", taskUuid=task)
            ) from None

    async def _submit(
        self,
        resource_uuid: str,
        host_uuid: str,
        agent_url: str,
        command: AgentCommand,
        kind: str,
        context: dict[str, Any] | None,
        timeout: float | None,
        *,
        watch: bool,
    ) -> tuple[str, asyncio.Future[TaskOutcome] | None]:
        task = str(uuid.uuid4())
        now = await self._db.now()
        async with self._db.session() as s, s.begin():
            s.add(
                AgentTaskRow(
                    task_uuid=task,
                    resource_uuid=resource_uuid,
                    partition=partition_of(resource_uuid, self._partitions),
                    host_uuid=host_uuid,
                    agent_url=agent_url.rstrip("/"),
                    command=command.command_name(),
                    kind=kind,
                    context=json.dumps(context or {}),
                    status=TaskStatus.PENDING,
                    sender_node=self._node_id,
                    created_at=now,
                    deadline_at=now + timedelta(seconds=timeout or self._default_timeout),
                )
            )
        # watch before the POST: the reply may be back before the POST returns
        fut = self._service.wait(task) if watch else None
        failure = await self._post(task, resource_uuid, agent_url, command)
        if failure is not None:
            await self._service.finish(
                task,
                TaskStatus.FAILED,
                None,
                error(Codes.AGENT_UNREACHABLE, failure, hostUuid=host_uuid, taskUuid=task),
            )
        return task, fut

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
                error(Codes.AGENT_ERROR, f"HTTP {resp.status_code}: {resp.text[:200]}")
            )
        return reply_type.model_validate_json(resp.content)
