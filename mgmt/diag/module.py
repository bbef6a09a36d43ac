"""The diagnostics service module (framework tests and ``zcloud bench``): its messages,
flows, cascade types, kill hook, configs and tag pattern."""

from __future__ import annotations

from collections.abc import Sequence

from mgmt.allocator import HostAllocator
from mgmt.core.module import NodeParts, PluginParts, ServiceModule
from mgmt.core.plugins import Plugin
from mgmt.diag.flows import COUNTER_STEP_TAG, DIAG_CONFIGS
from mgmt.diag.handlers import DiagService
from mgmt.diag.plugin import DiagPlugin


def _service(parts: NodeParts) -> DiagService:
    return DiagService(
        parts.db,
        parts.agents,
        engine=parts.engine,
        tags=parts.tags,
        gconfig=parts.gconfig,
        cascade=parts.cascade,
        states=parts.states,
        test_hooks=parts.settings.test_hooks,
        allocator=HostAllocator.of(parts.db, parts.types, parts.gconfig, parts.plugins),
    )


def _plugins(parts: PluginParts) -> Sequence[Plugin]:
    return [DiagPlugin(parts.db, parts.agents, test_hooks=parts.test_hooks)]


MODULE = ServiceModule(
    "diag",
    service=_service,
    plugins=_plugins,
    global_configs=DIAG_CONFIGS,
    tag_patterns=(COUNTER_STEP_TAG,),
)
