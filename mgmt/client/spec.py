"""The server's OpenAPI document, read as a table of operations.

The client has no per-API code: ``call("CreateZone", name="z1")`` looks the operation up by
its ``operationId`` here and ``prepare`` places each parameter where the spec says (path,
query string or JSON body). Called by the client core; pure functions, no I/O.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from mgmt.client.errors import UsageError

Location = Literal["path", "query", "body"]

#: API operations are named like their messages (``CreateZone``); FastAPI's generated ids
#: for internal routes (``health_health_get``) are not APIs and are left out.
_API_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class ParamInfo:
    """One parameter of an operation."""

    name: str
    location: Location
    required: bool
    type: str
    description: str = ""
    default: Any = None


@dataclass(frozen=True)
class OperationInfo:
    """One API operation of the server's spec."""

    name: str
    method: str
    path: str
    summary: str
    description: str
    params: tuple[ParamInfo, ...]
    has_body: bool

    def param(self, name: str) -> ParamInfo | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def path_params(self) -> tuple[ParamInfo, ...]:
        return tuple(p for p in self.params if p.location == "path")

    @property
    def is_read(self) -> bool:
        return self.method == "GET"


@dataclass(frozen=True)
class PreparedRequest:
    """Where an operation's parameters go: the filled-in path, query string and body."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: dict[str, Any] | None


class OpenApiSpec:
    """The operations of one server, parsed once from its ``/openapi.json``."""

    def __init__(self, operations: Mapping[str, OperationInfo]) -> None:
        self._ops = dict(operations)

    @classmethod
    def parse(cls, doc: Mapping[str, Any]) -> OpenApiSpec:
        schemas = doc.get("components", {}).get("schemas", {})
        ops: dict[str, OperationInfo] = {}
        for path, item in doc.get("paths", {}).items():
            for method in _METHODS:
                raw = item.get(method)
                if not isinstance(raw, dict):
                    continue
                name = raw.get("operationId", "")
                if _API_NAME.match(name):
                    ops[name] = _operation(name, method.upper(), path, raw, schemas)
        return cls(ops)

    def operations(self) -> list[OperationInfo]:
        return sorted(self._ops.values(), key=lambda op: op.name)

    def operation(self, name: str) -> OperationInfo:
        """The operation named ``name``; ``UsageError`` (with near names) if there is none."""
        op = self._ops.get(name)
        if op is not None:
            return op
        near = difflib.get_close_matches(name, list(self._ops), n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise UsageError(f"the server has no API named {name}{hint}")

    def read_operation(self, verb: str, resource: str) -> OperationInfo:
        """``Query``/``Get`` operation of a resource given as ``Zone``, ``zone`` or
        ``vm-instance``: exact name first, then ignoring case, ``-`` and ``_``."""
        exact = f"{verb}{resource}"
        if exact in self._ops:
            return self._ops[exact]
        wanted = (verb + re.sub(r"[-_\s]", "", resource)).lower()
        for name, op in self._ops.items():
            if name.lower() == wanted:
                return op
        return self.operation(exact)


def prepare(
    op: OperationInfo, params: Mapping[str, Any], *, strict: bool = True
) -> PreparedRequest:
    """Place ``params`` by the spec. A name the spec does not know goes into the JSON body
    when the operation has one (the server validates it and names the field); otherwise it
    is refused (``strict``) or sent in the query string."""
    path = op.path
    query: list[tuple[str, str]] = []
    body: dict[str, Any] | None = {} if op.has_body else None
    for name, value in params.items():
        info = op.param(name)
        where: Location = info.location if info is not None else "body"
        if info is None and body is None:
            if strict:
                known = ", ".join(p.name for p in op.params) or "none"
                raise UsageError(
                    f"{name}: not a parameter of {op.name} (parameters: {known})", field=name
                )
            where = "query"
        if where == "path":
            if value is None or value == "":
                raise UsageError(f"{name}: required", field=name)
            path = path.replace("{" + name + "}", quote(_scalar(value), safe=""))
        elif where == "query":
            query.extend((name, v) for v in _query_values(value))
        else:
            assert body is not None
            body[name] = value
    for p in op.path_params:
        if "{" + p.name + "}" in path:
            raise UsageError(f"{p.name}: required", field=p.name)
    return PreparedRequest(op.method, path, tuple(query), body)


def _operation(
    name: str, method: str, path: str, raw: Mapping[str, Any], schemas: Mapping[str, Any]
) -> OperationInfo:
    params: list[ParamInfo] = []
    for p in raw.get("parameters", []):
        where = p.get("in")
        if where not in ("path", "query"):
            continue
        schema = _resolve(p.get("schema", {}), schemas)
        params.append(
            ParamInfo(
                name=p["name"],
                location=where,
                required=bool(p.get("required", where == "path")),
                type=_type_name(schema, schemas),
                description=p.get("description") or schema.get("description", ""),
                default=schema.get("default"),
            )
        )
    content = raw.get("requestBody", {}).get("content", {})
    has_body = "application/json" in content
    if has_body:
        body = _resolve(content["application/json"].get("schema", {}), schemas)
        required = set(body.get("required", []))
        for field, fschema in body.get("properties", {}).items():
            resolved = _resolve(fschema, schemas)
            params.append(
                ParamInfo(
                    name=field,
                    location="body",
                    required=field in required,
                    type=_type_name(resolved, schemas),
                    description=resolved.get("description", ""),
                    default=resolved.get("default"),
                )
            )
    return OperationInfo(
        name=name,
        method=method,
        path=path,
        summary=raw.get("summary", ""),
        description=raw.get("description", ""),
        params=tuple(params),
        has_body=has_body,
    )


def _resolve(schema: Mapping[str, Any], schemas: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 16:  # a bounded walk: a cyclic spec must not hang us
        schema = schemas.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
        seen += 1
    return schema


def _type_name(schema: Mapping[str, Any], schemas: Mapping[str, Any]) -> str:
    schema = _resolve(schema, schemas)
    if "enum" in schema:
        return "|".join(str(v) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [_type_name(s, schemas) for s in schema[key]]
            return " | ".join(p for p in parts if p != "null") or "null"
    kind = schema.get("type")
    if kind == "array":
        return f"list[{_type_name(schema.get('items', {}), schemas)}]"
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    return "any"


def _query_values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [_scalar(v) for v in value if v is not None]
    return [_scalar(value)]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))
