"""What the composition root needs from a service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from mgmt.core.bus.dispatch import Handler
from mgmt.core.messages import Message


class Service(Protocol):
    def handlers(self) -> Mapping[type[Message], Handler]:
        """The messages this service handles; each type is handled by one service only."""
        ...
