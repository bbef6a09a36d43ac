"""The Python client and the CLI against a fake of the server's HTTP (``httpx.MockTransport``,
no sockets): operation lookup and parameter placement from the spec, job polling, error
mapping, resends with the same ``X-Job-UUID``, sessions on disk, CLI parsing and output."""

from __future__ import annotations

import io
import json
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from rich.console import Console

from mgmt.client import (
    ApiError,
    AsyncZCloud,
    ConnectionFailed,
    JobTimeout,
    PollPolicy,
    RetryPolicy,
    SavedSession,
    UsageError,
    ZCloud,
    clear_session,
    load_session,
    save_session,
    session_path,
)
from mgmt.client.cli import CliEnv, parse_params, parse_value, run
from mgmt.client.render import list_columns

BASE = "http://zcloud.test"
TOKEN = "tok-123"
FAST_RETRY = RetryPolicy(attempts=3, initial=0.0, maximum=0.0)
FAST_POLL = PollPolicy(prefer_wait=5, initial=0.001, maximum=0.001, job_timeout=5)


def _op(op_id: str, summary: str, **more: Any) -> dict[str, Any]:
    return {"operationId": op_id, "summary": summary, "responses": {}, **more}


def _body(ref: str) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{ref}"}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


UUID_PARAM = {"name": "uuid", "in": "path", "required": True, "schema": {"type": "string"}}

#: shaped like the spec FastAPI generates for the zone APIs (plus the read routes)
SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "paths": {
        "/health": {"get": _op("health_health_get", "Health")},
        "/v1/sessions": {"post": _op("LogIn", "Log in", requestBody=_body("LogIn"))},
        "/v1/zones": {
            "post": _op("CreateZone", "Create a zone", requestBody=_body("CreateZoneBody")),
            "get": _op(
                "QueryZone",
                "Query zones",
                parameters=[
                    {
                        "name": "q",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "string"}},
                    },
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                    {"name": "sort", "in": "query", "schema": {"type": "string"}},
                    {"name": "fields", "in": "query", "schema": {"type": "string"}},
                    {"name": "count", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "replyWithCount", "in": "query", "schema": {"type": "boolean"}},
                ],
            ),
        },
        "/v1/zones/{uuid}": {
            "put": _op(
                "UpdateZone",
                "Update a zone",
                parameters=[UUID_PARAM],
                requestBody=_body("UpdateZoneBody"),
            ),
            "delete": _op(
                "DeleteZone",
                "Delete a zone",
                parameters=[
                    UUID_PARAM,
                    {
                        "name": "deleteMode",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "enum": ["Permissive", "Enforcing"],
                            "type": "string",
                            "default": "Permissive",
                        },
                    },
                ],
            ),
            "get": _op("GetZone", "Get a zone", parameters=[UUID_PARAM]),
        },
        "/v1/vm-instances/{uuid}/actions/start": {
            "post": _op(
                "StartVmInstance",
                "Start a VM",
                parameters=[UUID_PARAM],
                requestBody=_body("StartVmInstanceBody"),
            )
        },
        "/v1/zql": {
            "get": _op(
                "ZQLQuery",
                "ZQL",
                parameters=[
                    {"name": "zql", "in": "query", "required": True, "schema": {"type": "string"}}
                ],
            )
        },
    },
    "components": {
        "schemas": {
            "LogIn": {"type": "object", "properties": {}},
            "CreateZoneBody": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    "resourceUuid": {"type": "string", "default": ""},
                    "name": {"type": "string", "description": "Name of the zone."},
                    "description": {"type": "string", "default": ""},
                },
            },
            "UpdateZoneBody": {
                "type": "object",
                "properties": {
                    "name": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "state": {"anyOf": [{"enum": ["Enabled", "Disabled"]}, {"type": "null"}]},
                },
            },
            "StartVmInstanceBody": {"type": "object", "properties": {}},
        }
    },
}


