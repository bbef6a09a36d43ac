"""The errors the client raises: every failure leaves as a ``ClientError`` subclass.

``ApiError`` is an answer from the server (or a request the client refused to send because
the server's spec says it is wrong); ``ConnectionFailed`` means no answer came after the
retries; ``JobTimeout`` means the job was still running when the client stopped waiting.
Raw httpx exceptions never reach callers.
"""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Base of every error the zcloud client raises."""


class ApiError(ClientError):
    """The server answered with an error status (or the request is invalid per its spec).

    ``status`` is the HTTP status (a request refused client-side gets 400 and a ``CLIENT.``
    code); ``field`` names the offending request field when the server said which.
    """

    def __init__(
        self,
        status: int,
        code: str,
        description: str,
        details: str = "",
        field: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.description = description
        self.details = details
        self.field = field
        self.extra: dict[str, Any] = dict(extra or {})
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.code} ({self.status}): {self.details or self.description}"

    def __repr__(self) -> str:
        return (
            f"ApiError(status={self.status}, code={self.code!r}, "
            f"details={self.details!r}, field={self.field!r})"
        )

    @property
    def is_client_error(self) -> bool:
        """True for 4xx: retrying the same request will not help."""
        return 400 <= self.status < 500


class UsageError(ApiError):
    """The request does not fit the operation in the server's spec; nothing was sent."""

    CODE = "CLIENT.1000"

    def __init__(self, details: str, field: str | None = None) -> None:
        super().__init__(400, self.CODE, "Invalid request", details, field)


class ConnectionFailed(ClientError):
    """The server could not be reached (after the retries)."""

    def __init__(self, url: str, reason: str, attempts: int) -> None:
        self.url = url
        self.reason = reason
        self.attempts = attempts
        super().__init__(f"cannot reach {url} after {attempts} attempt(s): {reason}")


class JobTimeout(ClientError):
    """The API job did not finish in time; it keeps running on the server.

    ``location`` is the job's path: poll it later to get the result.
    """

    def __init__(self, location: str, state: str, waited: float) -> None:
        self.location = location
        self.state = state
        self.waited = waited
        super().__init__(f"job {location} still {state} after {waited:.0f}s")
