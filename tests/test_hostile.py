"""Hostile clients: malformed handshakes, slowloris, crashes, answered quietly."""

from __future__ import annotations

import asyncio
import gc
import logging
import struct
import sys
import time

import pytest

from wsroute import App, Connection
from wsroute.auth import BearerToken

from .conftest import TIMEOUT, handshake, probing, serving
from .test_frames import close

# The start of a TLS ClientHello: a record header, then a handshake header.
TLS_HELLO = (
    bytes.fromhex("16030100a5010000a10303") + bytes(32) + b"\x00\x00\x02\x13\x01"
)


def hostile_app() -> App:
    """An app with an echo route and a route behind a bearer token."""
    app = App()

    async def echo(ws: Connection) -> None:
        async for message in ws:
            await ws.send(message)

    app.add_route("/echo", echo)
    app.add_route(
        "/private",
        echo,
        endpoint="private",
        hooks=[BearerToken(lambda token: "alice" if token == "good" else None)],
    )
    return app


def with_headers(request: bytes, *lines: bytes) -> bytes:
    """Add header lines at the end of a request's headers."""
    return request.replace(
        b"\r\n\r\n", b"".join(b"\r\n" + line for line in lines) + b"\r\n\r\n"
    )


MALFORMED = {
    "request line over 8 KiB": (
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
        414,
    ),
    "header over 8 KiB": (handshake("/echo", X_Big="a" * 9000), 431),
    "200 headers": (
        with_headers(handshake("/echo"), *(b"X-%d: 1" % i for i in range(200))),
        431,
    ),
    "POST": (handshake("/echo").replace(b"GET", b"POST", 1), 405),
    "HTTP/1.0": (handshake("/echo").replace(b"HTTP/1.1", b"HTTP/1.0", 1), 505),
    "no Host": (handshake("/echo", host=None), 400),
    "two Host headers": (with_headers(handshake("/echo"), b"Host: other"), 400),
    "Host with a bad port": (handshake("/echo", host="localhost:http"), 400),
    "an Origin of another site": (
        handshake("/echo", Origin="https://evil.example"),
        403,
    ),
    "a wrong bearer token": (
        handshake("/private", Authorization="Bearer wrong"),
        401,
    ),
    "no bearer token": (handshake("/private"), 401),
    "Basic where Bearer is expected": (
        handshake("/private", Authorization="Basic YWxpY2U6c2VjcmV0"),
        401,
    ),
    "WebSocket version 8": (
        handshake("/echo").replace(b"Version: 13", b"Version: 8"),
        400,
    ),
    "a short Sec-WebSocket-Key": (
        handshake("/echo").replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"short"),
        400,
    ),
    "no Sec-WebSocket-Key": (
        handshake("/echo").replace(
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", b""
        ),
        400,
    ),
    "a path with ..": (handshake("/echo/../echo"), 400),
    "a path with NUL": (handshake("/echo%00"), 400),
    "an unknown path": (handshake("/nowhere"), 404),
    # Bytes that aren't HTTP at all get no answer: the connection is closed.
    "binary garbage": (bytes(range(256)) * 4 + b"\r\n\r\n", None),
    "a TLS ClientHello": (TLS_HELLO, None),
}


async def answer(url: str, data: bytes) -> int | None:
    """Send raw bytes; return the status of the answer, or None for none."""
    host, _, port = url.removeprefix("ws://").partition(":")
    async with asyncio.timeout(TIMEOUT):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(data)
        received = await reader.read()  # until the server closes
        writer.close()
    if not received:
        return None
    return int(received.split(b" ", 2)[1])


@pytest.mark.parametrize(("data", "status"), MALFORMED.values(), ids=MALFORMED)
async def test_a_malformed_handshake_gets_its_status_quietly(
    data: bytes, status: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    """Each malformed handshake gets its answer, no 500, no warning or traceback."""
    caplog.set_level(logging.DEBUG)
    async with serving(hostile_app(), open_timeout=1) as url, probing(url):
        assert await answer(url, data) == status
    assert [
        r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
    ] == []
    assert "Traceback" not in caplog.text
    assert all(r.exc_info is None for r in caplog.records)


async def test_slowloris_handshakes_are_all_closed_by_open_timeout() -> None:
    """1,000 clients that trickle their handshake are all closed in time."""
    open_timeout = 1.0
    async with serving(hostile_app(), open_timeout=open_timeout) as url:
        host, _, port = url.removeprefix("ws://").partition(":")
        streams, opened = [], []
        for _ in range(1000):
            streams.append(await asyncio.open_connection(host, int(port)))
            opened.append(time.monotonic())
            streams[-1][1].write(b"GET /echo HTTP/1.1\r\n")

        async def trickle(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> float:
            """Send a byte of a header every 0.1 s; return when it was closed."""
            for _ in range(int(TIMEOUT / 0.1)):
                writer.write(b"X")
                try:
                    async with asyncio.timeout(0.1):
                        if not await reader.read(1024):
                            break
                except TimeoutError:
                    continue
                except ConnectionError:
                    break
            writer.close()
            return time.monotonic()

        async with probing(url), asyncio.timeout(TIMEOUT * 2):
            closed = await asyncio.gather(*(trickle(*stream) for stream in streams))
    assert max(c - o for c, o in zip(closed, opened, strict=True)) < open_timeout + 1.5


async def crash(port: int) -> None:
    """Open a connection to /crash; check it's closed with 1011, and close it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(handshake("/crash", host=f"127.0.0.1:{port}"))
        async with asyncio.timeout(TIMEOUT):
            await reader.readuntil(b"\r\n\r\n")
            head = await reader.readexactly(2)  # the server's close frame
            payload = await reader.readexactly(head[1] & 0x7F)
            assert (head[0], struct.unpack("!H", payload[:2])[0]) == (0x88, 1011)
            writer.write(close(1011))  # the closing handshake, as a client does
            assert await reader.read() == b""  # then the server closes TCP
    finally:
        writer.close()


async def crashes(port: int, count: int) -> None:
    """Make ``count`` connections to /crash, 50 at a time."""
    left = count

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await crash(port)

    await asyncio.gather(*(worker() for _ in range(50)))


async def test_10000_crashing_handlers_leave_no_memory_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """10,000 handlers crash beside a healthy client; memory comes back."""
    app = hostile_app()

    @app.route("/crash")
    async def crash_handler(ws: Connection) -> None:
        raise RuntimeError("a bug in the handler")

    async with serving(app, raise_server_exceptions=False) as url:
        port = int(url.rpartition(":")[2])
        await crashes(port, 500)  # caches, free lists, a first traceback
        gc.collect()
        # Python's count of its memory blocks, which RSS would blur: freed
        # memory goes back to the allocator, not always to the system.
        baseline = sys.getallocatedblocks()
        async with probing(url):
            await crashes(port, 10_000)
        gc.collect()
        after = sys.getallocatedblocks()
    assert after < baseline * 1.10, f"{baseline} blocks, then {after}"
    # One traceback, not 10,500: repeated errors are logged once a minute.
    assert caplog.text.count("Traceback") == 1