@dataclass
class FakeServer:
    """The server's HTTP answers, as the REST contract states them."""

    zones: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    #: jobs: uuid -> [202 answers still due before the final one, final status, final body]
    jobs: dict[str, list[Any]] = field(default_factory=dict)
    polls_before_done: int = 0
    connect_failures: int = 0
    honour_prefer_wait: bool = True

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.connect_failures > 0:
            self.connect_failures -= 1
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path
        if path == "/openapi.json":
            return httpx.Response(200, json=SPEC)
        if path == "/v1/sessions" and request.method == "POST":
            creds = json.loads(request.content)
            if creds == {"accountName": "admin", "password": "pw"}:
                inv = {"uuid": "s1", "accountUuid": "a1", "token": TOKEN, "expiresAt": "later"}
                return httpx.Response(200, json={"inventory": inv})
            return _error(401, "API.1001", "Authentication required", "wrong name or password")
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return _error(401, "API.1001", "Authentication required", "no session")
        if path.startswith("/v1/api-jobs/"):
            return self._poll(path.rsplit("/", 1)[-1])
        if path == "/v1/sessions/current":
            return httpx.Response(204)
        if path == "/v1/zones" and request.method == "POST":
            body = json.loads(request.content)
            if not body.get("name"):
                return _error(400, "API.1000", "Invalid argument", "name: Field required", "name")
            zone = {"uuid": str(uuid.uuid4()), "name": body["name"], "state": "Enabled"}
            zone |= {"description": body.get("description", ""), "createDate": "2024-01-01"}
            self.zones[zone["uuid"]] = zone
            return self._job(request, 200, {"inventory": zone})
        if path == "/v1/zones" and request.method == "GET":
            query = parse_qsl(request.url.query.decode())
            if ("count", "true") in query:
                return httpx.Response(200, json={"total": len(self.zones)})
            invs = list(self.zones.values())
            return httpx.Response(200, json={"inventories": invs, "total": len(invs)})
        if path == "/v1/zql":
            invs = list(self.zones.values())
            return httpx.Response(200, json={"results": [{"inventories": invs}]})
        if path.startswith("/v1/zones/"):
            zone_uuid = path.rsplit("/", 1)[-1]
            if zone_uuid not in self.zones:
                return _error(404, "API.1004", "Resource not found", f"no zone {zone_uuid}")
            if request.method == "GET":
                return httpx.Response(200, json={"inventory": self.zones[zone_uuid]})
            if request.method == "DELETE":
                del self.zones[zone_uuid]
                return self._job(request, 200, {"deleted": ["Cluster", "Zone"]})
            if request.method == "PUT":
                zone = self.zones[zone_uuid] | json.loads(request.content)
                self.zones[zone_uuid] = zone
                return self._job(request, 200, {"inventory": zone})
        if path.endswith("/actions/start"):
            err = {"code": "HOST.1001", "description": "No host", "details": "no capacity"}
            return self._job(request, 503, {"error": err})
        return httpx.Response(404, json={"detail": "Not Found"})

    def _job(self, request: httpx.Request, status: int, body: dict[str, Any]) -> httpx.Response:
        job = request.headers.get("x-job-uuid") or str(uuid.uuid4())
        if job not in self.jobs:
            self.jobs[job] = [self.polls_before_done, status, body]
        wait = "wait=" in request.headers.get("prefer", "")
        if wait and self.honour_prefer_wait:
            return self._poll(job)  # the final answer, unless 202s are still due
        return self._running(job)

    def _poll(self, job: str) -> httpx.Response:
        if job not in self.jobs:
            return _error(404, "API.1004", "Resource not found", f"no job {job}")
        entry = self.jobs[job]
        if entry[0] > 0:
            entry[0] -= 1
            return self._running(job)
        return httpx.Response(entry[1], json=entry[2])

    def _running(self, job: str) -> httpx.Response:
        state = "Pending" if self.jobs[job][0] >= 2 else "Running"  # 202s still due
        headers = {"Location": f"/v1/api-jobs/{job}"}
        return httpx.Response(202, json={"uuid": job, "state": state}, headers=headers)

    def sent(self, method: str, path_prefix: str) -> list[httpx.Request]:
        return [
            r for r in self.requests if r.method == method and r.url.path.startswith(path_prefix)
        ]


def _error(
    status: int, code: str, description: str, details: str, field: str | None = None
) -> httpx.Response:
    extra = {"field": field} if field else {}
    err = {"code": code, "description": description, "details": details, "extra": extra}
    return httpx.Response(status, json={"error": err})


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


