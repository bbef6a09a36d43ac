"""The import-linter contracts hold, and they name every package under mgmt/.

``make imports`` runs the same check, but a suite that passes must mean the layers hold; and
a contract list written by hand goes stale the day a service is added, so the second test
compares it with the packages on disk.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: Packages under mgmt/ that are layers, not services (STYLE.md's layout).
LAYERS = {"core", "client", "frontend", "bench", "migrations"}


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _contract(source: str) -> dict[str, Any] | None:
    found = [c for c in _contracts() if c.get("source_modules") == [source]]
    return found[0] if found else None


def _packages() -> set[str]:
    return {p.parent.name for p in (ROOT / "mgmt").glob("*/__init__.py")}


def test_lint_imports_keeps_every_contract() -> None:
    # the venv's own script, with no cache: the result is the tree's as it is now
    script = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(script), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout, done.stdout


def test_every_package_under_mgmt_is_named_by_the_contracts() -> None:
    packages = _packages()
    services = packages - LAYERS
    assert {"identity", "zone", "webhook", "diag"} <= services, services
    core, client = _contract("mgmt.core"), _contract("mgmt.client")
    assert core is not None and client is not None, "the core and client contracts are gone"
    for layer, layer_contract in (("core", core), ("client", client)):
        forbidden = set(layer_contract["forbidden_modules"])
        missing = {f"mgmt.{p}" for p in packages - {layer}} - forbidden
        assert not missing, f"add {sorted(missing)} to the {layer_contract['name']!r} contract"
    for service in sorted(services):
        contract = _contract(f"mgmt.{service}")
        assert contract is not None, (
            f"mgmt/{service} is a service with no contract: add one "
            f"'{service} imports other services only through their roots' to pyproject.toml"
        )
        expected = {f"mgmt.{other}.*" for other in services - {service}}
        assert set(contract["forbidden_modules"]) == expected, contract["name"]
        assert contract.get("allow_indirect_imports") is True, contract["name"]
