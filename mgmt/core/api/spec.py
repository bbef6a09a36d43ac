"""API messages: a bus request that also declares its REST binding.

An API message subclasses ``ApiRequest[Reply]`` and sets ``api = ApiSpec(...)``. The API
frontend derives the route, the request-body schema (for validation and OpenAPI) and the
job handling from it; nothing else is written per API. The frontend fills in ``caller``
(who is calling, from the session) and ``jobUuid``; a client cannot set either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from mgmt.core.errors import ErrorCode, PermanentError, error
from mgmt.core.messages import Reply, Request

ReplyT = TypeVar("ReplyT", bound=Reply)

#: what a resource UUID may be: a UUID, hyphenated or not, in either case
UUID_PATTERN = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"


#: how a delete treats dependents: Permissive lets them veto, Enforcing deletes them all
DeleteMode = Literal["Permissive", "Enforcing"]


def delete_mode() -> Any:
    """The ``deleteMode`` field every delete API takes (default Permissive)."""
    return Field(
        default="Permissive", description="Permissive: dependents may veto. Enforcing: no checks."
    )


def uuid_ref(description: str) -> Any:
    """The field of a message that names another resource by its UUID: the schema says it
    is a UUID, so a client learns that from the document and a non-UUID is a 400 naming
    the field before anything is looked up."""
    return Field(min_length=32, max_length=36, pattern=UUID_PATTERN, description=description)


Kind = Literal["create", "update", "delete", "action"]
_METHOD: dict[str, str] = {"create": "POST", "update": "PUT", "delete": "DELETE", "action": "POST"}


class CallerContext(BaseModel):
    """Who sent an API message; set by the frontend from the authenticated session."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    accountUuid: str = Field(description="The caller's account.")
    userUuid: str | None = Field(default=None, description="The user inside the account.")
    isAdmin: bool = Field(default=False, description="An admin account: sees everything.")
    sourceIp: str = Field(default="", description="Client address, for the audit log.")


@dataclass(frozen=True)
class ApiSpec:
    """The REST binding of an API message.

    ``collection`` is the plural kebab-case path segment (``zones``); ``action`` names a
    ``POST /v1/<collection>/{uuid}/actions/<action>`` (kind ``action`` only).
    """

    kind: Kind
    collection: str
    resource: str
    summary: str
    action: str | None = None
    admin_only: bool = False
    #: a create of one kind of the resource, at ``POST /v1/<collection>/<variant>`` (an L2
    #: network's ``vlan``): each kind has its own exact body, as in ZStack's API
    variant: str | None = None
    #: a create whose ``resourceUuid`` is the new resource's (claimed, so it must be a
    #: UUID no resource holds); False for a create that adds something to the existing
    #: resource ``resourceUuid`` names (a tag, a share)
    new_resource: bool = True

    def __post_init__(self) -> None:
        if (self.kind == "action") != (self.action is not None):
            raise ValueError("an action names its action; other kinds do not")
        if self.variant is not None and self.kind != "create":
            raise ValueError("only a create has a variant")

    @property
    def claims_uuid(self) -> bool:
        """Does this API create a resource under the ``resourceUuid`` it is given?"""
        return self.kind == "create" and self.new_resource

    @property
    def method(self) -> str:
        return _METHOD[self.kind]

    @property
    def path(self) -> str:
        base = f"/v1/{self.collection}"
        if self.kind == "create":
            return base if self.variant is None else f"{base}/{self.variant}"
        if self.kind == "action":
            return f"{base}/{{uuid}}/actions/{self.action}"
        return f"{base}/{{uuid}}"


#: Fields the frontend owns; never taken from a request body.
SERVER_FIELDS = frozenset({"caller", "jobUuid"})


class ApiRequest(Request[ReplyT]):
    """Base of API messages (routed by ``resourceUuid``, the resource acted on).

    ``server_fields`` names fields the frontend fills (never taken from a body); a message
    carrying a secret overrides ``prepare`` to replace it (e.g. hash a password) before the
    message is stored in its job row or published: no secret is at rest in clear.
    """

    api: ClassVar[ApiSpec]
    server_fields: ClassVar[frozenset[str]] = frozenset()

    resourceUuid: str = Field(
        min_length=1,
        max_length=64,
        description="The resource's UUID; on create, optional: the server picks one.",
    )
    caller: CallerContext | None = Field(default=None, description="Set by the API frontend.")
    jobUuid: str = Field(default="", description="The API job this message answers.")
    systemTags: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Create only: system tags the new resource gets (validated first).",
    )
    userTags: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Create only: user tags the new resource gets.",
    )

    async def prepare(self) -> ApiRequest[ReplyT]:
        """Called by the frontend once the message is valid; returns what is sent."""
        return self


