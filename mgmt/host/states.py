"""The host's two state sets.

- **status** (Connecting, Connected, Disconnected) is a state machine (``HOST_STATUS``,
  mgmt/core/states): ``connect`` holds the host in Connecting while a handshake runs — the
  add flow inserts its row already held, the reconnect flow begins it — and the run's end,
  however it ends (a take-over included), leaves it Connected or Disconnected.
- **state** (Enabled, Disabled, PreMaintenance, Maintenance) is the operator's: enable and
  disable are one conditional UPDATE each (``STATE_EVENTS``); maintain is one UPDATE to
  PreMaintenance (no new placements: the allocator takes only Enabled hosts), the VMs'
  evacuation (``EvacuateHost``, handled by the VM service), then one UPDATE to
  Maintenance. A maintain interrupted (its node died) leaves PreMaintenance: maintain
  again finishes it, enable ends it.
"""

from __future__ import annotations

from enum import StrEnum

from mgmt.core.states import Operation, StateMachine
from mgmt.host.models import HostRow


class Status(StrEnum):
    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    DISCONNECTED = "Disconnected"


class State(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PRE_MAINTENANCE = "PreMaintenance"
    MAINTENANCE = "Maintenance"


CONNECT = "connect"

HOST_STATUS = StateMachine(
    "Host",
    Status,
    model=HostRow,
    transitional={Status.CONNECTING},
    operations=[
        Operation(
            CONNECT,
            {Status.CONNECTED, Status.DISCONNECTED},
            transitional=Status.CONNECTING,
            success=Status.CONNECTED,
            failure=Status.DISCONNECTED,
        )
    ],
)

#: stateEvent → (the states it may be applied in, the state it leads to); applying one
#: to a host already there changes nothing (idempotent), anything else is a 409
STATE_EVENTS: dict[str, tuple[frozenset[State], State]] = {
    "enable": (frozenset(State), State.ENABLED),
    "disable": (frozenset({State.ENABLED, State.DISABLED}), State.DISABLED),
    # to PreMaintenance first: the service moves the VMs away, then Maintenance
    "maintain": (
        frozenset(State),  # again from PreMaintenance or Maintenance: finishes it
        State.PRE_MAINTENANCE,
    ),
}
MAINTAIN = "maintain"
