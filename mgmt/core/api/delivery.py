"""HTTP deliveries with retries: API job results to ``X-Web-Hook`` URLs, events to
web-hook subscriptions. Bodies are signed when a secret is known
(``X-ZCloud-Signature: sha256=<hex HMAC of the body>``)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import httpx

from mgmt.core.logging import get_logger

log = get_logger(__name__)


async def post_with_retries(
    http: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    secret: bytes | None = None,
    attempts: int = 4,
    first_delay: float = 0.5,
) -> bool:
    """POST until a 2xx (True) or the attempts run out (False); 4xx other than 408/429 stop."""
    if secret is not None:
        mac = hmac.new(secret, body, hashlib.sha256).hexdigest()
        headers = {**headers, "X-ZCloud-Signature": f"sha256={mac}"}
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            resp = await http.post(
                url,
                content=body,
                headers={"content-type": "application/json", **headers},
                timeout=10,
            )
            if resp.is_success:
                return True
            if 400 <= resp.status_code < 500 and resp.status_code not in (408, 429):
                log.warning("delivery.refused", url=url, status=resp.status_code)
                return False
        except httpx.HTTPError as exc:
            log.info("delivery.retry", url=url, attempt=attempt, error=type(exc).__name__)
        if attempt < attempts:
            await asyncio.sleep(delay)
            delay *= 2
    log.warning("delivery.gave_up", url=url, attempts=attempts)
    return False


class JobWebhooks:
    """Posts a finished job's outcome to the URL its ``X-Web-Hook`` header named."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._tasks: set[asyncio.Task[bool]] = set()

    def deliver(self, url: str, job: str, state: str, body: str) -> None:
        payload = json.dumps({"jobUuid": job, "state": state, "result": json.loads(body)}).encode()
        task = asyncio.create_task(
            post_with_retries(self._http, url, payload, {"X-Job-UUID": job}), name="job-webhook"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
