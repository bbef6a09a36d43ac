"""The kill test hook exists only on a node whose settings enable it."""

from __future__ import annotations

import httpx
import pytest

from mgmt.core.agenttasks import AgentClient, AgentTaskService
from mgmt.core.db import Database
from mgmt.core.flow.points import FLOW_OBSERVERS
from mgmt.diag.flows import KillSwitch
from mgmt.diag.plugin import DiagPlugin
from mgmt.settings import Settings


def test_the_setting_is_off_unless_the_environment_turns_it_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ZCLOUD_TEST_HOOKS", raising=False)
    assert Settings().test_hooks is False
    monkeypatch.setenv("ZCLOUD_TEST_HOOKS", "1")
    assert Settings().test_hooks is True


@pytest.mark.parametrize("enabled", [False, True])
async def test_the_kill_switch_is_registered_only_with_test_hooks(enabled: bool) -> None:
    db = Database("sqlite+aiosqlite:///:memory:")
    http = httpx.AsyncClient()
    tasks = AgentTaskService(db, "n1", http=http)
    agents = AgentClient(
        db,
        tasks,
        http,
        node_id="n1",
        partitions=4,
        callback_base_url="http://127.0.0.1:9",
        default_timeout=5.0,
    )
    try:
        observers = [
            e.impl
            for e in DiagPlugin(db, agents, test_hooks=enabled).extensions()
            if e.point is FLOW_OBSERVERS
        ]
        assert any(isinstance(o, KillSwitch) for o in observers) is enabled
    finally:
        await http.aclose()
        await db.close()
