"""ReconnectHost: the connect handshake again on a host that exists, under the status
machine (Connecting while it runs; Connected, or Disconnected when it fails — the counters
keep their reservations either way)."""

from __future__ import annotations

from mgmt.core.flow import FlowDef, Interrupt, Step
from mgmt.core.states import StatefulOperation
from mgmt.host.flows.handshake import HostConnectCtx
from mgmt.host.states import CONNECT, HOST_STATUS

RECONNECT_HOST = "ReconnectHost"


def reconnect_host_flow(handshake: list[Step[HostConnectCtx]]) -> FlowDef[HostConnectCtx]:
    return FlowDef(RECONNECT_HOST, HostConnectCtx, handshake, on_interrupt=Interrupt.RESUME)


def reconnect_operation(flow: FlowDef[HostConnectCtx]) -> StatefulOperation[HostConnectCtx]:
    return StatefulOperation(HOST_STATUS, CONNECT, flow)
