"""Every API message is fully declared: each body field described, an example per request,
a reply type, one route per (method, path); the OpenAPI spec is derived from them."""

from __future__ import annotations

from mgmt.app import API_MESSAGES
from mgmt.core.api import body_fields


def test_every_field_is_described_and_every_request_has_an_example() -> None:
    missing = [
        f"{m.__name__}.{name}"
        for m in API_MESSAGES
        for name, f in body_fields(m).items()
        if not f.description
    ]
    assert not missing, f"fields without a description: {missing}"
    no_example = [
        m.__name__
        for m in API_MESSAGES
        if not (m.model_config.get("json_schema_extra") or {}).get("examples")  # type: ignore[union-attr]
    ]
    assert not no_example, f"requests without an example: {no_example}"


def test_routes_are_unique_and_every_request_names_its_reply() -> None:
    routes = [(m.api.method, m.api.path) for m in API_MESSAGES]
    assert len(routes) == len(set(routes)), routes
    for m in API_MESSAGES:
        assert m.reply_type() is not None