class ApiCodes:
    INVALID_ARGUMENT = ("API.1000", "Invalid argument")
    UNAUTHENTICATED = ("API.1001", "Authentication required")
    PERMISSION_DENIED = ("API.1003", "Permission denied")
    NOT_FOUND = ("API.1004", "Resource not found")
    METHOD_NOT_ALLOWED = ("API.1005", "Method not allowed")
    CONFLICT = ("API.1009", "Resource in a conflicting state")
    QUOTA_EXCEEDED = ("API.1029", "Quota exceeded")


_STATUS = {
    ApiCodes.INVALID_ARGUMENT[0]: 400,
    ApiCodes.UNAUTHENTICATED[0]: 401,
    ApiCodes.PERMISSION_DENIED[0]: 403,
    ApiCodes.NOT_FOUND[0]: 404,
    ApiCodes.CONFLICT[0]: 409,
    ApiCodes.QUOTA_EXCEEDED[0]: 429,
    "QUERY.1001": 400,
    "TAG.1001": 400,
    "TAG.1002": 400,
    "TAG.1003": 403,
    "TAG.1004": 409,
    "GCONF.1001": 400,
    "GCONF.1002": 404,
    "CASCADE.1001": 409,
    "STATE.1001": 409,
    # counters (mgmt/core/counters/ledger.py: why insufficient capacity is 409, not 429)
    "COUNTER.1001": 409,
    "COUNTER.1002": 404,
    "COUNTER.1003": 409,
    "COUNTER.1004": 400,
}


def not_found(resource_type: str, uuid: str, *, field: str | None = None) -> ErrorCode:
    """The one wording of a 404 in every API: ``user group 1f0… not found`` for type
    ``UserGroup``. Something another account owns is reported the same way."""
    extra: dict[str, Any] = {"uuid": uuid}
    if field is not None:
        extra["field"] = field
    prefix = f"{field}: " if field else ""
    what = _CAMEL.sub(" ", resource_type).lower()
    return error(ApiCodes.NOT_FOUND, f"{prefix}{what} {uuid} not found", **extra)


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def invalid_field(field: str, details: str) -> PermanentError:
    """A 400 naming the field: ``vtepCidr: not a CIDR``."""
    return PermanentError(error(ApiCodes.INVALID_ARGUMENT, f"{field}: {details}", field=field))


def conflict_field(field: str, details: str) -> PermanentError:
    """A 409 naming the field: what the resource's kind or state refuses (the body itself
    is valid)."""
    return PermanentError(error(ApiCodes.CONFLICT, f"{field}: {details}", field=field))


def require_admin(caller: CallerContext) -> None:
    """A handler's own check of an admin-only API: the frontend refuses non-admins already
    (``admin_only``), a message that reached the bus some other way is refused here."""
    if not caller.isAdmin:
        raise PermanentError(error(ApiCodes.PERMISSION_DENIED, "admin only"))


#: every status a failed API job can answer with (``http_status``'s values)
JOB_STATUSES = frozenset({*_STATUS.values(), 503})


def caller_of(msg: Any) -> CallerContext:
    """The caller the frontend put on an API message; a message without one (not through
    the API) is refused."""
    caller = getattr(msg, "caller", None)
    if not isinstance(caller, CallerContext):
        raise PermanentError(error(ApiCodes.UNAUTHENTICATED, "no caller on the message"))
    return caller


def http_status(err: ErrorCode, statuses: Mapping[str, int] | None = None) -> int:
    """The HTTP status of a failed API: the first code in the cause chain that has one (in
    the core's table or ``statuses``, the services' own), else 503 (the operation failed;
    nothing the client sent was wrong)."""
    shown = innermost_meaningful(err, statuses)
    return _status_of(shown.code, statuses) or 503


def innermost_meaningful(err: ErrorCode, statuses: Mapping[str, int] | None = None) -> ErrorCode:
    """The error to show a client: the first with an HTTP meaning, else the outermost."""
    current: ErrorCode | None = err
    while current is not None:
        if _status_of(current.code, statuses) is not None:
            return current
        current = current.cause
    return err


def _status_of(code: str, statuses: Mapping[str, int] | None) -> int | None:
    found = _STATUS.get(code)
    if found is None and statuses is not None:
        found = statuses.get(code)
    return found


def body_fields(message: type[ApiRequest[Any]]) -> dict[str, Any]:
    """The request-body fields of an API message (what a client may send)."""
    skip = set(SERVER_FIELDS) | set(message.server_fields)
    if message.api.kind != "create":
        skip.update(("resourceUuid", "systemTags", "userTags"))  # from the path; create only
    return {n: f for n, f in message.model_fields.items() if n not in skip}