def client_for(server: FakeServer, token: str | None = TOKEN) -> ZCloud:
    return ZCloud(
        BASE,
        token=token,
        retry=FAST_RETRY,
        poll=FAST_POLL,
        transport=httpx.MockTransport(server.handler),
    )


# -- the spec: lookup and parameter placement ------------------------------------------------


def test_operations_come_from_the_spec_fetched_once(server: FakeServer) -> None:
    with client_for(server) as client:
        names = [op.name for op in client.operations()]
        client.call("CreateZone", name="z1")
        client.operations()
    assert names == sorted(names)
    assert "health_health_get" not in names  # FastAPI's ids for internal routes are not APIs
    assert {"CreateZone", "UpdateZone", "DeleteZone", "QueryZone", "ZQLQuery"} <= set(names)
    assert len(server.sent("GET", "/openapi.json")) == 1


def test_params_go_where_the_spec_says(server: FakeServer) -> None:
    with client_for(server) as client:
        zone = client.call("CreateZone", name="z1", description="first")["inventory"]
        create = server.sent("POST", "/v1/zones")[-1]
        assert json.loads(create.content) == {"name": "z1", "description": "first"}

        client.call("UpdateZone", uuid=zone["uuid"], name="z2", state="Disabled")
        update = server.sent("PUT", "/v1/zones/")[-1]
        assert update.url.path == f"/v1/zones/{zone['uuid']}"
        assert json.loads(update.content) == {"name": "z2", "state": "Disabled"}

        deleted = client.call("DeleteZone", uuid=zone["uuid"], deleteMode="Enforcing")
        assert deleted == {"deleted": ["Cluster", "Zone"]}
        delete = server.sent("DELETE", "/v1/zones/")[-1]
        assert delete.url.params["deleteMode"] == "Enforcing"
        assert delete.content == b""

        op = client.operation("UpdateZone")
        assert op.method == "PUT"
        assert op.param("state") is not None
        assert op.param("state").type == "Enabled|Disabled"  # type: ignore[union-attr]


def test_path_values_are_quoted_and_an_action_without_fields_sends_an_empty_body(
    server: FakeServer,
) -> None:
    with client_for(server) as client, pytest.raises(ApiError):
        client.call("StartVmInstance", uuid="a/b c")
    start = server.sent("POST", "/v1/vm-instances/")[-1]
    assert start.url.raw_path.startswith(b"/v1/vm-instances/a%2Fb%20c/actions/start")
    assert json.loads(start.content) == {}


def test_calls_the_spec_rules_out_are_refused_before_sending(server: FakeServer) -> None:
    with client_for(server) as client:
        client.operations()
        before = len(server.requests)
        with pytest.raises(UsageError) as unknown_param:
            client.call("DeleteZone", uuid="u1", colour="red")
        assert unknown_param.value.field == "colour"
        assert unknown_param.value.status == 400
        with pytest.raises(UsageError) as missing:
            client.call("UpdateZone", name="x")
        assert missing.value.field == "uuid"
        with pytest.raises(UsageError, match="CreateZone"):
            client.call("CreateZon", name="x")  # a near name is suggested
        assert len(server.requests) == before


def test_unknown_body_fields_are_left_for_the_server_to_name(server: FakeServer) -> None:
    # the body schema is the server's to enforce; the client does not second-guess it
    with client_for(server) as client:
        client.call("CreateZone", name="z", colour="red")
    assert json.loads(server.sent("POST", "/v1/zones")[-1].content)["colour"] == "red"


def test_query_get_and_zql_map_to_the_read_routes(server: FakeServer) -> None:
    with client_for(server) as client:
        zone = client.call("CreateZone", name="z1")["inventory"]
        result = client.query(
            "zone", "name=z1", "state!=Disabled", limit=5, sort="-name", fields=["uuid", "name"]
        )
        assert result.total == 1
        assert result.inventories[0]["uuid"] == zone["uuid"]
        sent = server.sent("GET", "/v1/zones")[-1]
        assert sent.url.params.get_list("q") == ["name=z1", "state!=Disabled"]
        assert sent.url.params["limit"] == "5"
        assert sent.url.params["sort"] == "-name"
        assert sent.url.params["fields"] == "uuid,name"
        assert sent.url.params["replyWithCount"] == "true"
        assert "X-Job-UUID" not in sent.headers  # reads are not jobs

        assert client.query("Zone", count=True).total == 1
        assert server.sent("GET", "/v1/zones")[-1].url.params["count"] == "true"

        assert client.get("Zone", zone["uuid"]) == zone
        answer = client.zql("query zone where name='z1'")
        assert answer["results"][0]["inventories"] == [zone]
        assert server.sent("GET", "/v1/zql")[-1].url.params["zql"] == "query zone where name='z1'"


