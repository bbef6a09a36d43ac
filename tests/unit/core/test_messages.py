from __future__ import annotations

import pytest
from pydantic import ValidationError

from mgmt.core.errors import (
    Codes,
    ErrorCode,
    TemporaryError,
    ZCloudError,
    error,
    is_transient,
    to_error_code,
)
from mgmt.core.messages import Event, MessageRegistry, Reply, Request
from mgmt.diag import Echo, EchoReply


class Moved(Event):
    resourceUuid: str


def test_messages_are_frozen_and_strict() -> None:
    msg = Echo(resourceUuid="r", text="t")
    with pytest.raises(ValidationError):
        msg.text = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError) as info:
        Echo.model_validate({"resourceUuid": "r", "surprise": 1})
    assert "surprise" in str(info.value)


def test_request_knows_its_reply_and_routing() -> None:
    assert Echo.reply_type() is EchoReply
    assert Echo(resourceUuid="abc").routing_uuid() == "abc"
    assert Echo(resourceUuid="abc").sync_signature() == "abc"
    assert Moved(resourceUuid="x").topic() == "Moved"


def test_a_request_without_a_reply_type_is_refused() -> None:
    class Bare(Request):  # type: ignore[type-arg]
        resourceUuid: str

    with pytest.raises(TypeError):
        Bare.reply_type()


def test_missing_routing_field_is_an_error() -> None:
    class NoRoute(Request[Reply]):
        name: str

    with pytest.raises(ValueError, match="routing field"):
        NoRoute(name="n").routing_uuid()


def test_registry_refuses_two_classes_with_one_wire_name() -> None:
    reg = MessageRegistry([Echo])
    assert reg.get("Echo") is Echo and "Echo" in reg

    class Echo2(Request[Reply]):
        resourceUuid: str

        @classmethod
        def type_name(cls) -> str:
            return "Echo"

    with pytest.raises(ValueError, match="share the wire name"):
        reg.add(Echo2)


def test_error_codes_carry_causes() -> None:
    inner = error(Codes.AGENT_ERROR, "disk full", hostUuid="h1")
    outer = error(Codes.HANDLER_FAILED, "StartVm failed").caused(inner)
    assert outer.cause == inner and outer.cause.extra == {"hostUuid": "h1"}
    assert ErrorCode.model_validate_json(outer.model_dump_json()) == outer
    assert to_error_code(ZCloudError(inner)) == inner
    assert to_error_code(KeyError("k")).code == "SYS.1000"


def test_transient_classification() -> None:
    assert is_transient(TemporaryError(error(Codes.BUS_UNAVAILABLE)))
    assert is_transient(ConnectionResetError())
    assert not is_transient(ZCloudError(error(Codes.INTERNAL)))
    assert not is_transient(TimeoutError()), "a deadline is not a blip"
    assert not is_transient(ValueError())
