"""The Java SDK generated from the OpenAPI document drives a real all-in-one.

``deploy/sdk/build-java.sh`` (what ``make sdk-java`` runs) builds ``build/zcloud-sdk.jar``
offline while ``zcloud up`` starts; a small Java program (``java/ZCloudSmoke.java``) compiled
against that jar logs in, creates a zone (``Prefer: wait``, then its job), queries it back by
name (``GET /v1/zones?q=name=…``) and logs out, printing one line per step.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
import uuid
from pathlib import Path

import pytest

from mgmt.bench.cluster import Proc, free_port
from tests.integration.api.test_resource_kit import WIDGET_ENV

ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = ROOT / "deploy" / "sdk" / "build-java.sh"
DUMP_SCRIPT = ROOT / "deploy" / "sdk" / "dump_openapi.py"
SMOKE_SOURCE = Path(__file__).with_name("java") / "ZCloudSmoke.java"
ADMIN_PASSWORD = "java-sdk-admin-pw"


async def run(argv: list[str], *, timeout: float, env: dict[str, str] | None = None) -> str:
    """Run a command to its end; its combined output, or an assertion naming what failed."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its children (the generator, javac) go with it on a kill
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except BaseException:  # timed out, or cancelled because the all-in-one failed to start
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        raise
    text = out.decode(errors="replace")
    assert proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}:\n{text}"
    return text


async def build_sdk(spec: Path | None = None) -> tuple[str, str]:
    """Build the SDK (from ``spec``, else the code's own document); the jar and the
    classpath it prints (the jar and its dependencies)."""
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "OPENAPI_GENERATOR": str(bin_dir / "openapi-generator-cli"),
    }
    argv = ["bash", str(BUILD_SCRIPT), *([str(spec)] if spec else [])]
    out = await run(argv, timeout=150, env=env)
    jar = re.search(r"^zcloud Java SDK: (\S+)$", out, re.M)
    classpath = re.search(r"^\s+classpath: (\S+)$", out, re.M)
    assert jar and classpath, out
    assert await asyncio.to_thread(os.path.isfile, jar[1]), out
    return jar[1], classpath[1]


@pytest.mark.timeout(240)
async def test_java_sdk_builds_with_a_declared_resource_type(tmp_path: Path) -> None:
    """The test-only widget type (declared with the kit alone) is in the SDK."""
    spec = tmp_path / "openapi.json"
    env = {**os.environ, **WIDGET_ENV, "PYTHONPATH": str(ROOT)}  # tests.fixtures is importable
    await run([sys.executable, str(DUMP_SCRIPT), "-o", str(spec)], timeout=60, env=env)
    assert '"/v1/widgets"' in await asyncio.to_thread(spec.read_text)
    jar, _ = await build_sdk(spec)
    listing = await run(["unzip", "-l", jar], timeout=30)
    for cls in ("model/WidgetInventory.class", "model/CreateWidgetBody.class", "api/WidgetsApi"):
        assert f"io/zcloud/sdk/{cls}" in listing, f"{cls} not in the SDK:\n{listing}"


@pytest.mark.timeout(240)
async def test_java_sdk_logs_in_creates_and_queries_a_zone(tmp_path: Path) -> None:
    for tool in ("java", "javac"):
        assert shutil.which(tool), f"{tool} is not installed: the Java SDK needs a JDK 11+"
    api, sim = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZCLOUD_")}
    env["ZCLOUD_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    up = Proc(
        "up",
        [
            sys.executable,
            "-m",
            "mgmt.cli",
            "up",
            "--port",
            str(api),
            "--sim-port",
            str(sim),
            "--sim-hosts",
            "0",
        ],
        env,
        api,
        tmp_path / "up.log",
        cwd=tmp_path,  # the SQLite file goes to tmp_path/var
    ).start()
    try:
        # the SDK builds while the all-in-one starts; either failing cancels the other
        async with asyncio.TaskGroup() as tg:
            built = tg.create_task(build_sdk())
            tg.create_task(up.wait_ready("/ready", timeout=60))
        _, classpath = built.result()
        classes = tmp_path / "classes"
        await run(["javac", "-d", str(classes), "-cp", classpath, str(SMOKE_SOURCE)], timeout=60)
        zone = f"java-sdk-{uuid.uuid4().hex[:8]}"
        argv = ["java", "-cp", f"{classpath}:{classes}", "ZCloudSmoke", up.url, ADMIN_PASSWORD]
        proc = await asyncio.create_subprocess_exec(
            *argv, zone, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            raw, _ = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        out = raw.decode(errors="replace")
        print(out)
        # step by step, so that a failure names the first step that did not pass
        assert "logged in: session=" in out, out
        assert re.search(r"^create accepted: HTTP 20[02] job=\S+$", out, re.M), out
        assert re.search(rf"^created zone: uuid=[\w-]+ name={zone} state=Enabled$", out, re.M), out
        assert re.search(rf"^queried zones: q=name={zone} total=1 uuid=[\w-]+$", out, re.M), out
        assert "logged out: the session is refused (401)" in out, out
        assert proc.returncode == 0, f"ZCloudSmoke exited {proc.returncode}:\n{out}"
        assert out.rstrip().endswith("OK"), out
    finally:
        if up.alive:  # (one that died already failed the test with its log)
            up.kill(signal.SIGTERM)
            assert await up.wait_exit(30) == 0, up.tail()