# -- jobs --------------------------------------------------------------------------------------


def test_a_job_is_polled_from_202_to_its_result_with_progress(server: FakeServer) -> None:
    server.polls_before_done = 3
    seen: list[tuple[str, float]] = []
    with client_for(server) as client:
        reply = client.call("CreateZone", on_progress=lambda s, e: seen.append((s, e)), name="z")
    assert reply["inventory"]["name"] == "z"
    post = server.sent("POST", "/v1/zones")[0]
    assert post.headers["prefer"] == "wait=5"
    assert len(server.sent("GET", "/v1/api-jobs/")) == 3
    assert [s for s, _ in seen] == ["Pending", "Running", "Running"]
    assert all(e >= 0 for _, e in seen)
    assert [e for _, e in seen] == sorted(e for _, e in seen)


def test_a_job_that_outlives_the_wait_raises_job_timeout(server: FakeServer) -> None:
    server.polls_before_done = 10**6
    poll = PollPolicy(prefer_wait=0, initial=0.01, maximum=0.01, job_timeout=0.05)
    client = ZCloud(BASE, token=TOKEN, poll=poll, transport=httpx.MockTransport(server.handler))
    with client, pytest.raises(JobTimeout) as timeout:
        client.call("CreateZone", name="z")
    assert timeout.value.location.startswith("/v1/api-jobs/")
    assert "Prefer" not in server.sent("POST", "/v1/zones")[0].headers


def test_policies_validate_themselves() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        PollPolicy(initial=2, maximum=1)
    assert RetryPolicy(initial=1, maximum=3).delay(5) == 3


# -- errors ------------------------------------------------------------------------------------


def test_errors_map_to_api_error_with_the_field(server: FakeServer) -> None:
    with client_for(server) as client:
        with pytest.raises(ApiError) as bad:
            client.call("CreateZone", name="")
        assert (bad.value.status, bad.value.code, bad.value.field) == (400, "API.1000", "name")
        assert str(bad.value) == "API.1000 (400): name: Field required"
        assert bad.value.is_client_error

        with pytest.raises(ApiError) as missing:
            client.call("UpdateZone", uuid="nope", name="x")
        assert (missing.value.status, missing.value.code) == (404, "API.1004")

        with pytest.raises(ApiError) as failed:  # a job that failed: the error from the poll
            client.call("StartVmInstance", uuid="vm1")
        assert (failed.value.status, failed.value.code) == (503, "HOST.1001")
        assert failed.value.details == "no capacity"
        assert not failed.value.is_client_error


def test_answers_not_in_the_error_format_still_raise_api_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/openapi.json":
            return httpx.Response(200, json=SPEC)
        if request.url.path == "/v1/zones":
            return httpx.Response(404, json={"detail": "Not Found"})  # route missing
        return httpx.Response(502, text="<html>bad gateway</html>")

    with ZCloud(BASE, token=TOKEN, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ApiError) as missing:
            client.query("Zone")
        assert (missing.value.status, missing.value.code) == (404, "HTTP.404")
        assert missing.value.details == "Not Found"
        with pytest.raises(ApiError) as gateway:
            client.get("Zone", "z1")
        assert (gateway.value.status, gateway.value.code) == (502, "HTTP.502")
        assert "bad gateway" in gateway.value.details


def test_login_errors_and_the_session_header(server: FakeServer) -> None:
    with client_for(server, token=None) as client:
        with pytest.raises(ApiError) as denied:
            client.login("admin", "wrong")
        assert (denied.value.status, denied.value.code) == (401, "API.1001")
        with pytest.raises(ApiError) as anonymous:
            client.call("CreateZone", name="z")
        assert anonymous.value.status == 401
        assert client.login("admin", "pw") == TOKEN
        assert client.token == TOKEN
        client.call("CreateZone", name="z")
        assert server.sent("POST", "/v1/zones")[-1].headers["authorization"] == f"Bearer {TOKEN}"
        client.logout()
        assert client.token is None
    assert len(server.sent("DELETE", "/v1/sessions/current")) == 1


