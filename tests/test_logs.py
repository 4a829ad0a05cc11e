"""Tests of wsroute.logs: credentials stay out of websockets' debug log."""

from __future__ import annotations

import logging

import pytest
from websockets.typing import Subprotocol

from wsroute import App, Connection
from wsroute.logs import RedactingLogger
from wsroute.testing import TestServer


async def test_debug_lines_keep_credentials_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """At DEBUG level: no query, cookie, token or first message is logged."""
    caplog.set_level(logging.DEBUG, logger="websockets")
    app = App()

    @app.route("/echo")
    async def echo(ws: Connection) -> None:
        async for message in ws:
            await ws.send(message)

    async with TestServer(app) as server:
        async with server.connect(
            "/echo",
            query={"token": "query-s3cret"},
            cookies={"session": "cookie-s3cret"},
            headers={"Authorization": "Bearer header-s3cret"},
            subprotocols=[Subprotocol("token.protocol-s3cret")],
        ) as ws:
            await ws.send('{"token": "message-s3cret"}')
            assert await ws.recv() == '{"token": "message-s3cret"}'
    records = [r for r in caplog.records if r.name == "websockets.server"]
    lines = [record.getMessage() for record in records]
    assert not any("s3cret" in line for line in lines)
    assert "< GET /echo HTTP/1.1" in lines
    assert "< Cookie: [redacted]" in lines
    assert "< Authorization: [redacted]" in lines
    assert "< Sec-WebSocket-Protocol: [redacted]" in lines
    assert "< TEXT [27 bytes]" in lines
    assert "> TEXT [27 bytes]" in lines
    assert "< Host: 127.0.0.1:" + str(server.port) in lines  # others stay


def test_debug_tracebacks_become_one_line(caplog: pytest.LogCaptureFixture) -> None:
    """A DEBUG record with exc_info ends with the exception instead."""
    logger = RedactingLogger(logging.getLogger("tests.logs"))
    caplog.set_level(logging.DEBUG, logger="tests.logs")
    cause = ValueError("line too long")
    error = RuntimeError("did not receive a valid HTTP request")
    error.__cause__ = cause
    try:
        raise error
    except RuntimeError:
        logger.debug("! invalid handshake", exc_info=True)
    logger.debug("! %s", "named", exc_info=error)
    logger.debug("! as a tuple", exc_info=(KeyError, KeyError(), None))
    logger.debug("! nothing", exc_info=True)  # outside an except block
    logger.info("kept", exc_info=cause)
    assert [record.getMessage() for record in caplog.records] == [
        "! invalid handshake: did not receive a valid HTTP request: line too long",
        "! named: did not receive a valid HTTP request: line too long",
        "! as a tuple: KeyError",
        "! nothing: no exception",
        "kept",
    ]
    assert [record.exc_info is None for record in caplog.records] == [
        *[True] * 4,
        False,
    ]
