"""The documentation says only what is true of the code.

Every ``curl`` and ``zcloud`` example in a fenced block of README.md and docs/ names a
path, method, API and fields the OpenAPI document has (the document as a frontend serves
it, built without a server by ``deploy/sdk/dump_openapi.py``); every ``METHOD /path`` in the
prose does too; a curl that sends a body says ``Content-Type: application/json``; every
relative link stays in the repository; the settings table of docs/operations.md lists every
field of ``Settings``. (The curl quick start is also run against a live all-in-one, in
tests/integration/api/test_first_steps.py.)
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from mgmt.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
API_PORT = "8080"  # examples on other ports are the simulator's or a node's health port
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_PROSE_ROUTE = re.compile(r"`(GET|POST|PUT|DELETE|PATCH) (/[^\s`?]*)")
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_ASSIGN = re.compile(r"^([A-Z][A-Z0-9_]*)='([^']*)'$")
#: routes outside the API's document: agents POST their replies here (docs/agent-protocol.md)
_NOT_API = {"/v1/agent/callbacks", "/v1/agent/reports"}
#: the process and client commands that are not API names
_COMMANDS = {"login", "logout", "apis", "zql", "up", "mgmt", "api", "agent", "bench", "db", "admin"}


@cache
def openapi() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location(
        "dump_openapi", ROOT / "deploy/sdk/dump_openapi.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc: dict[str, Any] = module.build_openapi()
    return doc


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    schemas = openapi().get("components", {}).get("schemas", {})
    while "$ref" in schema:
        schema = schemas[str(schema["$ref"]).rsplit("/", 1)[-1]]
    return schema


def _segment_matches(doc: str, template: str) -> bool:
    if template.startswith("{"):
        return True  # a path parameter: any value, a placeholder (<zone>, …) included
    return doc == template or (doc.startswith("<") and doc.endswith(">"))


def operation(method: str, path: str) -> dict[str, Any] | None:
    """The OpenAPI operation ``method path`` matches (``/v1/zones/<zone>`` matches
    ``/v1/zones/{uuid}``), or None."""
    wanted = path.rstrip("/").split("/")
    for template, item in openapi()["paths"].items():
        parts = template.split("/")
        if len(parts) == len(wanted) and all(map(_segment_matches, wanted, parts)):
            op = item.get(method.lower())
            if isinstance(op, dict):
                return op
    return None


def body_fields(op: Mapping[str, Any]) -> set[str]:
    content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    return set(_resolve(content.get("schema", {})).get("properties", {}))


def operations_by_id() -> dict[str, dict[str, Any]]:
    return {
        op["operationId"]: op
        for item in openapi()["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }


@dataclass
class Example:
    where: str  # file:line, for the failure message
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def _lines(block: str, console: bool) -> Iterator[tuple[int, str]]:
    """The block's commands, continuation lines joined; in a console block only the lines
    after a ``$`` prompt (the others are output)."""
    pending, start = "", 0
    for n, raw in enumerate(block.splitlines()):
        line = raw.rstrip()
        if not pending:
            start = n
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        if text.startswith("$ "):
            yield start, text[2:]
        elif not console:
            yield start, text


def examples(program: str) -> Iterator[Example]:
    """Every command of ``program`` (``curl``/``zcloud``) in the fenced shell blocks: at the
    start of a line (after ``VAR=value`` assignments or a directory), after ``&&`` or in a
    ``$(…)``."""
    starts = re.compile(rf"(?:^(?:[A-Z_][A-Z0-9_]*=\S*\s+)*|&&\s*|\$\()(?:[\w./-]*/)?{program}\s")
    for path in DOCS:
        text = path.read_text()
        for fence in _FENCE.finditer(text):
            if fence.group(1) not in ("bash", "console", "sh", ""):
                continue
            first_line = text[: fence.start(2)].count("\n") + 1
            env: dict[str, str] = {}
            for offset, line in _lines(fence.group(2), fence.group(1) in ("console", "")):
                assigned = _ASSIGN.match(line)
                if assigned:
                    env[assigned.group(1)] = assigned.group(2)
                at = starts.search(line)
                if at is None:
                    continue
                command = line[at.end() - len(program) - 1 :].split(" | ")[0].rstrip(")")
                argv = shlex.split(command, comments=True)
                where = f"{path.relative_to(ROOT)}:{first_line + offset}"
                yield Example(where, argv, env)


def _curl_request(ex: Example) -> tuple[str, str, list[str], str | None] | None:
    """(method, path, headers, body) of an example curl at the API, or None if elsewhere."""
    method, url, body, headers = None, None, None, []
    args = iter(ex.argv[1:])
    for arg in args:
        if arg == "-X":
            method = next(args)
        elif arg in ("-d", "--data"):
            body = next(args)
        elif arg == "--data-urlencode":
            next(args)
        elif arg == "-H":
            header = next(args)
            headers.append(ex.env.get(header.lstrip("$"), header))
        elif ":" in arg and not arg.startswith("-") and url is None:
            url = arg
    if url is None:
        return None
    parsed = urlparse(url if "//" in url else f"http://{url}")
    if str(parsed.port) != API_PORT:
        return None
    if method is None:
        method = "POST" if body is not None and "-G" not in ex.argv else "GET"
    return method, parsed.path, headers, body


def _curls() -> list[Example]:
    return [ex for ex in examples("curl") if _curl_request(ex) is not None]


@pytest.mark.parametrize("ex", _curls(), ids=lambda ex: ex.where)
def test_a_curl_example_is_a_route_with_its_fields_and_content_type(ex: Example) -> None:
    request = _curl_request(ex)
    assert request is not None
    method, path, headers, body = request
    op = operation(method, path)
    assert op is not None, f"{ex.where}: the OpenAPI document has no {method} {path}"
    if body is None:
        return
    assert any(h.lower().replace(" ", "") == "content-type:application/json" for h in headers), (
        f"{ex.where}: a body without -H 'Content-Type: application/json' is refused"
    )
    sent = json.loads(body)
    unknown = set(sent) - body_fields(op)
    assert not unknown, f"{ex.where}: {method} {path} has no body field {sorted(unknown)}"


def _zcloud_api_calls() -> list[Example]:
    return [ex for ex in examples("zcloud") if len(ex.argv) > 1 and ex.argv[1] not in _COMMANDS]


@pytest.mark.parametrize("ex", _zcloud_api_calls(), ids=lambda ex: ex.where)
def test_a_zcloud_example_is_an_api_with_its_parameters(ex: Example) -> None:
    name = ex.argv[1]
    ops = operations_by_id()
    assert name in ops, f"{ex.where}: the server has no API {name}"
    if name.startswith("Query") or "--help" in ex.argv:
        return  # a query's arguments are conditions, not parameters
    op = ops[name]
    known = body_fields(op) | {p["name"] for p in op.get("parameters", [])}
    for arg in ex.argv[2:]:
        key, sep, _ = arg.partition("=")
        if sep and not arg.startswith("-"):
            assert key in known, f"{ex.where}: {name} has no parameter {key}"


def test_the_zcloud_examples_name_only_real_commands() -> None:
    for ex in examples("zcloud"):
        if len(ex.argv) > 1 and ex.argv[1][:1].islower():
            assert ex.argv[1] in _COMMANDS, f"{ex.where}: no command zcloud {ex.argv[1]}"
    assert _zcloud_api_calls(), "the examples were not found: is the extraction broken?"
    assert _curls(), "the curl examples were not found: is the extraction broken?"


def test_every_route_named_in_the_prose_exists() -> None:
    for path in DOCS:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for method, route in _PROSE_ROUTE.findall(line):
                if "/v1/" not in route or "<collection>" in route or route in _NOT_API:
                    continue  # the conventions table speaks of any collection
                assert operation(method, route) is not None, (
                    f"{path.relative_to(ROOT)}:{n}: the OpenAPI document has no {method} {route}"
                )


def test_every_relative_link_stays_in_the_repository() -> None:
    for path in DOCS:
        for target in _LINK.findall(path.read_text()):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            resolved = (path.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(ROOT), f"{path.name}: {target} is outside the repo"
            assert resolved.exists(), f"{path.name}: {target} does not exist"
        for target in re.findall(r"`(\.\./[^`\s]+)`", path.read_text()):  # named, not linked
            resolved = (path.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{path.name}: {target} is outside the repo"


def test_the_settings_table_lists_every_setting() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    named: set[str] = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            first = row.split("|")[1]
            for code in re.findall(r"`([^`]+)`", first):
                named.update(n for n in re.split(r"[/,\s]+", code) if n)
    wanted = {name.upper() for name in Settings.model_fields}
    assert wanted - named == set(), "docs/operations.md lacks these settings"
    assert named - wanted == set(), "docs/operations.md lists settings that do not exist"