# -- resends ---------------------------------------------------------------------------------


def test_a_connection_error_is_retried_with_the_same_job_uuid(server: FakeServer) -> None:
    with client_for(server) as client:
        client.operations()
        server.connect_failures = 2
        reply = client.call("CreateZone", name="z")
    assert reply["inventory"]["name"] == "z"
    posts = server.sent("POST", "/v1/zones")
    assert len(posts) == 3
    assert len({p.headers["x-job-uuid"] for p in posts}) == 1
    assert len(server.zones) == 1


def test_a_503_retry_later_is_resent_with_the_same_job_uuid() -> None:
    posts: list[httpx.Request] = []
    unavailable = {"error": {"code": "SYS.1007", "description": "unavailable", "details": ""}}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/openapi.json":
            return httpx.Response(200, json=SPEC)
        posts.append(request)
        if len(posts) == 1:  # the database restarting under the frontend
            return httpx.Response(503, headers={"Retry-After": "1"}, json=unavailable)
        return httpx.Response(200, json={"inventory": {"uuid": "z1", "name": "z"}})

    transport = httpx.MockTransport(handler)
    with ZCloud(BASE, token=TOKEN, retry=FAST_RETRY, transport=transport) as client:
        reply = client.call("CreateZone", name="z")
    assert reply["inventory"]["name"] == "z"
    assert len(posts) == 2
    assert posts[0].headers["x-job-uuid"] == posts[1].headers["x-job-uuid"]


def test_each_logical_call_gets_its_own_job_uuid(server: FakeServer) -> None:
    with client_for(server) as client:
        client.call("CreateZone", name="a")
        client.call("CreateZone", name="b")
    jobs = {p.headers["x-job-uuid"] for p in server.sent("POST", "/v1/zones")}
    assert len(jobs) == 2


def test_connection_errors_after_the_retries_raise_connection_failed(server: FakeServer) -> None:
    server.connect_failures = 10
    with client_for(server) as client, pytest.raises(ConnectionFailed) as failed:
        client.operations()
    assert failed.value.attempts == 3
    assert "connection refused" in str(failed.value)
    assert len(server.requests) == 3


def test_errors_not_worth_a_resend_fail_at_once() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.UnsupportedProtocol("no", request=request)

    client = ZCloud(BASE, retry=FAST_RETRY, transport=httpx.MockTransport(handler))
    with client, pytest.raises(ConnectionFailed):
        client.operations()
    assert len(calls) == 1


async def test_the_async_client_behaves_the_same(server: FakeServer) -> None:
    server.polls_before_done = 2
    seen: list[str] = []
    client = AsyncZCloud(
        BASE,
        retry=FAST_RETRY,
        poll=FAST_POLL,
        transport=httpx.MockTransport(server.handler),
    )
    async with client:
        assert await client.login("admin", "pw") == TOKEN
        assert "CreateZone" in [op.name for op in await client.operations()]
        server.connect_failures = 1  # the POST's first attempt
        reply = await client.call("CreateZone", on_progress=lambda s, _e: seen.append(s), name="z")
        zone = reply["inventory"]
        assert (await client.query("Zone", "name=z")).inventories == [zone]
        assert await client.get("zone", zone["uuid"]) == zone
        assert "results" in await client.zql("query zone")
        with pytest.raises(ApiError) as bad:
            await client.call("CreateZone", name="")
        assert bad.value.field == "name"
        await client.logout()
    assert seen == ["Running", "Running"]
    posts = server.sent("POST", "/v1/zones")
    assert posts[0].headers["x-job-uuid"] == posts[1].headers["x-job-uuid"]


# -- the saved session ---------------------------------------------------------------------------


def test_the_session_file_is_private_and_its_path_overridable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "conf" / "session.json"
    monkeypatch.setenv("ZCLOUD_CLIENT_CONFIG", str(target))
    assert session_path() == target
    assert load_session() is None
    save_session(SavedSession(url=BASE, token=TOKEN, account="admin"))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert load_session() == SavedSession(url=BASE, token=TOKEN, account="admin")
    assert json.loads(target.read_text())["token"] == TOKEN
    target.write_text("{broken")
    assert load_session() is None
    assert clear_session()
    assert not clear_session()


