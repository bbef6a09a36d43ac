"""The diagnostics service's in-tree plugin: its cascade types (and the release of a DiagVm
on its host) and, when the test hooks are enabled (``ZCLOUD_TEST_HOOKS``), the kill test
hook."""

from __future__ import annotations

from collections.abc import Sequence

from mgmt.core.agenttasks import AgentClient
from mgmt.core.cascade import CASCADE_RELEASES, CASCADE_RESOURCES
from mgmt.core.db import Database
from mgmt.core.flow.points import FLOW_OBSERVERS
from mgmt.core.plugins import Extension
from mgmt.diag.agentflows import DiagVmRelease
from mgmt.diag.cascade import TYPES, DiagResourceType
from mgmt.diag.flows import KillSwitch


class DiagPlugin:
    name = "diag"

    def __init__(self, db: Database, agents: AgentClient, *, test_hooks: bool = False) -> None:
        self._db = db
        self._agents = agents
        self._test_hooks = test_hooks

    def extensions(self) -> Sequence[Extension]:
        types = [Extension(CASCADE_RESOURCES, DiagResourceType(t, self._db), type=t) for t in TYPES]
        release = Extension(CASCADE_RELEASES, DiagVmRelease(self._agents), type="DiagVm")
        if not self._test_hooks:  # a production node has no observer that can kill it
            return [*types, release]
        return [*types, release, Extension(FLOW_OBSERVERS, KillSwitch())]
