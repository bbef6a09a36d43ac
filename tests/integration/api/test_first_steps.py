"""What a new user does first, against a real all-in-one (``zcloud up``) and the ``zcloud``
CLI as a subprocess: list and describe APIs before logging in, set a numeric global config
with ``key=value``, get a 400 naming the allowed values for a query on a fixed-value field
(``q=`` and ZQL), and log in as a user of an account (``zcloud login --user``)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mgmt.bench.cluster import Proc, free_port
from mgmt.client import ApiError, ZCloud
from tests.integration.api.test_client_cli import ZcloudCli as Cli

ADMIN_PASSWORD = "first-steps-admin-pw"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("first-steps")
    api, sim = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZCLOUD_")}
    env["ZCLOUD_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    argv = [sys.executable, "-m", "mgmt.cli", "up", "--port", str(api), "--sim-port", str(sim)]
    proc = Proc("up", argv, env, api, workdir / "up.log", cwd=workdir).start()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.alive, proc.tail()
            # ready, and the demo cloud made (the banner comes after it)
            if "zcloud all-in-one is up" in proc.log_path.read_text(errors="replace"):
                break
            assert time.monotonic() < deadline, proc.tail()
            time.sleep(0.1)
        yield proc.url
    finally:
        proc.kill(signal.SIGTERM)
        assert proc.popen is not None
        assert proc.popen.wait(30) == 0, proc.tail()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "client" / "session.json")


def test_the_openapi_document_needs_no_login(url: str) -> None:
    r = httpx.get(f"{url}/openapi.json", timeout=10)
    assert r.status_code == 200
    assert "UpdateGlobalConfigValue" in r.text


def test_apis_and_api_help_work_without_a_login(url: str, cli: Cli) -> None:
    apis = cli("apis", "--url", url)
    assert apis.code == 0, apis.err
    assert "CreateZone" in apis.out
    assert not cli.config.exists()  # nothing was saved: no session was needed

    described = cli("CreateCluster", "--help", "--url", url)
    assert described.code == 0, described.err
    assert "zoneUuid" in described.out
    assert "hypervisorType" in described.out

    call = cli("CreateZone", "name=z", "--url", url)  # a call still needs a session
    assert call.code == 2
    assert "not logged in" in call.err


def test_a_numeric_global_config_takes_a_number(url: str, cli: Cli) -> None:
    login = cli("login", "--url", url, "--account", "admin", "--password", ADMIN_PASSWORD)
    assert login.code == 0, login.err
    set_it = cli("UpdateGlobalConfigValue", "uuid=identity.session.timeout", "value=3600", "--json")
    assert set_it.code == 0, set_it.err
    assert json.loads(set_it.out)["inventory"]["value"] == "3600"
    # quoted JSON text, as the older docs showed, means the same for an int config
    as_text = cli("UpdateGlobalConfigValue", "uuid=identity.session.timeout", 'value="7200"')
    assert as_text.code == 0, as_text.err
    refused = cli("UpdateGlobalConfigValue", "uuid=identity.session.timeout", "value=1.5")
    assert refused.code == 2
    assert "identity.session.timeout" in refused.err


def test_a_query_on_a_fixed_value_field_names_the_allowed_values(url: str) -> None:
    with ZCloud(url) as client:
        client.login("admin", ADMIN_PASSWORD)
        with pytest.raises(ApiError) as rest:
            client.query("Zone", "state=Enabld")
        assert (rest.value.status, rest.value.field) == (400, "state")
        assert "Enabled, Disabled" in rest.value.details
        assert rest.value.extra["allowed"] == ["Enabled", "Disabled"]
        with pytest.raises(ApiError) as listed:
            client.query("Cluster", "hypervisorType?=KVM,Xen")
        assert listed.value.status == 400
        assert "KVM, VMware, Simulator" in listed.value.details
        with pytest.raises(ApiError) as zql:
            client.zql("query zone where state='enabled'")
        assert zql.value.status == 400
        assert "Enabled, Disabled" in zql.value.details
        # the allowed values and patterns still answer
        assert client.query("Zone", "state=Disabled", "state~=Dis%").inventories is not None


def test_login_as_a_user_of_an_account(url: str, cli: Cli) -> None:
    name = f"ops-{uuid.uuid4().hex[:8]}"
    with ZCloud(url) as admin:
        admin.login("admin", ADMIN_PASSWORD)
        admin.call("CreateUser", name=name, password="a long user secret")
    run = cli(
        "login",
        "--url",
        url,
        "--account",
        "admin",
        "--user",
        name,
        "--password",
        "a long user secret",
    )
    assert run.code == 0, run.err
    assert f"as user {name} of admin" in run.out
    saved = json.loads(cli.config.read_text())
    assert (saved["account"], saved["user"]) == ("admin", name)
    # a user with no policy may log in, and is then refused what no policy allows
    refused = cli("CreateZone", "name=from-a-user")
    assert refused.code == 2
    assert "(403)" in refused.err

    wrong = cli("login", "--url", url, "--account", "admin", "--user", name, "--password", "nope")
    assert wrong.code == 2
    assert "(401)" in wrong.err


# -- the curl quick start of docs/api.md, run as written ---------------------------------------


def _quick_start() -> str:
    text = (Path(__file__).resolve().parents[3] / "docs" / "api.md").read_text()
    section = text.split("## Authentication", 1)[1]
    return section.split("```bash\n", 1)[1].split("```", 1)[0]


def test_the_curl_quick_start_of_the_api_guide_runs(url: str, tmp_path: Path) -> None:
    port = url.rsplit(":", 1)[1]
    script = _quick_start().replace("localhost:8080", f"127.0.0.1:{port}")
    script = script.replace('"password": "…"', f'"password": "{ADMIN_PASSWORD}"')
    # the block as a script that stops at the first failure and shows every answer
    path = tmp_path / "quick-start.sh"
    path.write_text("set -euo pipefail\n" + script.replace("curl -s", "curl -sS --fail-with-body"))
    done = subprocess.run(
        ["bash", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    answers, text, decoder = [], done.stdout.strip(), json.JSONDecoder()
    while text:  # curl writes the answers back to back, without newlines
        answer, end = decoder.raw_decode(text)
        answers.append(answer)
        text = text[end:].strip()
    assert "inventories" in answers[0]  # GET /v1/zones
    assert answers[1]["inventory"]["name"] == "z1"  # the create, answered within Prefer: wait


def test_a_body_without_content_type_is_refused(url: str) -> None:
    """Why the docs' curl examples say ``Content-Type``: without it the body is not read."""
    r = httpx.post(
        f"{url}/v1/sessions",
        content=json.dumps({"accountName": "admin", "password": ADMIN_PASSWORD}),
        headers={"Content-Type": ""},
        timeout=10,
    )
    assert r.status_code == 400, r.text


# -- the README's first VM, run as written -----------------------------------------------------


def _first_vm_steps() -> list[list[str]]:
    text = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    block = text.split("## A first VM", 1)[1].split("```console\n", 1)[1].split("```", 1)[0]
    joined = block.replace("\\\n", " ")  # continued lines are one command
    return [
        shlex.split(line[len("$ zcloud ") :], comments=True)
        for line in joined.splitlines()
        if line.startswith("$ zcloud ")
    ]


def test_the_readme_first_vm_runs_as_written(url: str, cli: Cli) -> None:
    steps = _first_vm_steps()
    assert steps[0][0] == "login"
    assert {"CreateVmInstance", "MigrateVm", "DestroyVmInstance"} <= {s[0] for s in steps}
    for step in steps:
        # the walk-through's server is the test's, and the password is its own
        argv = [*step, "--url", url, "--password", ADMIN_PASSWORD] if step[0] == "login" else step
        run = cli(*argv)
        assert run.code == 0, f"zcloud {shlex.join(argv)}: {run.out}{run.err}"
    with ZCloud(url) as client:
        client.login("admin", ADMIN_PASSWORD)
        left = client.query("VmInstance", "name=web1").inventories
    assert left == [], left  # destroyed, then expunged