def test_the_default_session_path_is_under_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZCLOUD_CLIENT_CONFIG", raising=False)
    assert session_path() == Path.home() / ".zcloud" / "session.json"


# -- the CLI -------------------------------------------------------------------------------------


def test_values_parse_as_json_when_they_can() -> None:
    assert parse_value("5") == 5
    assert parse_value("2.5") == 2.5
    assert parse_value("true") is True
    assert parse_value("null") is None
    assert parse_value('["a","b"]') == ["a", "b"]
    assert parse_value('{"k": 1}') == {"k": 1}
    assert parse_value('"5"') == "5"
    assert parse_value("z1") == "z1"
    assert parse_value("NaN") == "NaN"
    assert parse_value("") == ""
    assert parse_value("a=b") == "a=b"
    assert parse_params(["name=z1", "count=3", "tags=[1,2]", "note=x=y"]) == {
        "name": "z1",
        "count": 3,
        "tags": [1, 2],
        "note": "x=y",
    }
    with pytest.raises(UsageError):
        parse_params(["name=a", "name=b"])
    with pytest.raises(UsageError):
        parse_params(["=a"])
    with pytest.raises(UsageError):
        parse_params(["bare"])


def test_list_columns_lead_with_identity_and_leave_out_long_fields() -> None:
    invs: list[dict[str, Any]] = [
        {"description": "d", "zoneUuid": "z", "name": "n", "uuid": "u", "tags": ["x"]},
        {"uuid": "u2", "name": "m", "state": "Enabled", "zoneUuid": "z"},
    ]
    assert list_columns(invs) == ["uuid", "name", "state", "zoneUuid"]


@dataclass
class Cli:
    server: FakeServer
    prompts: list[str] = field(default_factory=list)
    stdout: io.StringIO = field(default_factory=io.StringIO)
    stderr: io.StringIO = field(default_factory=io.StringIO)

    def __call__(self, *argv: str) -> int:
        self.stdout.seek(0)
        self.stdout.truncate()
        self.stderr.seek(0)
        self.stderr.truncate()

        def prompt(text: str) -> str:
            self.prompts.append(text)
            return "pw"

        env = CliEnv(
            out=Console(file=self.stdout, width=200),
            err=Console(file=self.stderr, width=200),
            prompt=prompt,
            transport=httpx.MockTransport(self.server.handler),
            retry=FAST_RETRY,
        )
        return run(list(argv), env)

    @property
    def out(self) -> str:
        return self.stdout.getvalue()

    @property
    def err(self) -> str:
        return self.stderr.getvalue()


