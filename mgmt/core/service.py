"""What the composition root needs from a service.

Every service serves messages (``handlers``). One that owns durable flows also implements
``FlowOwner``; one with state machines, ``StateOwner``; one whose partition listeners
(trackers) use its own operations, ``ListenerOwner``: the root registers those too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from mgmt.core.bus.dispatch import Handler
from mgmt.core.flow import FlowDef
from mgmt.core.messages import Message
from mgmt.core.node import PartitionListener
from mgmt.core.states import StatefulOperation


class Service(Protocol):
    def handlers(self) -> Mapping[type[Message], Handler]:
        """The messages this service handles; each type is handled by one service only."""
        ...


@runtime_checkable
class FlowOwner(Protocol):
    def flows(self) -> Sequence[FlowDef[Any]]:
        """The durable flows this service runs (registered before the node starts)."""
        ...


@runtime_checkable
class StateOwner(Protocol):
    def stateful_operations(self) -> Sequence[StatefulOperation[Any]]:
        """The operations of its state machines and the flows that run them."""
        ...


@runtime_checkable
class ListenerOwner(Protocol):
    def partition_listeners(self) -> Sequence[PartitionListener]:
        """Its trackers (told of every change of the owned partitions)."""
        ...
