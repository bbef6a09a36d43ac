"""How the allocator is put together: the modules' read plugins give every filter and
strategy, in the order the filters run; a module plugin (nodes only) claiming a point the
frontends run too fails start-up."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mgmt.allocator import HOST_FILTERS, HOST_STRATEGIES
from mgmt.allocator.contract import by_stage
from mgmt.allocator.filters.state import HostStateFilter
from mgmt.app import EXTENSION_POINTS, MODULES, _no_read_points, tag_registry
from mgmt.core.db import Database
from mgmt.core.module import BaseParts
from mgmt.core.plugins import Extension, PluginError, PluginRegistry
from mgmt.core.tags import TagService


def _registry() -> PluginRegistry:
    db = Database("sqlite+aiosqlite:///:memory:")
    plugins = PluginRegistry(EXTENSION_POINTS)
    for plugin in MODULES.read_plugins(BaseParts(db, TagService(db, tag_registry()))):
        plugins.register(plugin)
    return plugins


def test_read_plugins_give_every_filter_in_order_and_every_strategy() -> None:
    plugins = _registry()
    names = [f.name for f in by_stage(plugins.observers(HOST_FILTERS))]
    assert names == [
        "host-state",
        "hypervisor-type",
        "designated",
        "avoid-hosts",
        "host-tags",
        "l3-network",
        "primary-storage",
        "capacity",
    ]
    assert {
        "DefaultHostAllocatorStrategy",
        "LeastVmPreferredHostAllocatorStrategy",
        "RandomHostAllocatorStrategy",
    } <= set(plugins.strategy_types(HOST_STRATEGIES))


class NodeOnlyFilter:
    name = "node-only-filter"

    def extensions(self) -> Sequence[Extension]:
        return [Extension(HOST_FILTERS, HostStateFilter())]


def test_a_filter_from_a_modules_node_plugins_fails_start_up_naming_it() -> None:
    plugins = _registry()
    plugins.register(NodeOnlyFilter())
    _no_read_points(plugins, set())  # external or read plugins: fine
    with pytest.raises(PluginError, match=r"node-only-filter.*read_plugins"):
        _no_read_points(plugins, {"node-only-filter"})
