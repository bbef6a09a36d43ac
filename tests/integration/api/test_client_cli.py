"""The Python client and the ``zcloud`` client CLI against a real all-in-one (``zcloud up``):
log in, the write path as jobs (create, update, cascade delete), errors naming the field,
the CLI as a subprocess (JSON and table output, exit codes), and the read routes (query,
get, ZQL)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mgmt.bench.cluster import Proc, free_port
from mgmt.client import ApiError, AsyncZCloud, ZCloud

ADMIN_PASSWORD = "client-cli-admin-pw"


@dataclass
class AllInOne:
    url: str
    workdir: Path


@pytest.fixture(scope="module")
def allinone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AllInOne]:
    """One ``zcloud up`` for the module (each test names its own resources)."""
    workdir = tmp_path_factory.mktemp("allinone")
    api, sim = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZCLOUD_")}
    env["ZCLOUD_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    argv = [sys.executable, "-m", "mgmt.cli", "up", "--port", str(api), "--sim-port", str(sim)]
    proc = Proc("up", argv, env, api, workdir / "up.log", cwd=workdir).start()
    try:
        _wait_ready(proc, timeout=60)
        yield AllInOne(proc.url, workdir)
    finally:
        proc.kill(signal.SIGTERM)
        assert proc.popen is not None
        try:
            code = proc.popen.wait(30)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait(5)
            raise
        assert code == 0, proc.tail()


def _wait_ready(proc: Proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not proc.alive:
            raise RuntimeError(f"zcloud up exited; log:\n{proc.tail()}")
        try:
            if httpx.get(f"{proc.url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"zcloud up not ready in {timeout}s; log:\n{proc.tail()}")
        time.sleep(0.1)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def client(allinone: AllInOne) -> Iterator[ZCloud]:
    with ZCloud(allinone.url) as c:
        c.login("admin", ADMIN_PASSWORD)
        yield c


# -- the Python client -----------------------------------------------------------------------


def test_client_write_path_create_update_cascade(client: ZCloud) -> None:
    names = {op.name for op in client.operations()}
    assert {"CreateZone", "UpdateZone", "DeleteZone", "CreateCluster"} <= names

    zone = client.call("CreateZone", name=unique("z"))["inventory"]
    assert zone["state"] == "Enabled"
    updated = client.call("UpdateZone", uuid=zone["uuid"], description="renamed")["inventory"]
    assert updated["description"] == "renamed"
    assert updated["uuid"] == zone["uuid"]

    progress: list[tuple[str, float]] = []
    cluster = client.call(
        "CreateCluster",
        on_progress=lambda state, elapsed: progress.append((state, elapsed)),
        name=unique("c"),
        zoneUuid=zone["uuid"],
        hypervisorType="Simulator",
    )["inventory"]
    assert cluster["zoneUuid"] == zone["uuid"]
    assert cluster["hypervisorType"] == "Simulator"

    deleted = client.call("DeleteZone", uuid=zone["uuid"], deleteMode="Enforcing")
    assert deleted["deleted"] == ["Cluster", "Zone"]  # the cascade: dependents first
    with pytest.raises(ApiError) as gone:
        client.call("UpdateCluster", uuid=cluster["uuid"], name="x")
    assert gone.value.status == 404


def test_client_errors_name_the_field(client: ZCloud, allinone: AllInOne) -> None:
    with pytest.raises(ApiError) as empty:
        client.call("CreateZone", name="")
    assert (empty.value.status, empty.value.code, empty.value.field) == (400, "API.1000", "name")
    with pytest.raises(ApiError) as missing:
        client.call("CreateCluster", name=unique("c"))
    assert (missing.value.status, missing.value.field) == (400, "zoneUuid")
    with pytest.raises(ApiError) as extra:
        client.call("CreateZone", name=unique("z"), colour="red")
    assert (extra.value.status, extra.value.field) == (400, "colour")

    with ZCloud(allinone.url) as anonymous:
        with pytest.raises(ApiError) as denied:
            anonymous.login("admin", "wrong-password")
        assert denied.value.status == 401
        with pytest.raises(ApiError) as unauthenticated:
            anonymous.call("CreateZone", name=unique("z"))
        assert (unauthenticated.value.status, unauthenticated.value.code) == (401, "API.1001")

    client.logout()
    assert client.token is None
    with pytest.raises(ApiError) as logged_out:
        client.call("CreateZone", name=unique("z"))
    assert logged_out.value.status == 401


async def test_async_client_write_path(allinone: AllInOne) -> None:
    async with AsyncZCloud(allinone.url) as client:
        await client.login("admin", ADMIN_PASSWORD)
        zone = (await client.call("CreateZone", name=unique("az")))["inventory"]
        reply = await client.call(
            "CreateCluster", name=unique("ac"), zoneUuid=zone["uuid"], hypervisorType="KVM"
        )
        assert reply["inventory"]["zoneUuid"] == zone["uuid"]
        deleted = await client.call("DeleteZone", uuid=zone["uuid"], deleteMode="Enforcing")
        assert deleted["deleted"] == ["Cluster", "Zone"]
        await client.logout()


# -- the CLI as a subprocess -------------------------------------------------------------------


@dataclass
class CliRun:
    code: int
    out: str
    err: str


@pytest.fixture
def zcloud(tmp_path: Path) -> Iterator[ZcloudCli]:
    yield ZcloudCli(tmp_path / "client" / "session.json")


@dataclass
class ZcloudCli:
    config: Path

    def __call__(self, *argv: str) -> CliRun:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZCLOUD_")}
        env["ZCLOUD_CLIENT_CONFIG"] = str(self.config)
        env["COLUMNS"] = "200"
        done = subprocess.run(
            [sys.executable, "-m", "mgmt.client.cli", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return CliRun(done.returncode, done.stdout, done.stderr)

    def login(self, url: str) -> None:
        run = self("login", "--url", url, "--account", "admin", "--password", ADMIN_PASSWORD)
        assert run.code == 0, run.err
        assert f"logged in to {url} as admin" in run.out


def test_cli_login_call_table_errors_logout(allinone: AllInOne, zcloud: ZcloudCli) -> None:
    not_yet = zcloud("CreateZone", "name=z")
    assert not_yet.code == 2
    assert "not logged in" in not_yet.err

    zcloud.login(allinone.url)
    assert stat.S_IMODE(zcloud.config.stat().st_mode) == 0o600
    saved = json.loads(zcloud.config.read_text())
    assert saved["url"] == allinone.url

    apis = zcloud("apis")
    assert apis.code == 0, apis.err
    assert "CreateZone" in apis.out
    assert "/v1/zones/{uuid}" in apis.out

    name = unique("cli")
    created = zcloud("CreateZone", f"name={name}", "--json")
    assert created.code == 0, created.err
    zone = json.loads(created.out)["inventory"]
    assert zone["name"] == name

    table = zcloud("UpdateZone", f"uuid={zone['uuid']}", "description=from the cli")
    assert table.code == 0, table.err
    rows = dict(line.split(None, 1) for line in table.out.splitlines())
    assert rows["uuid"] == zone["uuid"]
    assert rows["name"] == name
    assert rows["description"] == "from the cli"

    cluster = zcloud("CreateCluster", f"name={unique('c')}", f"zoneUuid={zone['uuid']}", "--json")
    assert cluster.code == 0, cluster.err

    bad = zcloud("CreateZone", "name=")
    assert bad.code == 2
    assert bad.err.startswith("error API.1000 (400): name: ")
    assert len(bad.err.strip().splitlines()) == 1
    assert bad.out == ""
    unknown = zcloud("CreateZon", "name=x")
    assert unknown.code == 2
    assert "CreateZone" in unknown.err

    deleted = zcloud("DeleteZone", f"uuid={zone['uuid']}", "deleteMode=Enforcing")
    assert deleted.code == 0, deleted.err
    assert "Cluster, Zone" in deleted.out
    again = zcloud("DeleteZone", zone["uuid"])  # the bare path parameter
    assert again.code == 2
    assert again.err.startswith("error API.1004 (404): ")

    logout = zcloud("logout")
    assert logout.code == 0, logout.err
    assert not zcloud.config.exists()


def test_cli_exit_code_1_when_the_server_cannot_be_reached(zcloud: ZcloudCli) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    run = zcloud("login", "--url", dead, "--account", "admin", "--password", "x")
    assert run.code == 1
    assert run.err.startswith(f"error: cannot reach {dead}")


# -- reads: these need GET /v1/zones, /v1/zones/{uuid} and /v1/zql on the server ---------------


def test_client_reads_query_get_zql(client: ZCloud) -> None:
    name = unique("rz")
    zone = client.call("CreateZone", name=name)["inventory"]
    other = client.call("CreateZone", name=unique("rz"))["inventory"]
    client.call("UpdateZone", uuid=other["uuid"], state="Disabled")

    found = client.query("Zone", f"name={name}")
    assert [z["uuid"] for z in found.inventories] == [zone["uuid"]]
    assert found.total == 1
    assert client.query("Zone", f"name={name}", count=True).total == 1
    enabled = client.query("zone", f"uuid?={zone['uuid']},{other['uuid']}", "state!=Disabled")
    assert [z["uuid"] for z in enabled.inventories] == [zone["uuid"]]
    both = client.query(
        "Zone", f"uuid?={zone['uuid']},{other['uuid']}", sort="-name", fields=["uuid", "name"]
    )
    assert [z["name"] for z in both.inventories] == sorted([name, other["name"]], reverse=True)
    assert set(both.inventories[0]) <= {"uuid", "name"}
    assert client.query("Zone", f"uuid?={zone['uuid']},{other['uuid']}", limit=1).total == 2

    assert client.get("Zone", zone["uuid"])["name"] == name
    with pytest.raises(ApiError) as missing:
        client.get("Zone", str(uuid.uuid4()))
    assert missing.value.status == 404

    answer = client.zql(f"query zone where name='{name}'")
    assert zone["uuid"] in json.dumps(answer)
    assert other["uuid"] not in json.dumps(answer)
    with pytest.raises(ApiError) as bad_field:
        client.query("Zone", "colour=red")
    assert bad_field.value.status == 400


def test_cli_reads_query_get_zql(allinone: AllInOne, zcloud: ZcloudCli) -> None:
    zcloud.login(allinone.url)
    name = unique("cr")
    zone = json.loads(zcloud("CreateZone", f"name={name}", "--json").out)["inventory"]

    table = zcloud("QueryZone", f"name={name}", "state!=Disabled")
    assert table.code == 0, table.err
    header = table.out.splitlines()[0].split()
    assert header[:3] == ["uuid", "name", "state"]
    assert zone["uuid"] in table.out

    counted = zcloud("QueryZone", f"name={name}", "--count")
    assert (counted.code, counted.out.strip()) == (0, "1")
    raw = zcloud("QueryZone", f"name={name}", "--limit", "5", "--sort", "+name", "--json")
    assert raw.code == 0, raw.err
    assert [z["uuid"] for z in json.loads(raw.out)["inventories"]] == [zone["uuid"]]

    got = zcloud("GetZone", f"uuid={zone['uuid']}")
    assert got.code == 0, got.err
    assert name in got.out
    assert "createDate" in got.out

    zql = zcloud("zql", f"query zone where name='{name}'", "--json")
    assert zql.code == 0, zql.err
    assert zone["uuid"] in zql.out

    bad = zcloud("QueryZone", "colour=red")
    assert bad.code == 2
    assert bad.err.startswith("error ")
