"""What the client says to the server, written once for the async and the sync client.

Each operation is a *conversation*: a generator that yields ``HttpCall`` (send this) or
``Sleep`` (wait this long) and is sent back what came of it (``HttpAnswer``, or
``TransportFailure`` when nothing came). ``AsyncZCloud`` and ``ZCloud`` only drive these
generators with httpx; spec lookup, retries, job polling and error mapping live here, with
no I/O of their own, so both twins behave the same and tests can drive either.
"""

from __future__ import annotations

import http
import json
import time
import uuid as uuidlib
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mgmt.client.errors import ApiError, ConnectionFailed, JobTimeout
from mgmt.client.spec import OpenApiSpec, OperationInfo, prepare

T = TypeVar("T")

#: ``on_progress(state, elapsed_seconds)``: called while a job runs (state as the server
#: names it: ``Pending``, ``Running``); for spinners and logs, never for control.
ProgressCallback = Callable[[str, float], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Resending after a connection error: ``attempts`` in all, back-off doubling from
    ``initial`` up to ``maximum`` seconds. Writes carry one ``X-Job-UUID`` per logical call,
    so a resend never runs an operation twice."""

    attempts: int = 5
    initial: float = 0.2
    maximum: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.initial < 0 or self.maximum < self.initial:
            raise ValueError("RetryPolicy needs 0 <= initial <= maximum")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.initial * 2 ** (attempt - 1), self.maximum))


@dataclass(frozen=True)
class PollPolicy:
    """Waiting for a job: the server holds the first answer up to ``prefer_wait`` seconds
    (``Prefer: wait=N``; it caps N at 60), then the client polls the job with back-off from
    ``initial`` to ``maximum`` seconds and gives up (``JobTimeout``) after ``job_timeout``."""

    prefer_wait: float = 10.0
    initial: float = 0.1
    maximum: float = 2.0
    job_timeout: float = 600.0

    def __post_init__(self) -> None:
        if self.prefer_wait < 0 or self.job_timeout <= 0:
            raise ValueError("PollPolicy needs prefer_wait >= 0 and job_timeout > 0")
        if self.initial <= 0 or self.maximum < self.initial:
            raise ValueError("PollPolicy needs 0 < initial <= maximum")


@dataclass(frozen=True)
class QueryResult:
    """A page of a query: the inventories and, when asked for, the total that matched."""

    inventories: list[dict[str, Any]]
    total: int | None


@dataclass(frozen=True)
class HttpCall:
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: dict[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: seconds the server may hold this request on purpose (``Prefer: wait``)
    held: float = 0.0


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: Mapping[str, str]
    content: bytes


@dataclass(frozen=True)
class TransportFailure:
    reason: str
    retryable: bool


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step = HttpCall | Sleep
Outcome = HttpAnswer | TransportFailure | None
Conversation = Generator[Step, Outcome, T]


class ClientCore:
    """State shared by a client's conversations: base URL, token and the cached spec."""

    def __init__(
        self, base_url: str, token: str | None, retry: RetryPolicy, poll: PollPolicy
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.retry = retry
        self.poll = poll
        self._spec: OpenApiSpec | None = None

    # -- sessions ------------------------------------------------------------------------

    def login(self, account: str, password: str, user: str | None = None) -> Conversation[str]:
        body = {"accountName": account, "password": password}
        if user is not None:
            body["userName"] = user
        answer = yield from self._exchange(HttpCall("POST", "/v1/sessions", body=body))
        inventory = _decode(answer).get("inventory")
        token = inventory.get("token") if isinstance(inventory, dict) else None
        if not isinstance(token, str) or not token:
            raise ApiError(answer.status, "CLIENT.1001", "Unexpected answer", "no session token")
        self.token = token
        return token

    def logout(self) -> Conversation[None]:
        if self.token is None:
            return
        answer = yield from self._exchange(HttpCall("DELETE", "/v1/sessions/current"))
        self.token = None
        _decode(answer)

    # -- the spec ------------------------------------------------------------------------

    def spec(self) -> Conversation[OpenApiSpec]:
        if self._spec is None:
            answer = yield from self._exchange(HttpCall("GET", "/openapi.json"))
            self._spec = OpenApiSpec.parse(_decode(answer))
        return self._spec

    def operations(self) -> Conversation[list[OperationInfo]]:
        spec = yield from self.spec()
        return spec.operations()

    def operation(self, name: str) -> Conversation[OperationInfo]:
        spec = yield from self.spec()
        return spec.operation(name)

    # -- calls ---------------------------------------------------------------------------

    def call(
        self, api: str, params: Mapping[str, Any], on_progress: ProgressCallback | None
    ) -> Conversation[dict[str, Any]]:
        spec = yield from self.spec()
        result = yield from self._call_op(spec.operation(api), params, on_progress, strict=True)
        return result

    def query(
        self,
        resource: str,
        conditions: Sequence[str],
        *,
        limit: int | None,
        start: int | None,
        sort: str | None,
        fields: str | Sequence[str] | None,
        count: bool,
    ) -> Conversation[QueryResult]:
        spec = yield from self.spec()
        op = spec.read_operation("Query", resource)
        params: dict[str, Any] = {"q": list(conditions)}
        if limit is not None:
            params["limit"] = limit
        if start is not None:
            params["start"] = start
        if sort:
            params["sort"] = sort
        if fields:
            params["fields"] = fields if isinstance(fields, str) else ",".join(fields)
        if count:
            params["count"] = True
        else:
            params["replyWithCount"] = True
        body = yield from self._call_op(op, params, None, strict=False)
        inventories = body.get("inventories", [])
        total = body.get("total")
        return QueryResult(
            inventories=list(inventories) if isinstance(inventories, list) else [],
            total=total if isinstance(total, int) else None,
        )

    def get(self, resource: str, uuid: str) -> Conversation[dict[str, Any]]:
        spec = yield from self.spec()
        op = spec.read_operation("Get", resource)
        body = yield from self._call_op(op, {"uuid": uuid}, None, strict=True)
        inventory = body.get("inventory", body)
        return inventory if isinstance(inventory, dict) else body

    def zql(self, statement: str) -> Conversation[dict[str, Any]]:
        spec = yield from self.spec()
        result = yield from self._call_op(
            spec.operation("ZQLQuery"), {"zql": statement}, None, strict=True
        )
        return result

    def _call_op(
        self,
        op: OperationInfo,
        params: Mapping[str, Any],
        on_progress: ProgressCallback | None,
        *,
        strict: bool,
    ) -> Conversation[dict[str, Any]]:
        prepared = prepare(op, params, strict=strict)
        headers: dict[str, str] = {}
        held = 0.0
        if not op.is_read:
            # one job UUID per logical call: every resend below is the same job
            headers["X-Job-UUID"] = str(uuidlib.uuid4())
            if self.poll.prefer_wait > 0:
                held = self.poll.prefer_wait
                headers["Prefer"] = f"wait={held:g}"
        request = HttpCall(
            prepared.method, prepared.path, prepared.query, prepared.body, headers, held
        )
        started = time.monotonic()
        answer = yield from self._exchange(request)
        result = yield from self._until_done(answer, started, on_progress)
        return result

    def _until_done(
        self, answer: HttpAnswer, started: float, on_progress: ProgressCallback | None
    ) -> Conversation[dict[str, Any]]:
        """Poll a job answered with 202 + ``Location`` until it has its final answer."""
        delay = self.poll.initial
        while answer.status == 202 and answer.headers.get("location"):
            location = answer.headers["location"]
            running = _json(answer.content)
            state = str(running.get("state", "Running")) if isinstance(running, dict) else ""
            elapsed = time.monotonic() - started
            if on_progress is not None:
                on_progress(state or "Running", elapsed)
            if elapsed + delay > self.poll.job_timeout:
                raise JobTimeout(location, state or "Running", elapsed)
            yield Sleep(delay)
            delay = min(delay * 2, self.poll.maximum)
            answer = yield from self._exchange(HttpCall("GET", location))
        return _decode(answer)

    # -- transport -----------------------------------------------------------------------

    def _exchange(self, request: HttpCall) -> Conversation[HttpAnswer]:
        """Send ``request`` (with the session), resending it after connection errors and
        "503, retry later" answers."""
        if self.token:
            headers = {**request.headers, "Authorization": f"Bearer {self.token}"}
            request = HttpCall(
                request.method, request.path, request.query, request.body, headers, request.held
            )
        attempt = 0
        while True:
            attempt += 1
            outcome = yield request
            if isinstance(outcome, HttpAnswer):
                # 503 with Retry-After: the server (or the balancer before it) is briefly
                # unable to answer; writes carry their X-Job-UUID, so sending again cannot
                # do the work twice. A 503 without it is an answer (a job's own error).
                if not _retry_later(outcome) or attempt >= self.retry.attempts:
                    return outcome
                yield Sleep(self.retry.delay(attempt))
                continue
            reason = outcome.reason if outcome is not None else "no answer"
            retryable = outcome is not None and outcome.retryable
            if not retryable or attempt >= self.retry.attempts:
                raise ConnectionFailed(self.base_url, reason, attempt)
            yield Sleep(self.retry.delay(attempt))


def _retry_later(answer: HttpAnswer) -> bool:
    return answer.status == 503 and any(k.lower() == "retry-after" for k in answer.headers)


def _json(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


def _decode(answer: HttpAnswer) -> dict[str, Any]:
    """The body of a final answer; ``ApiError`` for an error status."""
    if answer.status >= 400:
        raise api_error(answer)
    if answer.status == 204 or not answer.content:
        return {}
    data = _json(answer.content)
    if isinstance(data, dict):
        return data
    if data is None:
        raise ApiError(answer.status, "CLIENT.1001", "Unexpected answer", "the answer is not JSON")
    return {"result": data}


def api_error(answer: HttpAnswer) -> ApiError:
    """Map an error answer (``{"error": ErrorCode}``, or anything else) to ``ApiError``."""
    status = answer.status
    data = _json(answer.content)
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        extra = err.get("extra") if isinstance(err.get("extra"), dict) else {}
        assert isinstance(extra, dict)
        field = extra.get("field")
        return ApiError(
            status,
            str(err.get("code") or f"HTTP.{status}"),
            str(err.get("description") or _phrase(status)),
            str(err.get("details") or ""),
            str(field) if field is not None else None,
            extra=extra,
        )
    if isinstance(data, dict) and "detail" in data:  # a framework answer (unknown route …)
        detail = data["detail"]
        text = detail if isinstance(detail, str) else json.dumps(detail)
    else:
        text = answer.content.decode(errors="replace").strip()[:200]
    return ApiError(status, f"HTTP.{status}", _phrase(status), text)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"
