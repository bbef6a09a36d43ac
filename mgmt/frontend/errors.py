"""Every error the frontend answers, in the one shape ``{"error": ErrorCode}``.

``install_error_handlers`` (called by the app factory) turns what the router and the request
parser raise on their own (404 for an unknown route, 405 for a wrong method, 400 for a
malformed body) into the same body that ``ApiHttpError`` gets, so a client parses one shape
whatever went wrong. ``validation_error`` is shared with the write path, which validates API
messages itself.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from mgmt.core.api import ApiCodes
from mgmt.core.errors import ErrorCode, error
from mgmt.frontend.auth import ApiHttpError, api_error_handler


class ErrorReply(BaseModel):
    """The body of every error answer (the OpenAPI document names it for each status)."""

    error: ErrorCode = Field(description="What went wrong: a stable code, text and facts.")


#: a status the router answers by itself, and the code it gets in the error body
_ROUTER_CODES: dict[int, tuple[str, str]] = {
    404: ApiCodes.NOT_FOUND,
    405: ApiCodes.METHOD_NOT_ALLOWED,
}


def validation_error(exc: ValidationError | RequestValidationError) -> ApiHttpError:
    """400 naming the first offending field; for a body that is not JSON at all, where it
    stops being JSON (line, column and byte offset) instead of a field."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid"}
    if first.get("type") == "json_invalid" and isinstance(exc, RequestValidationError):
        return _malformed_json(first, exc.body)
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or "body"
    return ApiHttpError(
        400,
        error(ApiCodes.INVALID_ARGUMENT, f"{field}: {first.get('msg', 'invalid')}", field=field),
    )


def _malformed_json(first: Any, document: Any) -> ApiHttpError:
    # FastAPI puts json.JSONDecodeError's character offset where a field name would go
    loc = first.get("loc", ())
    pos = loc[-1] if loc and isinstance(loc[-1], int) else 0
    why = (first.get("ctx") or {}).get("error", "not JSON")
    text = document if isinstance(document, str) else ""
    located = json.JSONDecodeError(why, text, pos)  # computes lineno/colno as json does
    details = f"malformed JSON at line {located.lineno}, column {located.colno}: {why}"
    return ApiHttpError(
        400,
        error(
            ApiCodes.INVALID_ARGUMENT,
            details,
            field="body",
            line=located.lineno,
            column=located.colno,
            position=pos,
        ),
    )


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route serves at this path: the router stops at the first route
    whose path matches, which would name only that route's methods in ``Allow``. A path
    that is a route of its own (``/v1/l2-networks/vlan``) is that resource, not an instance
    of a templated one (``/v1/l2-networks/{uuid}``) it also matches."""
    matching = [r for r in app.router.routes if r.matches(request.scope)[0] != Match.NONE]
    exact = [r for r in matching if "{" not in getattr(r, "path", "{")]
    methods: set[str] = set()
    for route in exact or matching:
        methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    async def router_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        kind = _ROUTER_CODES.get(exc.status_code, ApiCodes.INVALID_ARGUMENT)
        headers = dict(exc.headers or {})
        details = f"no route {request.url.path}"
        if exc.status_code == 405:
            allow = allowed_methods(app, request)
            headers["Allow"] = ", ".join(allow)
            details = f"{request.method} {request.url.path}: use {', '.join(allow)}"
        elif exc.status_code != 404:
            details = str(exc.detail)
        body = {"error": error(kind, details).model_dump(mode="json")}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return await api_error_handler(request, validation_error(exc))

    app.add_exception_handler(StarletteHTTPException, router_error)
    app.add_exception_handler(ApiHttpError, api_error_handler)
    app.add_exception_handler(RequestValidationError, invalid_request)
