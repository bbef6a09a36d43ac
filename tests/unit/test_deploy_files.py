"""The compose file is valid for docker-compose and runs the processes this tree provides."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_is_valid() -> None:
    tool = shutil.which("docker-compose")
    assert tool, "docker-compose is missing: deploy/dev/ensure-services.sh installs it"
    result = subprocess.run(
        [tool, "-f", str(ROOT / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_services_run_our_commands() -> None:
    spec = yaml.safe_load((ROOT / "compose.yaml").read_text())
    commands = {
        name: svc.get("command", [None])[0]
        for name, svc in spec["services"].items()
        if svc.get("image") == "zcloud:latest"
    }
    assert sorted(commands.values()) == sorted(
        ["db", "mgmt", "mgmt", "mgmt", "api", "api", "agent"]
    )
    node_ids = [spec["services"][f"mgmt{i}"]["environment"]["ZCLOUD_NODE_ID"] for i in (1, 2, 3)]
    assert len(set(node_ids)) == 3


def test_ci_runs_make_test() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
