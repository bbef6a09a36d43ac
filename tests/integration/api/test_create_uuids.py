"""Creates and the UUIDs they are given, generated from the API message list (2 frontends,
2 nodes, PostgreSQL, RabbitMQ, real HTTP).

Regression for issue 9: a create replaying another account's ``resourceUuid`` handed that
resource over (an access key's secret included). Every create API is covered from
``mgmt.app.API_MESSAGES``, with a body made from its own OpenAPI example: a new create API
is in the matrix without touching this file. Placeholders such as ``<zone uuid>`` in an
example are filled with a resource of that type made the same way; a parent only an admin
may create (an L3 network under a tenant's VIP) is made by the admin and made public, as an
admin shares infrastructure with tenants.
"""

from __future__ import annotations

import itertools
import re
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from mgmt.app import service_modules
from mgmt.bench.cluster import LocalCluster
from mgmt.core.api import ApiRequest, CallerContext, innermost_meaningful
from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.core.errors import ZCloudError
from mgmt.core.quota import QuotaRow
from mgmt.core.resource import ResourceUuidRow
from mgmt.core.tags.models import TagRow
from mgmt.frontend.audit import AuditRow
from mgmt.settings import Settings
from tests.helpers.eventually import eventually
from tests.integration.api.test_identity import ADMIN_PASSWORD, Api
from tests.integration.api.test_resource_kit import WIDGET_ENV, widget_apis

__all__ = ["widget_apis"]  # the fixture: the in-tree services and the test-only widgets

_PLACEHOLDER = re.compile(r"^<([a-z][a-z0-9 ]*) uuid>$")  # <zone uuid>, <l3 network uuid>
#: every API of the processes under test: a create added to any module is in the matrix
APIS = service_modules(Settings(modules=WIDGET_ENV["ZCLOUD_MODULES"])).apis
CREATES = [m for m in APIS if m.api.kind == "create"]
CLAIMING = [m for m in CREATES if m.api.claims_uuid]
#: one sequence for every Maker: a unique field is unique across callers too
_UNIQUE_SERIAL = itertools.count(1)


def _unique_fields(message: type[ApiRequest[Any]]) -> list[str]:
    """Fields a message marks ``x-zcloud-unique`` (a host's managementIp): no two
    resources may share a value, so every body gets a fresh one."""
    out = []
    for name, info in message.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("x-zcloud-unique"):
            out.append(name)
    return out


def _download_fields(message: type[ApiRequest[Any]]) -> list[str]:
    """Fields a message marks ``x-zcloud-download`` (an image's URL): the create downloads
    it, so the body gets a URL that serves a file."""
    out = []
    for name, info in message.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("x-zcloud-download"):
            out.append(name)
    return out


def _fresh(value: str, serial: int) -> str:
    """A fresh value shaped like the example's: an IPv4 address stays one (in 127/8)."""
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value):
        # the last octet skips .0 and .1 (127.0.0.1 is this machine's own)
        return f"127.{serial // 62500 % 256}.{serial // 250 % 250}.{serial % 250 + 2}"
    return f"{value}-{serial}"


def _example(message: type[ApiRequest[Any]]) -> dict[str, Any]:
    extra = message.model_config.get("json_schema_extra")
    assert isinstance(extra, dict), f"{message.__name__} has no example"
    examples = extra["examples"]
    assert isinstance(examples, list)
    first = examples[0]
    assert isinstance(first, dict)
    return dict(first)


def _creator_of(placeholder: str) -> type[ApiRequest[Any]] | None:
    """The create API of the resource type a placeholder names (``zone`` → CreateZone), or
    of the kind of one (``vxlan network pool`` → CreateL2VxlanNetworkPool)."""
    wanted = placeholder.replace(" ", "").lower()
    by_type = (m for m in CLAIMING if m.api.resource.lower() == wanted)
    by_kind = (m for m in CLAIMING if m.__name__.lower().endswith(wanted))
    return next(by_type, None) or next(by_kind, None)


@dataclass
class Made:
    message: type[ApiRequest[Any]]
    uuid: str
    owner: Api
    reply: dict[str, Any]


class Maker:
    """Makes one resource of each create API for one caller, parents first."""

    def __init__(self, caller: Api, admin: Maker | None = None, files: str = "") -> None:
        self.caller = caller
        #: makes the admin-only parents of this caller's creates (and shares them)
        self.admin = admin
        #: a URL prefix that serves downloadable files (the simulator's ``/sim/files``)
        self.files: str = files or (admin.files if admin is not None else "")
        self.made: dict[str, Made] = {}
        self.serial = 0

    async def _filled(self, value: Any) -> Any:
        """A placeholder (``<zone uuid>``), or a list of them, as made resources' UUIDs."""
        if isinstance(value, list):
            return [await self._filled(v) for v in value]
        match = _PLACEHOLDER.match(value) if isinstance(value, str) else None
        if match is None:
            return value
        parent = _creator_of(match.group(1))
        if parent is None:  # a type with no create API yet: leave it (the API refuses)
            return value
        if parent.api.admin_only and self.admin is not None:
            return (await self.admin.make_public(parent)).uuid
        return (await self.make(parent)).uuid

    async def body(self, message: type[ApiRequest[Any]]) -> dict[str, Any]:
        body = _example(message)
        for key, value in list(body.items()):
            body[key] = await self._filled(value)
        for key in _download_fields(message):  # an image's URL: one that serves a file
            if self.files and key in body:
                body[key] = f"{self.files}/{message.__name__}-{next(_UNIQUE_SERIAL)}.img?size=4096"
        self.serial += 1
        if "name" in body:  # names are unique in some scopes (users, groups, accounts)
            body["name"] = f"{body['name']}-{self.serial}"
        for unique in _unique_fields(message):
            if isinstance(body.get(unique), str):
                body[unique] = _fresh(body[unique], next(_UNIQUE_SERIAL))
        return body

    async def make(self, message: type[ApiRequest[Any]]) -> Made:
        if message.__name__ not in self.made:
            body = await self.body(message)
            resp = await self.caller.call("POST", message.api.path, json=body)
            assert resp.status_code == 200, f"{message.__name__}: {resp.text}"
            reply = resp.json()
            uuid = reply["inventory"]["uuid"]
            self.made[message.__name__] = Made(message, uuid, self.caller, reply)
        return self.made[message.__name__]

    async def make_public(self, message: type[ApiRequest[Any]]) -> Made:
        """The resource, made once and shared with every account."""
        made = await self.make(message)
        body = {"resourceUuid": made.uuid, "resourceType": message.api.resource, "public": True}
        resp = await self.caller.call("POST", "/v1/resource-shares", json=body)
        assert resp.status_code == 200, f"sharing {message.__name__}: {resp.text}"
        return made


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


