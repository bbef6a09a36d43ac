"""POSTing replies to the management plane's callback URL, with retries."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import structlog

from agent.protocol import RESOURCE_UUID_HEADER, TASK_UUID_HEADER

log = structlog.stdlib.get_logger(__name__)


class CallbackSender:
    """Retries connection errors and 5xx with exponential back-off for ``retry_seconds``; a
    4xx is final (the receiver rejected the reply: retrying cannot change its mind)."""

    def __init__(self, retry_seconds: float = 120.0, timeout: float = 10.0) -> None:
        self._client = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=100))
        self._retry_seconds = retry_seconds

    async def send(
        self, url: str, task_uuid: str, reply: dict[str, Any], resource_uuid: str | None = None
    ) -> bool:
        headers = {TASK_UUID_HEADER: task_uuid, "Content-Type": "application/json"}
        if resource_uuid:
            headers[RESOURCE_UUID_HEADER] = resource_uuid
        return await self._deliver(url, json.dumps(reply), headers, task_uuid)

    async def report(self, url: str, report: dict[str, Any]) -> bool:
        """POST a change report (no task: ``VmStateChangedReport``), retried like a reply."""
        return await self._deliver(
            url, json.dumps(report), {"Content-Type": "application/json"}, "report"
        )

    async def _deliver(self, url: str, body: str, headers: dict[str, str], task_uuid: str) -> bool:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._retry_seconds
        delay = 0.2
        while True:
            try:
                resp = await self._client.post(url, content=body, headers=headers)
                if resp.status_code < 400:
                    return True
                if resp.status_code < 500:
                    log.warning("callback.rejected", task_uuid=task_uuid, status=resp.status_code)
                    return False
                problem = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if loop.time() + delay > give_up:
                log.error("callback.gave_up", task_uuid=task_uuid, error=problem)
                return False
            log.info("callback.retry", task_uuid=task_uuid, error=problem, delay=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        await self._client.aclose()
