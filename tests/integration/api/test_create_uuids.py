"""Creates and the UUIDs they are given, generated from the API message list (2 frontends,
2 nodes, PostgreSQL, RabbitMQ, real HTTP).

Regression for issue 9: a create replaying another account's ``resourceUuid`` handed that
resource over (an access key's secret included). Every create API is covered from
``mgmt.app.API_MESSAGES``, with a body made from its own OpenAPI example: a new create API
is in the matrix without touching this file. Placeholders such as ``<zone uuid>`` in an
example are filled with a resource of that type made the same way.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from mgmt.app import API_MESSAGES
from mgmt.core.api import ApiRequest, CallerContext, innermost_meaningful
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.core.errors import ZCloudError
from mgmt.core.quota import QuotaRow
from mgmt.core.resource import ResourceUuidRow
from mgmt.core.tags.models import TagRow
from mgmt.frontend.audit import AuditRow
from tests.helpers.eventually import eventually
from tests.integration.api.test_identity import ADMIN_PASSWORD, Api, apis

__all__ = ["apis"]  # the fixture, shared with the identity tests

_PLACEHOLDER = re.compile(r"^<([a-z][a-z ]*) uuid>$")
CREATES = [m for m in API_MESSAGES if m.api.kind == "create"]
CLAIMING = [m for m in CREATES if m.api.claims_uuid]


def _example(message: type[ApiRequest[Any]]) -> dict[str, Any]:
    extra = message.model_config.get("json_schema_extra")
    assert isinstance(extra, dict), f"{message.__name__} has no example"
    examples = extra["examples"]
    assert isinstance(examples, list)
    first = examples[0]
    assert isinstance(first, dict)
    return dict(first)


def _creator_of(placeholder: str) -> type[ApiRequest[Any]] | None:
    """The create API of the resource type a placeholder names (``zone`` → CreateZone)."""
    wanted = placeholder.replace(" ", "").lower()
    return next((m for m in CLAIMING if m.api.resource.lower() == wanted), None)


@dataclass
class Made:
    message: type[ApiRequest[Any]]
    uuid: str
    owner: Api
    reply: dict[str, Any]


class Maker:
    """Makes one resource of each create API for one caller, parents first."""

    def __init__(self, caller: Api) -> None:
        self.caller = caller
        self.made: dict[str, Made] = {}
        self.serial = 0

    async def body(self, message: type[ApiRequest[Any]]) -> dict[str, Any]:
        body = _example(message)
        for key, value in list(body.items()):
            match = _PLACEHOLDER.match(value) if isinstance(value, str) else None
            if match is None:
                continue
            parent = _creator_of(match.group(1))
            if parent is None:  # a type with no create API yet: leave it (the API refuses)
                continue
            body[key] = (await self.make(parent)).uuid
        self.serial += 1
        if "name" in body:  # names are unique in some scopes (users, groups, accounts)
            body["name"] = f"{body['name']}-{self.serial}"
        return body

    async def make(self, message: type[ApiRequest[Any]]) -> Made:
        if message.__name__ not in self.made:
            body = await self.body(message)
            resp = await self.caller.call("POST", f"/v1/{message.api.collection}", json=body)
            assert resp.status_code == 200, f"{message.__name__}: {resp.text}"
            reply = resp.json()
            uuid = reply["inventory"]["uuid"]
            self.made[message.__name__] = Made(message, uuid, self.caller, reply)
        return self.made[message.__name__]


async def _state(db: Database, owners: list[str]) -> dict[str, Any]:
    """What a refused create must not change: quotas, tags, who holds which UUID."""
    async with db.session() as s:
        quotas = (
            await s.execute(
                select(QuotaRow.account_uuid, QuotaRow.name, QuotaRow.used).where(
                    QuotaRow.account_uuid.in_(owners)
                )
            )
        ).all()
        tags = await s.scalar(select(func.count()).select_from(TagRow))
        held = (
            await s.execute(
                select(ResourceUuidRow.uuid, ResourceUuidRow.resource_type).where(
                    ResourceUuidRow.owner_account_uuid.in_(owners)
                )
            )
        ).all()
    return {"quotas": sorted(quotas), "tags": tags, "held": sorted(held)}


async def _account(admin: Api, name: str) -> tuple[str, str]:
    password = f"pw-{name}-123456"
    made = await admin.ok("POST", "/v1/accounts", json={"name": name, "password": password})
    return made["inventory"]["uuid"], password


# one scenario across every create API: split, it would only repeat its set-up
async def test_every_create_refuses_a_uuid_it_does_not_hold(  # noqa: PLR0915
    apis: list[str], db: Database, client_bus: Bus
) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, apis[0], "admin", ADMIN_PASSWORD)
        a_uuid, a_pw = await _account(admin, "tenant-a")
        b_uuid, b_pw = await _account(admin, "tenant-b")
        a = await Api.login(http, apis[0], "tenant-a", a_pw)
        b = await Api.login(http, apis[1], "tenant-b", b_pw)

        # A holds one resource of every create it may call; the admin one of the rest
        makers = {"a": Maker(a), "admin": Maker(admin)}
        for message in CLAIMING:
            await makers["admin" if message.api.admin_only else "a"].make(message)
        held = [m for maker in makers.values() for m in maker.made.values()]
        assert {m.message for m in held} == set(CLAIMING)
        maker_b = Maker(b)  # B's own parents (a zone for its cluster body …), made first
        for message in CREATES:
            if not message.api.admin_only:
                await maker_b.body(message)
        before = {m.uuid: (await m.owner.ok("GET", _path(m))) for m in held}
        state = await _state(db, [a_uuid, b_uuid])

        # B, and A with another request, name each held UUID in every create: 409, nothing
        # of the holder's in the answer; a create that adds to an existing resource (tag,
        # share) does not find another account's resource at all
        refusals = 0
        for caller, maker in ((b, maker_b), (a, makers["a"])):
            for message in CREATES:
                if message.api.admin_only:
                    continue
                for victim in held:
                    if victim.owner is caller and not message.api.claims_uuid:
                        continue  # tagging one's own resource is allowed
                    body = {
                        **await maker.body(message),
                        "resourceUuid": victim.uuid,
                        "userTags": ["stolen"],
                    }
                    resp = await caller.call("POST", f"/v1/{message.api.collection}", json=body)
                    expected = {409} if message.api.claims_uuid else {403, 404}
                    assert resp.status_code in expected, (message.__name__, resp.text)
                    assert set(resp.json()) == {"error"}, resp.text
                    if message.api.claims_uuid:
                        assert resp.json()["error"]["extra"]["field"] == "resourceUuid"
                    for secret in _secrets(victim):
                        assert secret not in resp.text, (message.__name__, secret)
                    refusals += 1
        assert refusals > len(CLAIMING) * len(held)

        # the nodes refuse too (a create that reached the bus without the frontend's check)
        b_caller = CallerContext(accountUuid=b_uuid)
        for message in CLAIMING:
            if message.api.admin_only:
                continue
            for victim in held:
                msg = message.model_validate(
                    {
                        **await maker_b.body(message),
                        "resourceUuid": victim.uuid,
                        "caller": b_caller,
                        "jobUuid": str(uuidlib.uuid4()),
                    }
                )
                try:
                    reply = await client_bus.call(msg, timeout=30)
                except ZCloudError as exc:
                    refused = innermost_meaningful(exc.error)
                    assert refused.code == "API.1009", exc.error
                    assert refused.extra["field"] == "resourceUuid"
                else:
                    raise AssertionError(f"{message.__name__} took {victim.uuid}: {reply}")

        # nothing changed: rows, tags, quotas, who holds what; no audit row claims them
        assert await _state(db, [a_uuid, b_uuid]) == state
        for m in held:
            assert await m.owner.ok("GET", _path(m)) == before[m.uuid]

        async def audited() -> bool:
            async with db.session() as s:
                n = await s.scalar(
                    select(func.count())
                    .select_from(AuditRow)
                    .where(AuditRow.account_uuid == b_uuid, AuditRow.method == "POST")
                )
            return (n or 0) >= refusals // 2

        await eventually(audited, timeout=10, interval=0.2)
        async with db.session() as s:
            claimed = await s.scalar(
                select(func.count())
                .select_from(AuditRow)
                .where(
                    AuditRow.account_uuid.in_([a_uuid, b_uuid]),
                    AuditRow.action.in_([m.__name__ for m in CLAIMING]),
                    AuditRow.status >= 400,
                    AuditRow.resource_uuid.in_([m.uuid for m in held]),
                )
            )
        assert claimed == 0


async def test_create_uuids_must_be_uuids_and_redeliveries_answer_the_same(
    apis: list[str], db: Database
) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, apis[0], "admin", ADMIN_PASSWORD)
        _, pw = await _account(admin, "tenant-u")
        tenant = await Api.login(http, apis[1], "tenant-u", pw)
        maker = Maker(tenant)
        for message in CLAIMING:
            caller = admin if message.api.admin_only else tenant
            path = f"/v1/{message.api.collection}"
            for bad in ("not-a-uuid", "1", "../../etc", "x" * 64):
                body = {**await maker.body(message), "resourceUuid": bad}
                resp = await caller.call("POST", path, json=body)
                assert resp.status_code == 400, (message.__name__, bad, resp.text)
                assert resp.json()["error"]["extra"]["field"] == "resourceUuid"

            # a UUID in another spelling is the same UUID; the same request replayed (same
            # X-Job-UUID, same body) is the same job and the same resource
            fresh = uuidlib.uuid4()
            body = {**await maker.body(message), "resourceUuid": str(fresh).upper()}
            job = {"X-Job-UUID": str(uuidlib.uuid4())}
            first = await caller.call("POST", path, json=body, headers=job)
            assert first.status_code == 200, first.text
            assert first.json()["inventory"]["uuid"] == str(fresh)
            again = await caller.call("POST", path, json=body, headers=job)
            assert again.status_code == 200, again.text
            assert again.json() == first.json()
            # the same body in a new request names a UUID that is now held
            other = await caller.call("POST", path, json=body)
            assert other.status_code == 409, other.text
            assert other.json()["error"]["extra"]["field"] == "resourceUuid"


async def test_a_job_uuid_names_one_request(apis: list[str]) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, apis[0], "admin", ADMIN_PASSWORD)
        _, pw = await _account(admin, "tenant-j")
        tenant = await Api.login(http, apis[0], "tenant-j", pw)
        other = await Api.login(http, apis[1], "tenant-j", pw)
        job = {"X-Job-UUID": str(uuidlib.uuid4())}
        first = await tenant.call("POST", "/v1/zones", json={"name": "j1"}, headers=job)
        assert first.status_code == 200, first.text
        # the same request again, through the other frontend: the same job
        same = await other.call("POST", "/v1/zones", json={"name": "j1"}, headers=job)
        assert same.json() == first.json()
        zone = first.json()["inventory"]["uuid"]
        for method, path, body, caller in (
            ("POST", "/v1/zones", {"name": "j2"}, tenant),  # another body
            ("POST", "/v1/web-hooks", {"name": "j1", "url": "http://127.0.0.1:9/"}, tenant),
            ("PUT", f"/v1/zones/{zone}", {"name": "j1"}, tenant),  # another path
            ("POST", "/v1/zones", {"name": "j1"}, admin),  # another caller
        ):
            resp = await caller.call(method, path, json=body, headers=job)
            assert resp.status_code == 409, (method, path, resp.text)
            assert resp.json()["error"]["extra"]["field"] == "X-Job-UUID"
        listed = await tenant.ok("GET", "/v1/zones", params={"q": "name?=j1,j2"})
        assert [z["uuid"] for z in listed["inventories"]] == [zone]


def _path(made: Made) -> str:
    return f"/v1/{made.message.api.collection}/{made.uuid}"


def _secrets(made: Made) -> list[str]:
    """Values of the holder's that must never reach another caller."""
    keys = ("keyId", "keySecret", "secret", "url", "name")
    values = {**made.reply, **made.reply["inventory"]}
    found = [str(values[k]) for k in keys if values.get(k)]
    return [s for s in found if len(s) >= 8]