def _files(cluster: LocalCluster) -> str:
    """The simulator's test files (what an image create downloads)."""
    return next(p for p in cluster.procs if p.name == "sim").url + "/sim/files"


async def test_every_create_refuses_a_uuid_it_does_not_hold(
    widget_apis: list[str], db: Database, client_bus: Bus, cluster: LocalCluster
) -> None:
    apis = widget_apis
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, apis[0], "admin", ADMIN_PASSWORD)
        a_uuid, a_pw = await _account(admin, "tenant-a")
        b_uuid, b_pw = await _account(admin, "tenant-b")
        a = await Api.login(http, apis[0], "tenant-a", a_pw)
        b = await Api.login(http, apis[1], "tenant-b", b_pw)

        # A holds one resource of every create it may call; the admin one of the rest
        admin_maker = Maker(admin, files=_files(cluster))
        makers = {"a": Maker(a, admin_maker), "admin": admin_maker}
        for message in CLAIMING:
            await makers["admin" if message.api.admin_only else "a"].make(message)
        held = [m for maker in makers.values() for m in maker.made.values()]
        assert {m.message for m in held} == set(CLAIMING)
        # B's own parents (a zone for its cluster body …), made first
        maker_b = Maker(b, admin_maker)
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
                    resp = await caller.call("POST", message.api.path, json=body)
                    expected = {409} if message.api.claims_uuid else {403, 404}
                    assert resp.status_code in expected, (message.__name__, resp.text)
                    assert set(resp.json()) == {"error"}, resp.text
                    if message.api.claims_uuid:
                        assert resp.json()["error"]["extra"]["field"] == "resourceUuid"
                    for secret in _secrets(victim):
                        assert secret not in resp.text, (message.__name__, secret)
                    refusals += 1
        # B alone is refused every tenant create for every held UUID; A most of them too
        tenant_creates = [m for m in CREATES if not m.api.admin_only]
        assert refusals > len(tenant_creates) * len(held)

        await _nodes_refuse(client_bus, maker_b, CallerContext(accountUuid=b_uuid), held)

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


async def _nodes_refuse(bus: Bus, maker: Maker, caller: CallerContext, held: list[Made]) -> None:
    """The nodes refuse too: a create that reached the bus without the frontend's check."""
    for message in CLAIMING:
        if message.api.admin_only:
            continue
        for victim in held:
            msg = message.model_validate(
                {
                    **await maker.body(message),
                    "resourceUuid": victim.uuid,
                    "caller": caller,
                    "jobUuid": str(uuidlib.uuid4()),
                }
            )
            try:
                reply = await bus.call(msg, timeout=30)
            except ZCloudError as exc:
                refused = innermost_meaningful(exc.error)
                assert refused.code == "API.1009", exc.error
                assert refused.extra["field"] == "resourceUuid"
            else:
                raise AssertionError(f"{message.__name__} took {victim.uuid}: {reply}")


async def test_create_uuids_must_be_uuids_and_redeliveries_answer_the_same(
    widget_apis: list[str], cluster: LocalCluster
) -> None:
    apis = widget_apis
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await Api.login(http, apis[0], "admin", ADMIN_PASSWORD)
        _, pw = await _account(admin, "tenant-u")
        tenant = await Api.login(http, apis[1], "tenant-u", pw)
        maker = Maker(tenant, Maker(admin, files=_files(cluster)))
        for message in CLAIMING:
            caller = admin if message.api.admin_only else tenant
            # the admin's creates get the admin's parents (a Vxlan network's zone and pool
            # must be one zone)
            by = maker.admin if message.api.admin_only and maker.admin else maker
            path = message.api.path
            for bad in ("not-a-uuid", "1", "../../etc", "x" * 64):
                body = {**await by.body(message), "resourceUuid": bad}
                resp = await caller.call("POST", path, json=body)
                assert resp.status_code == 400, (message.__name__, bad, resp.text)
                assert resp.json()["error"]["extra"]["field"] == "resourceUuid"

            # a UUID in another spelling is the same UUID; the same request replayed (same
            # X-Job-UUID, same body) is the same job and the same resource
            fresh = uuidlib.uuid4()
            body = {**await by.body(message), "resourceUuid": str(fresh).upper()}
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


async def test_a_job_uuid_names_one_request(widget_apis: list[str]) -> None:
    apis = widget_apis
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
