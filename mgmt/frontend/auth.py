"""Authentication at the frontend: sessions (log in, log out) and who is calling.

Every API route but log-in is marked ``SECURED`` and starts with ``Authenticator.caller``:
``Authorization: Bearer <token>`` of a live session, or an access-key signature, else 401.
Errors leave as ``{"error": ErrorCode}`` with their HTTP status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict
from sqlalchemy import select

from mgmt.core.api import ApiCodes, CallerContext
from mgmt.core.db import Database
from mgmt.core.errors import ErrorCode, PermanentError, error
from mgmt.core.gconfig import GlobalConfigService
from mgmt.identity.keys import SCHEME, check, key_secret
from mgmt.identity.models import AccessKeyRow, AccountRow, AccountType
from mgmt.identity.policies import decide, statements_for
from mgmt.identity.sessions import MAX_SESSIONS, SESSION_TIMEOUT, Sessions


class ApiHttpError(Exception):
    def __init__(self, status: int, err: ErrorCode) -> None:
        super().__init__(err.details)
        self.status = status
        self.error = err


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiHttpError)
    return JSONResponse({"error": exc.error.model_dump(mode="json")}, status_code=exc.status)


_SECRET: JsonDict = {"format": "password", "writeOnly": True}


class LogIn(BaseModel):
    """Log in to an account."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"accountName": "admin", "password": "…"}]}
    )

    accountName: str = Field(min_length=1, max_length=128, description="The account's name.")
    userName: str | None = Field(
        default=None, min_length=1, max_length=128, description="A user of the account."
    )
    password: str = Field(
        min_length=1, max_length=1024, description="The password.", json_schema_extra=_SECRET
    )


class SessionInventory(BaseModel):
    uuid: str = Field(description="The session's UUID.")
    accountUuid: str = Field(description="The account logged in.")
    token: str = Field(description="Send as `Authorization: Bearer <token>`; shown only once.")
    expiresAt: str = Field(description="When the session ends (ISO 8601).")


class SessionReply(BaseModel):
    inventory: SessionInventory


MasterKey = Callable[[], Awaitable[bytes]]

#: the OpenAPI security scheme of every route that needs a caller (``SECURED`` marks them;
#: declared in the document only, so resolving a request costs no extra dependency)
BEARER_SCHEME = "HTTPBearer"
SECURED: dict[str, Any] = {"security": [{BEARER_SCHEME: []}]}


def declare_bearer_scheme(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemes = generate().setdefault("components", {}).setdefault("securitySchemes", {})
            schemes[BEARER_SCHEME] = {
                "type": "http",
                "scheme": "bearer",
                "description": "A session token from POST /v1/sessions (access keys sign "
                "requests instead: `Authorization: ZCloud <keyId>:<signature>`).",
            }
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


@dataclass
class Authenticator:
    """Who is calling (a session's bearer token or an access-key signature) and whether a
    user may do an action (its policies)."""

    db: Database
    sessions: Sessions
    gconfig: GlobalConfigService
    master_key: MasterKey

    async def caller(self, request: Request) -> CallerContext:
        """The authenticated caller: the first thing every route marked ``SECURED`` does."""
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        source = request.client.host if request.client else ""
        if scheme == SCHEME:
            return await self._signed(request, credential.strip(), source)
        if scheme.lower() != "bearer" or not credential.strip():
            raise ApiHttpError(
                401, error(ApiCodes.UNAUTHENTICATED, "send Authorization: Bearer <session token>")
            )
        caller = await self.sessions.authenticate(credential.strip(), source)
        if caller is None:
            raise ApiHttpError(
                401, error(ApiCodes.UNAUTHENTICATED, "the session is unknown, expired or revoked")
            )
        request.state.caller = caller  # for the audit log
        return caller

    async def _signed(self, request: Request, credential: str, source: str) -> CallerContext:
        key_id, _, given = credential.partition(":")
        async with self.db.read_session() as s:
            found = (
                await s.execute(
                    select(AccessKeyRow, AccountRow.type)
                    .join(AccountRow, AccountRow.uuid == AccessKeyRow.account_uuid)
                    .where(AccessKeyRow.key_id == key_id, AccessKeyRow.state == "Enabled")
                )
            ).first()
        why = "unknown access key"
        if found is not None:
            secret = key_secret(await self.master_key(), key_id)
            date = request.headers.get("date", "")
            why = check(secret, request.method, request.url.path, date, given) or ""
        if found is None or why:
            raise ApiHttpError(401, error(ApiCodes.UNAUTHENTICATED, f"bad signature: {why}"))
        key, account_type = found
        request.state.caller = CallerContext(
            accountUuid=key.account_uuid,
            userUuid=key.user_uuid,
            isAdmin=account_type == AccountType.ADMIN and key.user_uuid is None,
            sourceIp=source,
        )
        caller: CallerContext = request.state.caller
        return caller

    async def authorize(self, caller: CallerContext, action: str, resource: str) -> None:
        """Users need an attached policy allowing the action; accounts need none."""
        if caller.userUuid is None:
            return
        if not decide(await statements_for(self.db, caller.userUuid), action, resource):
            raise ApiHttpError(
                403, error(ApiCodes.PERMISSION_DENIED, f"no policy allows {action} here")
            )


def mount_sessions(app: FastAPI, auth: Authenticator) -> None:
    @app.post(
        "/v1/sessions",
        tags=["sessions"],
        summary="Log in",
        operation_id="LogIn",
        response_model=SessionReply,
        # the status of a refused log-in (its body schema is added with every other error's)
        responses={
            401: {"description": "Wrong name or password."},
            429: {"description": "Too many sessions."},
        },
    )
    async def log_in(body: LogIn) -> SessionReply:
        try:
            new = await auth.sessions.login(
                body.accountName,
                body.password,
                user_name=body.userName,
                timeout=auth.gconfig.value(SESSION_TIMEOUT),
                max_sessions=auth.gconfig.value(MAX_SESSIONS),
            )
        except PermanentError as exc:
            status = 429 if exc.error.code == ApiCodes.QUOTA_EXCEEDED[0] else 401
            raise ApiHttpError(status, exc.error) from exc
        return SessionReply(
            inventory=SessionInventory(
                uuid=new.uuid,
                accountUuid=new.account_uuid,
                token=new.token,
                expiresAt=new.expires_at,
            )
        )

    @app.delete(
        "/v1/sessions/current",
        tags=["sessions"],
        summary="Log out",
        operation_id="LogOut",
        status_code=204,
        openapi_extra=SECURED,
    )
    async def log_out(request: Request) -> Response:
        await auth.caller(request)
        _, _, token = request.headers.get("authorization", "").partition(" ")
        await auth.sessions.revoke(token.strip())
        return Response(status_code=204)
