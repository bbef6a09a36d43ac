"""Plugin registration: strategies by type, observers in order, clear failures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

from mgmt.app import configured_plugins
from mgmt.core.plugins import (
    Extension,
    ExtensionPoint,
    Kind,
    PluginError,
    PluginRegistry,
    load_external,
)
from mgmt.settings import Settings


class Hypervisor(Protocol):
    async def start_vm(self, uuid: str) -> str: ...


class BeforeStart(Protocol):
    async def before_start(self, uuid: str) -> None: ...


HYPERVISOR: ExtensionPoint[Hypervisor] = ExtensionPoint(
    "hypervisor", Hypervisor, Kind.STRATEGY, "picked by host type"
)
BEFORE_START: ExtensionPoint[BeforeStart] = ExtensionPoint(
    "vm.before-start", BeforeStart, Kind.OBSERVER, "all, in order"
)


class Kvm:
    async def start_vm(self, uuid: str) -> str:
        return f"kvm:{uuid}"


class SyncKvm:
    def start_vm(self, uuid: str) -> str:
        return uuid


class Audit:
    def __init__(self, tag: str) -> None:
        self.tag = tag

    async def before_start(self, uuid: str) -> None:
        return None


@dataclass
class P:
    name: str
    claims: Sequence[Extension]

    def extensions(self) -> Sequence[Extension]:
        return self.claims


def registry() -> PluginRegistry:
    return PluginRegistry([HYPERVISOR, BEFORE_START])


async def test_strategies_are_picked_by_type_and_observers_kept_in_order() -> None:
    reg = registry()
    first, second = Audit("a"), Audit("b")
    reg.register(
        P("kvm", [Extension(HYPERVISOR, Kvm(), type="KVM"), Extension(BEFORE_START, first)])
    )
    reg.register(P("audit", [Extension(BEFORE_START, second)]))
    assert await reg.strategy(HYPERVISOR, "KVM").start_vm("v") == "kvm:v"
    assert reg.strategy_types(HYPERVISOR) == ["KVM"]
    assert reg.observers(BEFORE_START) == [first, second]
    with pytest.raises(LookupError, match="VMware"):
        reg.strategy(HYPERVISOR, "VMware")


def test_two_strategies_for_one_type_fail_naming_both() -> None:
    reg = registry()
    reg.register(P("kvm", [Extension(HYPERVISOR, Kvm(), type="KVM")]))
    with pytest.raises(PluginError, match="'kvm' and 'kvm2' both claim type 'KVM'"):
        reg.register(P("kvm2", [Extension(HYPERVISOR, Kvm(), type="KVM")]))


@pytest.mark.parametrize(
    ("impl", "problem"),
    [(object(), "start_vm (missing)"), (SyncKvm(), "start_vm (must be async)")],
)
def test_a_plugin_claiming_what_it_does_not_implement_fails_clearly(
    impl: Any, problem: str
) -> None:
    reg = registry()
    with pytest.raises(PluginError, match=r"plugin 'bad' claims extension point 'hypervisor'") as e:
        reg.register(P("bad", [Extension(HYPERVISOR, impl, type="KVM")]))
    assert problem in str(e.value)
    assert reg.plugins == []  # nothing half-registered


def test_a_strategy_without_a_type_and_an_unknown_point_are_refused() -> None:
    reg = registry()
    with pytest.raises(PluginError, match="needs a type"):
        reg.register(P("x", [Extension(HYPERVISOR, Kvm())]))
    other: ExtensionPoint[Any] = ExtensionPoint("other", BeforeStart, Kind.OBSERVER, "")
    with pytest.raises(PluginError, match="unknown extension point 'other'"):
        reg.register(P("y", [Extension(other, Audit("z"))]))


def test_a_plugin_registered_twice_is_refused() -> None:
    reg = registry()
    reg.register(P("a", []))
    with pytest.raises(PluginError, match="twice"):
        reg.register(P("a", []))


@dataclass
class FakeEntryPoint:
    name: str
    value: str
    target: Any

    def load(self) -> Any:
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


def test_external_plugins_load_from_entry_points_and_failures_are_named() -> None:
    good = FakeEntryPoint("good", "pkg:make", lambda: P("good", []))
    assert [p.name for p in load_external(discover=lambda g: [good])] == ["good"]
    broken = FakeEntryPoint("broken", "pkg:nope", ImportError("no module pkg"))
    with pytest.raises(PluginError, match=r"'broken' \(pkg:nope\) failed to load: no module pkg"):
        load_external(discover=lambda g: [broken])
    not_a_plugin = FakeEntryPoint("odd", "pkg:odd", object)
    with pytest.raises(PluginError, match="is not a plugin"):
        load_external(discover=lambda g: [not_a_plugin])


def test_zcloud_plugins_setting_loads_factories_and_names_bad_ones() -> None:
    plugins = configured_plugins(Settings(plugins="tests.fixtures.plugins:broken"))
    assert [p.name for p in plugins] == ["broken-observer"]
    with pytest.raises(PluginError, match=r"tests\.fixtures\.nowhere:x"):
        configured_plugins(Settings(plugins="tests.fixtures.nowhere:x"))
