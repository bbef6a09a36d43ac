from __future__ import annotations

import pytest
from pydantic import ValidationError

from mgmt.core.bus.inproc import topic_matches
from mgmt.settings import Settings


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ZCLOUD_DB_URL", "ZCLOUD_AMQP_URL", "ZCLOUD_PARTITIONS"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.db_url.startswith("sqlite+aiosqlite:///var/")
    assert s.amqp_url is None and s.partitions == 64
    assert s.lease_seconds == 6.0


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZCLOUD_PARTITIONS", "16")
    monkeypatch.setenv("ZCLOUD_AMQP_URL", "amqp://x/")
    monkeypatch.setenv("ZCLOUD_DB_URL", "postgresql+asyncpg://u@h/db")
    s = Settings()
    assert (s.partitions, s.amqp_url, s.is_sqlite) == (16, "amqp://x/", False)


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZCLOUD_DB_URL", "mysql://nope")
    with pytest.raises(ValidationError, match="db_url"):
        Settings()
    monkeypatch.delenv("ZCLOUD_DB_URL")
    monkeypatch.setenv("ZCLOUD_PARTITIONS", "0")
    with pytest.raises(ValidationError, match="partitions"):
        Settings()


@pytest.mark.parametrize(
    ("pattern", "topic", "match"),
    [
        ("vm.*", "vm.Started", True),
        ("vm.*", "vm.nic.Attached", False),
        ("vm.#", "vm", True),
        ("vm.#", "vm.nic.Attached", True),
        ("#", "anything.at.all", True),
        ("#.Deleted", "vm.Deleted", True),
        ("*.Deleted", "Deleted", False),
        ("VmStateChanged", "VmStateChanged", True),
        ("VmStateChanged", "HostStateChanged", False),
    ],
)
def test_topic_matching(pattern: str, topic: str, match: bool) -> None:
    assert topic_matches(pattern, topic) is match