@pytest.fixture
def cli(server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("ZCLOUD_CLIENT_CONFIG", str(tmp_path / "session.json"))
    return Cli(server)


def test_cli_login_prompts_saves_and_logout_clears(cli: Cli) -> None:
    assert cli("CreateZone", "name=z") == 2
    assert "not logged in" in cli.err
    assert cli("login", "--url", BASE, "--account", "admin") == 0
    assert cli.prompts == [f"password for admin at {BASE}: "]
    saved = load_session()
    assert saved is not None
    assert (saved.url, saved.token, saved.account) == (BASE, TOKEN, "admin")
    assert cli("login", "--account", "admin", "--password", "bad") == 2  # URL from the session
    assert cli.err == "error API.1001 (401): wrong name or password\n"
    save_session(SavedSession(url=BASE, token="expired", account="admin"))
    assert cli("CreateZone", "name=z") == 2
    assert cli.err.endswith("(log in again: zcloud login)\n")
    assert cli("logout") == 0
    assert load_session() is None
    assert cli("logout") == 0
    assert "not logged in" in cli.out


def test_cli_calls_an_api_with_json_and_table_output(cli: Cli) -> None:
    assert cli("login", "--url", BASE, "--account", "admin", "--password", "pw") == 0
    assert cli("CreateZone", "name=z1", "--json") == 0
    zone = json.loads(cli.out)["inventory"]
    assert zone["name"] == "z1"
    assert cli("UpdateZone", f"uuid={zone['uuid']}", "description=renamed zone") == 0
    assert "renamed zone" in cli.out
    assert zone["uuid"] in cli.out
    assert cli("QueryZone", "name=z1", "state!=Disabled", "--limit", "10", "--sort", "+name") == 0
    header = cli.out.splitlines()[0].split()
    assert header == ["uuid", "name", "state"]
    assert zone["uuid"] in cli.out
    sent = cli.server.sent("GET", "/v1/zones")[-1]
    assert sent.url.params.get_list("q") == ["name=z1", "state!=Disabled"]
    assert cli("QueryZone", "--sort", "-name", "--fields", "uuid,name") == 0  # "-name" a value
    assert cli.server.sent("GET", "/v1/zones")[-1].url.params["sort"] == "-name"
    assert cli.out.splitlines()[0].split() == ["uuid", "name"]
    assert cli("QueryZone", "--count") == 0
    assert cli.out.strip() == "1"
    assert cli("QueryZone", "--json") == 0
    assert json.loads(cli.out)["total"] == 1
    assert cli("GetZone", f"uuid={zone['uuid']}") == 0
    fields = dict(line.split(None, 1) for line in cli.out.splitlines())
    assert fields["uuid"] == zone["uuid"]
    assert "createDate" in fields  # a single inventory shows every field
    assert cli("zql", "query zone where name='z1'") == 0
    assert zone["uuid"] in cli.out
    assert cli("DeleteZone", zone["uuid"], "deleteMode=Enforcing") == 0  # the bare path param
    assert "Cluster, Zone" in cli.out
    delete = cli.server.sent("DELETE", "/v1/zones/")[-1]
    assert delete.url.params["deleteMode"] == "Enforcing"


def test_cli_errors_are_one_line_with_exit_codes(cli: Cli) -> None:
    assert cli("login", "--url", BASE, "--account", "admin", "--password", "pw") == 0
    assert cli("CreateZone", "name=") == 2
    assert cli.err == "error API.1000 (400): name: Field required\n"
    assert cli.out == ""
    assert cli("StartVmInstance", "uuid=vm1") == 1  # the server failed: 503
    assert cli.err == "error HOST.1001 (503): no capacity\n"
    assert cli("CreateZon", "name=x") == 2
    assert "did you mean CreateZone" in cli.err
    assert cli("DeleteZone", f"uuid={uuid.uuid4()}", "colour=red") == 2
    assert cli.err.startswith("error CLIENT.1000 (400): colour: not a parameter of DeleteZone")
    assert cli("CreateZone", "--limit", "3") == 2  # query options only for queries
    assert cli("CreateZone", "--bogus") == 2  # argparse
    assert cli() == 2
    cli.server.connect_failures = 100
    assert cli("CreateZone", "name=x") == 1
    assert cli.err.startswith("error: cannot reach http://zcloud.test after 3 attempt(s)")


def test_cli_lists_apis_and_shows_an_apis_parameters(cli: Cli) -> None:
    assert cli("apis", "--url", BASE) == 0  # the spec needs no session
    assert "CreateZone" in cli.out
    assert "/v1/zones/{uuid}" in cli.out
    assert cli("apis", "--url", BASE, "--json") == 0
    listing = json.loads(cli.out)
    assert {"name": "DeleteZone", "method": "DELETE", "path": "/v1/zones/{uuid}"}.items() <= {
        **next(o for o in listing if o["name"] == "DeleteZone")
    }.items()
    assert cli("login", "--url", BASE, "--account", "admin", "--password", "pw") == 0
    assert cli("CreateZone", "--help") == 0
    assert "Name of the zone." in cli.out
    assert cli("--help") == 0
    assert "zcloud login" in cli.out
    assert cli("login", "--help") == 0  # help, not a login attempt
    assert "zcloud login" in cli.out


def test_cli_shows_progress_while_a_job_runs(cli: Cli) -> None:
    assert cli("login", "--url", BASE, "--account", "admin", "--password", "pw") == 0
    cli.server.polls_before_done = 2
    cli.server.honour_prefer_wait = False
    stderr = io.StringIO()
    env = CliEnv(
        out=Console(file=io.StringIO(), width=120),
        err=Console(file=stderr, width=120, force_terminal=True),
        transport=httpx.MockTransport(cli.server.handler),
    )
    assert run(["CreateZone", "name=slow"], env) == 0
    assert "CreateZone: Running" in stderr.getvalue()
