"""The sync's decision for one VM from what its host reports (``reconcile._target``)."""

from __future__ import annotations

from mgmt.vm.reconcile import _target


def test_what_the_host_reports_decides_the_state() -> None:
    assert _target("h", None, "sync")[0] == "Stopped"
    assert "no longer has" in _target("h", None, "sync")[1]
    assert _target("h", "Stopped", "sync")[0] == "Stopped"
    assert _target("h", "Running", "sync")[0] == "Running"
    assert _target("h", "Paused", "sync")[0] == "Paused"
    # the host does not know what it is: left alone
    assert _target("h", "Unknown", "sync")[0] is None
    assert _target("h", "Crashed?", "sync")[0] is None
