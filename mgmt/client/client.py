"""``AsyncZCloud`` and ``ZCloud``: the Python client of the zcloud REST API.

Both drive the conversations of ``mgmt.client.core`` over httpx (one with
``httpx.AsyncClient``, one with ``httpx.Client``; the sync twin never touches an event loop,
so it works inside a running one). Everything is found in the server's ``/openapi.json``:
``call("CreateZone", name="z1")`` works for every API the server has, with no per-API code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from mgmt.client.core import (
    ClientCore,
    Conversation,
    HttpAnswer,
    HttpCall,
    Outcome,
    PollPolicy,
    ProgressCallback,
    QueryResult,
    RetryPolicy,
    Sleep,
    TransportFailure,
)
from mgmt.client.spec import OperationInfo

T = TypeVar("T")

USER_AGENT = "zcloud-client/0.1"

#: connection errors worth a resend (the request carries its job UUID, so resending is safe);
#: others (a malformed URL, an unsupported scheme) fail at once
_RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def _failure(exc: httpx.TransportError) -> TransportFailure:
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return TransportFailure(reason, retryable=isinstance(exc, _RETRYABLE))


def _request_args(call: HttpCall, timeout: float) -> dict[str, Any]:
    args: dict[str, Any] = {
        "method": call.method,
        "url": call.path,
        "params": list(call.query),
        "headers": dict(call.headers),
        "timeout": timeout + call.held,  # the server holds a `Prefer: wait` request on purpose
    }
    if call.body is not None:
        args["json"] = call.body
    return args


class AsyncZCloud:
    """Async client. ``token`` is a session token (from ``login`` or saved earlier);
    ``timeout`` bounds each HTTP request, ``poll.job_timeout`` the wait for a job.

    Every failure raises a ``ClientError``: ``ApiError`` for an error answer, ``UsageError``
    for a call the spec rules out, ``ConnectionFailed``, ``JobTimeout``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._core = ClientCore(base_url, token, retry or RetryPolicy(), poll or PollPolicy())
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=self._core.base_url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
        )

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def token(self) -> str | None:
        return self._core.token

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def login(self, account: str, password: str, *, user: str | None = None) -> str:
        """Open a session (of ``user`` of the account, when given); its token is used from
        now on and returned (to save it)."""
        return await self._run(self._core.login(account, password, user))

    async def logout(self) -> None:
        """End the session (a no-op without one)."""
        await self._run(self._core.logout())

    async def call(
        self, api: str, /, *, on_progress: ProgressCallback | None = None, **params: Any
    ) -> dict[str, Any]:
        """Run API ``api`` (an operationId such as ``CreateZone``) and return its final
        answer's body (for writes, once the job is done: e.g. ``{"inventory": {...}}``)."""
        return await self._run(self._core.call(api, params, on_progress))

    async def query(
        self,
        resource: str,
        *conditions: str,
        limit: int | None = None,
        start: int | None = None,
        sort: str | None = None,
        fields: str | Sequence[str] | None = None,
        count: bool = False,
    ) -> QueryResult:
        """``Query<resource>`` with conditions such as ``"name=z1"``, ``"state!=Disabled"``.
        ``count=True`` asks only for the total."""
        conv = self._core.query(
            resource, conditions, limit=limit, start=start, sort=sort, fields=fields, count=count
        )
        return await self._run(conv)

    async def get(self, resource: str, uuid: str) -> dict[str, Any]:
        """The inventory of one resource (``Get<resource>``)."""
        return await self._run(self._core.get(resource, uuid))

    async def zql(self, statement: str) -> dict[str, Any]:
        """The server's answer to a ZQL statement (``ZQLQuery``)."""
        return await self._run(self._core.zql(statement))

    async def operations(self) -> list[OperationInfo]:
        """The server's APIs, by name (the spec is fetched once per client)."""
        return await self._run(self._core.operations())

    async def operation(self, name: str) -> OperationInfo:
        """One API of the server; ``UsageError`` (naming near matches) if it has none."""
        return await self._run(self._core.operation(name))

    async def _run(self, conv: Conversation[T]) -> T:
        outcome: Outcome = None
        while True:
            try:
                step = conv.send(outcome)
            except StopIteration as done:
                result: T = done.value
                return result
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
                outcome = None
                continue
            try:
                resp = await self._http.request(**_request_args(step, self._timeout))
                outcome = HttpAnswer(resp.status_code, resp.headers, resp.content)
            except httpx.TransportError as exc:
                outcome = _failure(exc)


class ZCloud:
    """The sync twin of ``AsyncZCloud`` (same methods, blocking, over ``httpx.Client``)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._core = ClientCore(base_url, token, retry or RetryPolicy(), poll or PollPolicy())
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=self._core.base_url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
        )

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def token(self) -> str | None:
        return self._core.token

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def login(self, account: str, password: str, *, user: str | None = None) -> str:
        """Open a session (of ``user`` of the account, when given); its token is used from
        now on and returned (to save it)."""
        return self._run(self._core.login(account, password, user))

    def logout(self) -> None:
        """End the session (a no-op without one)."""
        self._run(self._core.logout())

    def call(
        self, api: str, /, *, on_progress: ProgressCallback | None = None, **params: Any
    ) -> dict[str, Any]:
        """Run API ``api`` and return its final answer's body (see ``AsyncZCloud.call``)."""
        return self._run(self._core.call(api, params, on_progress))

    def query(
        self,
        resource: str,
        *conditions: str,
        limit: int | None = None,
        start: int | None = None,
        sort: str | None = None,
        fields: str | Sequence[str] | None = None,
        count: bool = False,
    ) -> QueryResult:
        """``Query<resource>`` (see ``AsyncZCloud.query``)."""
        conv = self._core.query(
            resource, conditions, limit=limit, start=start, sort=sort, fields=fields, count=count
        )
        return self._run(conv)

    def get(self, resource: str, uuid: str) -> dict[str, Any]:
        """The inventory of one resource (``Get<resource>``)."""
        return self._run(self._core.get(resource, uuid))

    def zql(self, statement: str) -> dict[str, Any]:
        """The server's answer to a ZQL statement (``ZQLQuery``)."""
        return self._run(self._core.zql(statement))

    def operations(self) -> list[OperationInfo]:
        """The server's APIs, by name (the spec is fetched once per client)."""
        return self._run(self._core.operations())

    def operation(self, name: str) -> OperationInfo:
        """One API of the server; ``UsageError`` (naming near matches) if it has none."""
        return self._run(self._core.operation(name))

    def _run(self, conv: Conversation[T]) -> T:
        outcome: Outcome = None
        while True:
            try:
                step = conv.send(outcome)
            except StopIteration as done:
                result: T = done.value
                return result
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
                outcome = None
                continue
            try:
                resp = self._http.request(**_request_args(step, self._timeout))
                outcome = HttpAnswer(resp.status_code, resp.headers, resp.content)
            except httpx.TransportError as exc:
                outcome = _failure(exc)
