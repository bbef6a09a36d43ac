"""The HTTP server protocol: httptools, keeping the body of a request that offers an h2c
upgrade (the JDK's HTTP client sends one), over a real socket."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI, Request

from mgmt.server import HttpServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def echo() -> AsyncIterator[int]:
    app = FastAPI()

    @app.post("/echo")
    async def body(request: Request) -> dict[str, str]:
        return {"body": (await request.body()).decode()}

    port = _free_port()
    server = HttpServer(app, "127.0.0.1", port)
    await server.start()
    try:
        yield port
    finally:
        await server.stop()


async def _exchange(port: int, *chunks: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.05)  # separate segments: the body arrives after the headers
        return await asyncio.wait_for(reader.read(), 10)  # until the server closes
    finally:
        writer.close()


def _post(body: bytes, *extra: bytes) -> bytes:
    head = [b"POST /echo HTTP/1.1", b"Host: x", *extra, b"Content-Length: %d" % len(body)]
    return b"\r\n".join(head) + b"\r\n\r\n"


H2C = (b"Connection: Upgrade, HTTP2-Settings", b"Upgrade: h2c", b"HTTP2-Settings: AAMAAABk")


@pytest.mark.parametrize("split", [False, True], ids=["one-segment", "body-later"])
async def test_a_request_offering_h2c_keeps_its_body(echo: int, split: bool) -> None:
    head, body = _post(b'{"a": 1}', *H2C), b'{"a": 1}'
    answer = await (_exchange(echo, head, body) if split else _exchange(echo, head + body))
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert b'"body":"{\\"a\\": 1}"' in answer
    assert b"connection: close" in answer.lower()  # the parser is spent after an upgrade


async def test_plain_keep_alive_requests_still_pipeline(echo: int) -> None:
    one = _post(b"x") + b"x"
    close = _post(b"y", b"Connection: close") + b"y"
    answer = await _exchange(echo, one + close)
    assert answer.count(b"HTTP/1.1 200") == 2
    assert b'"body":"x"' in answer and b'"body":"y"' in answer


async def test_a_chunked_body_with_an_upgrade_offer_is_refused(echo: int) -> None:
    head = b"\r\n".join([b"POST /echo HTTP/1.1", b"Host: x", *H2C, b"Transfer-Encoding: chunked"])
    answer = await _exchange(echo, head + b"\r\n\r\n1\r\nx\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer


async def test_a_slow_request_on_a_kept_alive_connection_is_not_cut_off() -> None:
    """Regression: the keep-alive timer armed after a response was never disarmed when the
    next request came, so a `Prefer: wait` longer than the keep-alive (5 s) on a reused
    connection was closed mid-request ("Server disconnected without sending a response")."""
    app = FastAPI()

    @app.post("/echo")
    async def body(request: Request) -> dict[str, str]:
        return {"body": (await request.body()).decode()}

    @app.post("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(2.0)  # longer than the keep-alive below
        return {"body": "late"}

    port = _free_port()
    server = HttpServer(app, "127.0.0.1", port, keep_alive=1)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(_post(b"x") + b"x")
            first = await asyncio.wait_for(reader.readuntil(b'{"body":"x"}'), 10)
            assert b"200 OK" in first
            writer.write(_post(b"").replace(b"/echo", b"/slow"))
            second = await asyncio.wait_for(reader.readuntil(b'{"body":"late"}'), 10)
            assert b"200 OK" in second
        finally:
            writer.close()
    finally:
        await server.stop()
