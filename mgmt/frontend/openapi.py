"""The OpenAPI document's error answers, derived once for every operation.

FastAPI documents a 422 with its own body for any route with parameters; this frontend
answers a bad request with 400 and ``{"error": ErrorCode}`` instead (``errors.py``), and
answers 401 on every secured route and 503 on every ``/v1`` route when its database is
briefly away. ``document_errors`` rewrites the generated document to say so: what a route
can answer follows from what it is (parameters → 400, secured → 401, a path parameter →
404, under ``/v1`` → 503), and mount sites add what only they know with ``error_responses``
(a policy check → 403, a quota → 429). Every error status then gets the ``ErrorReply``
schema; the Python client and the Java SDK read it from there.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from mgmt.core.api import JOB_STATUSES
from mgmt.frontend.errors import ErrorReply

_WHY: dict[int, str] = {
    400: "Invalid request; `error.extra.field` names the field (a query: `error.extra.token`).",
    401: "No valid session, or a bad access-key signature.",
    403: "No policy of the user allows this, or the API is admin-only.",
    404: "Not found (other accounts' resources included).",
    409: "Conflict: a name taken, a vetoed delete, an illegal state.",
    429: "A quota or the session limit is exceeded.",
    503: "Briefly unavailable (the database or the network); send it again after "
    "`Retry-After` seconds.",
}

_REF = "#/components/schemas/ErrorReply"


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for error statuses only this mount site knows it can answer;
    their body schema is filled in by ``document_errors``."""
    return {status: {"description": _WHY[status]} for status in statuses}


#: what a write (or its job, polled later) can answer: any status an ErrorCode maps to
JOB_ERRORS = error_responses(*sorted(JOB_STATUSES))


def _statuses(route: APIRoute, operation: dict[str, Any]) -> set[int]:
    found = {int(s) for s in operation.get("responses", {}) if s.isdigit() and int(s) >= 400}
    found.discard(422)  # FastAPI's; a bad request is a 400 here
    if operation.get("parameters") or operation.get("requestBody"):
        found.add(400)
    if operation.get("security"):
        found.add(401)
    if "{" in route.path:
        found.add(404)
    if route.path.startswith("/v1/"):
        found.add(503)
    return found


def _error_body(description: str) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": _REF}}}
    return {"description": description, "content": content}


def document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` document every error status with the ``ErrorReply`` body."""
    generate = app.openapi
    done: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if done:
            return done[0]
        doc = generate()
        for route in app.routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            for method in route.methods or ():
                operation = doc["paths"].get(route.path, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status in sorted(_statuses(route, operation)):
                    given = responses.get(str(status), {})
                    own = given.get("content", {}).get("application/json", {}).get("schema")
                    if not own:  # a route's own body (/ready's) stays
                        why = given.get("description") or _WHY[status]
                        responses[str(status)] = _error_body(why)
                responses.pop("422", None)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        reply = ErrorReply.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(reply.pop("$defs", {}))
        schemas["ErrorReply"] = reply
        done.append(doc)
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
