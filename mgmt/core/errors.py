"""Errors as values: ``ErrorCode`` travels in replies; exceptions carry one.

Retryable versus permanent is explicit: ``TemporaryError`` (retry after ``delay``) and
``PermanentError``. Anything else a handler raises becomes ``SYS.1000`` internal error.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorCode(BaseModel):
    """A structured error: ``code`` like ``SYS.1001``, text, details and an optional cause."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(description="Stable code, SERVICE.NNNN.", examples=["SYS.1001"])
    description: str = Field(description="What kind of error this is.")
    details: str = Field(default="", description="What happened this time.")
    cause: ErrorCode | None = Field(default=None, description="The error that led to this one.")
    extra: dict[str, Any] = Field(default_factory=dict, description="Machine-readable facts.")

    def caused(self, cause: ErrorCode) -> ErrorCode:
        return self.model_copy(update={"cause": cause})


class Codes:
    """The system error catalogue (service catalogues live in their services)."""

    INTERNAL = ("SYS.1000", "Internal error")
    TIMEOUT = ("SYS.1001", "Operation timed out")
    HANDLER_FAILED = ("SYS.1002", "Message handler failed")
    UNKNOWN_MESSAGE = ("SYS.1003", "Unknown message type")
    BAD_MESSAGE = ("SYS.1004", "Malformed message")
    NO_HANDLER = ("SYS.1005", "No handler for message")
    BUS_UNAVAILABLE = ("SYS.1006", "Message bus unavailable")
    UNAVAILABLE = ("SYS.1007", "Service briefly unavailable (database or network); retry")
    AGENT_ERROR = ("SYS.1100", "Agent reported a failure")
    AGENT_UNREACHABLE = ("SYS.1101", "Agent unreachable")
    AGENT_TIMEOUT = ("SYS.1102", "Agent task timed out")
    DEAD_LETTERED = ("SYS.1200", "Message dead-lettered after too many attempts")


def error(kind: tuple[str, str], details: str = "", **extra: Any) -> ErrorCode:
    """Build an ``ErrorCode`` from a catalogue entry."""
    return ErrorCode(code=kind[0], description=kind[1], details=details, extra=extra)


class ZCloudError(Exception):
    """An operation failed with ``error``; a handler raising it replies with that code."""

    retryable = False

    def __init__(self, err: ErrorCode) -> None:
        super().__init__(f"{err.code} {err.description}: {err.details}")
        self.error = err


class PermanentError(ZCloudError):
    """Retrying will not help."""


class TemporaryError(ZCloudError):
    """Retry after ``delay`` seconds may succeed."""

    retryable = True

    def __init__(self, err: ErrorCode, delay: float = 1.0) -> None:
        super().__init__(err)
        self.delay = delay


class OperationTimeout(TemporaryError):
    """The deadline passed before a reply came."""


def to_error_code(exc: BaseException) -> ErrorCode:
    """The ``ErrorCode`` a failed handler replies with."""
    if isinstance(exc, ZCloudError):
        return exc.error
    return error(Codes.INTERNAL, f"{type(exc).__name__}: {exc}")


# connection exceptions, server shutting down / starting, too many connections,
# serialization failure, deadlock: PostgreSQL SQLSTATE prefixes worth a retry
_TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300", "40001", "40P01")


def is_transient(exc: BaseException) -> bool:
    """An error worth retrying in place: declared temporary, or the database or network
    briefly unavailable (connection lost, pool exhausted, server restarting)."""
    if isinstance(exc, TemporaryError):
        return True
    if isinstance(exc, ZCloudError | TimeoutError):  # TimeoutError: a deadline, not a blip
        return False
    from sqlalchemy import exc as sa  # noqa: PLC0415 - keeps this module light to import

    if isinstance(exc, sa.DBAPIError):
        orig = exc.orig
        cause = orig.__cause__ if orig is not None else None
        state = getattr(orig, "sqlstate", None) or getattr(cause, "sqlstate", None)
        return (
            bool(exc.connection_invalidated)
            or isinstance(exc, sa.OperationalError | sa.InterfaceError)
            or (isinstance(state, str) and state.startswith(_TRANSIENT_SQLSTATES))
        )
    return isinstance(exc, sa.TimeoutError | ConnectionError | OSError)
