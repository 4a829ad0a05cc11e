"""Frame-level faults: wsroute closes as bare websockets does, quietly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from wsroute import App, Connection, Limits

from .conftest import TIMEOUT, handshake, probing, serving

MAX_SIZE = 1000
TEXT, BINARY, CONT, CLOSE, PING = 0x1, 0x2, 0x0, 0x8, 0x9


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    length: bytes | None = None,
) -> bytes:
    """Build a client frame, valid or not, byte by byte."""
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    mask_bit = 0x80 if masked else 0
    if length is not None:  # a length field written by hand
        head += bytes([mask_bit | length[0]]) + length[1:]
    elif len(payload) < 126:
        head += bytes([mask_bit | len(payload)])
    elif len(payload) < 2**16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", len(payload))
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", len(payload))
    if not masked:
        return head + payload
    mask = b"\x12\x34\x56\x78"
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close(code: int, reason: bytes = b"") -> bytes:
    """A close frame with a code and a reason."""
    return frame(CLOSE, struct.pack("!H", code) + reason)


CASES = {
    "unmasked frame": frame(TEXT, b"hi", masked=False),
    "RSV1 without an extension": frame(TEXT, b"hi", rsv=4),
    "RSV2": frame(TEXT, b"hi", rsv=2),
    "RSV3": frame(TEXT, b"hi", rsv=1),
    "reserved data opcode 3": frame(0x3, b"hi"),
    "reserved control opcode 11": frame(0xB, b"hi"),
    "ping over 125 bytes": frame(PING, b"x" * 126),
    "fragmented ping": frame(PING, b"hi", fin=False),
    "close with one byte": frame(CLOSE, b"\x03"),
    "close code 999": close(999),
    "close code 1004": close(1004),
    "close code 1005": close(1005),
    "close code 1006": close(1006),
    "close code 5000": close(5000),
    "close reason not UTF-8": close(1000, b"\xff\xfe"),
    "text not UTF-8": frame(TEXT, b"caf\xc3"),
    "text not UTF-8 across fragments": frame(TEXT, b"caf\xc3", fin=False)
    + frame(CONT, b"\x28"),
    "continuation without a start": frame(CONT, b"hi"),
    "text inside a fragmented message": frame(TEXT, b"a", fin=False)
    + frame(TEXT, b"b"),
    "message over max_size": frame(TEXT, b"x" * (MAX_SIZE + 1)),
    "fragments over max_size together": frame(BINARY, b"x" * 600, fin=False)
    + frame(CONT, b"x" * 600),
    "length with its top bit set": frame(
        BINARY, length=b"\x7f" + b"\x80" + b"\x00" * 7
    ),
    "close 1000": close(1000),
    "close 4000 with a reason": close(4000, b"bye"),
    "empty close": frame(CLOSE),
    "ping, then close": frame(PING, b"hi") + close(1000),
    "binary fragments, then close": frame(BINARY, b"\xff", fin=False)
    + frame(CONT, b"\xfe")
    + close(1001),
    "non-minimal length, then close": frame(TEXT, b"hello", length=b"\x7e\x00\x05")
    + close(1000),
}


async def close_code(port: int, data: bytes) -> int | str | None:
    """Send a handshake then ``data``; return the server's close code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(handshake("/echo", host=f"127.0.0.1:{port}"))
        async with asyncio.timeout(TIMEOUT):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(data)
            while True:
                try:
                    head = await reader.readexactly(2)
                except asyncio.IncompleteReadError:
                    return "EOF without a close frame"
                length = head[1] & 0x7F
                if length == 126:
                    length = struct.unpack("!H", await reader.readexactly(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", await reader.readexactly(8))[0]
                payload = await reader.readexactly(length)
                if head[0] & 0x0F == CLOSE:
                    return struct.unpack("!H", payload[:2])[0] if payload else None
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def bare_websockets() -> AsyncIterator[int]:
    """Serve bare websockets, echoing; yield its port."""

    async def echo(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                await ws.send(message)

    async with serve(echo, "127.0.0.1", 0, max_size=MAX_SIZE) as server:
        yield server.sockets[0].getsockname()[1]


def echo_app() -> App:
    """A wsroute app that echoes on /echo, as handlers are usually written."""
    app = App(limits=Limits(rate=None))

    @app.route("/echo")
    async def echo(ws: Connection) -> None:
        async for message in ws:
            await ws.send(message)

    return app


@pytest.fixture(scope="module")
def oracle() -> dict[str, int | str | None]:
    """What bare websockets closes with, for each case."""

    async def codes() -> dict[str, int | str | None]:
        async with bare_websockets() as port:
            return {name: await close_code(port, data) for name, data in CASES.items()}

    return asyncio.run(codes())


def test_the_corpus_has_25_cases_and_more(
    oracle: dict[str, int | str | None],
) -> None:
    """At least 25 cases, which bare websockets closes with varied codes."""
    assert len(CASES) >= 25
    assert set(oracle.values()) == {1000, 1001, 1002, 1007, 1009, 4000, None}


@pytest.mark.parametrize("name", CASES)
async def test_wsroute_closes_as_bare_websockets_does(
    name: str,
    oracle: dict[str, int | str | None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each faulty frame gets websockets' close code, and no error is logged."""
    caplog.set_level(logging.INFO)
    async with serving(echo_app(), max_size=MAX_SIZE) as url:
        port = int(url.rpartition(":")[2])
        async with probing(url):
            assert await close_code(port, CASES[name]) == oracle[name]
    assert [
        r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
    ] == []
