"""Tests of wsroute.logs: credentials stay out of websockets' debug log."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.typing import Subprotocol

from wsroute import App, Connection
from wsroute.logs import LoopErrors, RedactingLogger, Repeats
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


def end_period(repeats: Repeats) -> None:
    """Make as if each error was last logged a period ago."""
    repeats.errors = {
        key: (logged - repeats.repeats_after, left_out)
        for key, (logged, left_out) in repeats.errors.items()
    }


def test_a_repeated_error_is_logged_once_a_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The same error on the same line shows its traceback once a period."""
    logger = RedactingLogger(logging.getLogger("tests.logs"), repeats_after=3600)
    caplog.set_level(logging.ERROR, logger="tests.logs")

    def fail(number: int) -> None:
        """Raise the same error, from the same line, whatever the number."""
        raise ValueError(f"bad {number}")

    for number in range(5):
        try:
            fail(number)
        except ValueError:
            logger.error("handler %s failed", "f", exc_info=True)
    try:
        raise KeyError("elsewhere")  # another line: logged too
    except KeyError:
        logger.error("handler %s failed", "f", exc_info=True)
    logger.error("no traceback")  # not throttled
    logger.error("no traceback")
    assert [record.getMessage() for record in caplog.records] == [
        "handler f failed",
        "handler f failed",
        "no traceback",
        "no traceback",
    ]
    # Once the period is over, the next one tells how many were left out.
    end_period(logger.repeats)
    try:
        fail(5)
    except ValueError:
        logger.error("handler %s failed", "f", exc_info=True)
    assert caplog.records[-1].getMessage() == (
        "handler f failed (and 4 times more since its last traceback)"
    )
    assert caplog.records[-1].exc_info is not None


async def test_the_event_loop_logs_a_repeated_error_once_a_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Errors of the event loop show a traceback once a period, by line."""
    loop = asyncio.get_running_loop()
    handler = LoopErrors(repeats_after=3600)
    caplog.set_level(logging.ERROR, logger="asyncio")

    def fail() -> None:
        raise OSError(24, "Too many open files")

    for _ in range(5):
        try:
            fail()
        except OSError as exc:
            handler(loop, {"message": "socket.accept() failed", "exception": exc})
    handler(loop, {"message": "no exception"})  # not throttled
    handler(loop, {"message": "no exception"})
    assert [record.getMessage() for record in caplog.records] == [
        "socket.accept() failed",
        "no exception",
        "no exception",
    ]
    end_period(handler.repeats)
    try:
        fail()
    except OSError as exc:
        handler(loop, {"message": "socket.accept() failed", "exception": exc})
    assert caplog.records[-1].getMessage() == (
        "socket.accept() failed (and 4 times more since its last traceback)"
    )
    assert caplog.records[-1].exc_info is not None


async def test_a_handler_that_crashes_for_everyone_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Ten connections crash the same handler: one traceback, ten 1011s."""
    app = App()

    @app.route("/broken")
    async def broken(ws: Connection) -> None:
        raise RuntimeError("a bug")

    caplog.set_level(logging.ERROR)
    async with TestServer(app, raise_server_exceptions=False) as server:
        for _ in range(10):
            async with server.connect("/broken") as ws:
                await ws.wait_closed()
                assert ws.close_code == 1011
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.exc_info is not None for record in errors] == [True]
    assert "handler tests.test_logs" in errors[0].getMessage()


def test_errors_without_a_traceback_repeat_by_message_and_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception never raised has no line: its message and type count."""
    logger = RedactingLogger(logging.getLogger("tests.logs"))
    caplog.set_level(logging.ERROR, logger="tests.logs")
    logger.error("unraised", exc_info=ValueError("never raised"))
    logger.error("unraised", exc_info=ValueError("never raised"))
    logger.error("outside an except block", exc_info=True)
    assert [record.getMessage() for record in caplog.records] == [
        "unraised",
        "outside an except block",
    ]
