"""The flow engine's extension points (owned by the engine, claimed by plugins)."""

from __future__ import annotations

from mgmt.core.flow.definition import FlowExtension
from mgmt.core.flow.engine import FlowEndObserver, FlowObserver
from mgmt.core.plugins import ExtensionPoint, Kind

FLOW_INSERTIONS: ExtensionPoint[FlowExtension] = ExtensionPoint(
    "flow.insertions",
    FlowExtension,
    Kind.OBSERVER,
    "Steps to add to flows at named anchors; read once when the flows are registered. "
    "A missing anchor fails start-up.",
)
FLOW_OBSERVERS: ExtensionPoint[FlowObserver] = ExtensionPoint(
    "flow.observer",
    FlowObserver,
    Kind.OBSERVER,
    "Told before and after every step of every flow, in registration order; an exception "
    "is logged and never aborts the flow.",
)
FLOW_END_OBSERVERS: ExtensionPoint[FlowEndObserver] = ExtensionPoint(
    "flow.end-observer",
    FlowEndObserver,
    Kind.OBSERVER,
    "Told when a run ends (succeeded, rolled back or failed) on the node that finished it, "
    "before the flow's own handlers; an exception is logged and never changes the outcome.",
)
