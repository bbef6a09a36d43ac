"""What a transport carries: the encoded message plus routing and reply metadata."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Protocol


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Envelope:
    """One message on the wire. ``body`` is the JSON of the pydantic message."""

    type: str
    body: bytes
    message_id: str = field(default_factory=new_id)
    resource_uuid: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    deadline: float | None = None  # epoch seconds; children inherit what is left
    sender: str = ""
    is_error: bool = False  # a reply whose body is an ErrorCode
    created: float = field(default_factory=time.time)

    def remaining(self, now: float | None = None) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - (time.time() if now is None else now)

    def with_body(self, body: bytes) -> Envelope:
        return replace(self, body=body)


class Delivery(Protocol):
    """A message handed to a consumer; it stays owed until settled exactly once."""

    envelope: Envelope
    #: 1 on first delivery; grows each time the message returns to its queue.
    delivery_count: int

    async def ack(self) -> None:
        """Done: the broker forgets the message."""

    async def requeue(self) -> None:
        """Not done: give it back to the queue (counts as another attempt)."""

    async def dead_letter(self, reason: str) -> None:
        """Poison: move it to the dead-letter queue with ``reason``."""
