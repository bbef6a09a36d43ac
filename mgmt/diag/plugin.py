"""The diagnostics service's in-tree plugin: its cascade types and, when the test hooks are
enabled (``ZCLOUD_TEST_HOOKS``), the kill test hook."""

from __future__ import annotations

from collections.abc import Sequence

from mgmt.core.cascade import CASCADE_RESOURCES
from mgmt.core.db import Database
from mgmt.core.flow.points import FLOW_OBSERVERS
from mgmt.core.plugins import Extension
from mgmt.diag.cascade import TYPES, DiagResourceType
from mgmt.diag.flows import KillSwitch


class DiagPlugin:
    name = "diag"

    def __init__(self, db: Database, *, test_hooks: bool = False) -> None:
        self._db = db
        self._test_hooks = test_hooks

    def extensions(self) -> Sequence[Extension]:
        types = [Extension(CASCADE_RESOURCES, DiagResourceType(t, self._db), type=t) for t in TYPES]
        if not self._test_hooks:  # a production node has no observer that can kill it
            return types
        return [*types, Extension(FLOW_OBSERVERS, KillSwitch())]
