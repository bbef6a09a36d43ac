"""Typed bus messages: requests name their reply type, events are past tense.

Every message is a frozen pydantic model with ``extra="forbid"``. A message about a resource
names the field holding that resource's UUID in ``route_by``; the bus routes on it. Changes
are additive: a breaking change is a new message name.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict


class Message(BaseModel):
    """Base of every bus message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Field holding the UUID of the resource the message is about (routing + ordering).
    route_by: ClassVar[str] = "resourceUuid"
    #: How many messages of one sync signature may run at once (1 = strictly in order).
    sync_level: ClassVar[int] = 1

    @classmethod
    def type_name(cls) -> str:
        """The wire name; the class name unless a subclass says otherwise."""
        return cls.__name__

    def routing_uuid(self) -> str:
        """The resource UUID this message is routed by."""
        value = getattr(self, self.route_by, None)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{self.type_name()} has no routing field {self.route_by!r}")
        return value

    def sync_signature(self) -> str:
        """Messages with the same signature run one at a time (``sync_level`` at a time)."""
        return self.routing_uuid()


class Reply(Message):
    """A request's successful answer. Failures travel as ``ErrorCode`` instead."""

    def routing_uuid(self) -> str:  # replies go to a caller's address, not a partition
        raise TypeError("replies are not routed by resource")


ReplyT = TypeVar("ReplyT", bound=Reply)


class Request(Message, Generic[ReplyT]):
    """A message that expects a ``ReplyT``: ``class StartVm(Request[StartVmReply])``."""

    @classmethod
    def reply_type(cls) -> type[Reply]:
        for klass in cls.__mro__:
            meta: dict[str, Any] = getattr(klass, "__pydantic_generic_metadata__", {}) or {}
            origin = meta.get("origin")
            if isinstance(origin, type) and issubclass(origin, Request) and meta.get("args"):
                reply = meta["args"][0]
                if isinstance(reply, type) and issubclass(reply, Reply):
                    return reply
        raise TypeError(f"{cls.__name__} does not name its reply type (Request[ReplyType])")


class Event(Message):
    """Something that happened, published on the topic exchange under ``event_topic()``.

    ``topic()`` is what subscribers bind to (may be a pattern, ``resource.#``);
    ``event_topic()`` the routing key of one event (by default the same).
    """

    @classmethod
    def topic(cls) -> str:
        return cls.type_name()

    def event_topic(self) -> str:
        return self.topic()


class MessageRegistry:
    """Wire name -> message class, built explicitly by the composition root."""

    def __init__(self, classes: list[type[Message]] | tuple[type[Message], ...] = ()) -> None:
        self._by_name: dict[str, type[Message]] = {}
        for cls in classes:
            self.add(cls)

    def add(self, cls: type[Message]) -> None:
        name = cls.type_name()
        known = self._by_name.get(name)
        if known is not None and known is not cls:
            raise ValueError(f"two message classes share the wire name {name!r}")
        self._by_name[name] = cls

    def get(self, name: str) -> type[Message] | None:
        return self._by_name.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        return sorted(self._by_name)
