"""Tests of wsroute.testing: the test server and the test client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request
from werkzeug.http import parse_cookie

from examples.app import echo
from wsroute import App, Connection
from wsroute.testing import TestClient, TestServer


def app_under_test() -> App:
    app = App()
    app.add_route("/echo", echo)

    @app.route("/request")
    async def describe(ws: Connection) -> None:
        await ws.send_json(
            {
                "query": ws.query.to_dict(flat=False),
                "token": ws.request.headers.get("X-Token"),  # type: ignore[union-attr]
                "cookie": ws.request.headers.get("Cookie"),  # type: ignore[union-attr]
                "origin": ws.request.headers.get("Origin"),  # type: ignore[union-attr]
                "subprotocol": ws.subprotocol,
            }
        )

    @app.route("/crash")
    async def crash(ws: Connection) -> None:
        raise ZeroDivisionError("bug in the handler")

    def broken_hook(ws: Connection, request: Request) -> None:
        raise KeyError("bug in the hook")

    app.add_route("/hooked", echo, endpoint="hooked", hooks=[broken_hook])
    return app


async def test_test_server_connects_real_clients() -> None:
    """Path, query, headers, cookies, subprotocols and Origin are settable."""
    async with TestServer(app_under_test(), subprotocols=["chat"]) as server:
        assert server.url == f"ws://127.0.0.1:{server.port}"
        async with server.connect(
            "/request",
            query={"tag": ["a", "b"], "q": "x"},
            headers={"X-Token": "t"},
            cookies={"session": "s", "theme": "dark"},
            subprotocols=["chat"],
            origin=server.url.replace("ws://", "http://"),
        ) as ws:
            assert json.loads(await ws.recv()) == {
                "query": {"tag": ["a", "b"], "q": ["x"]},
                "token": "t",
                "cookie": "session=s; theme=dark",
                "origin": server.url.replace("ws://", "http://"),
                "subprotocol": "chat",
            }


async def visit(path: str) -> None:
    """Serve the app while a client visits a path, whatever the answer."""
    async with TestServer(app_under_test()) as server:
        with contextlib.suppress(InvalidStatus):  # a hook's crash answers 500
            async with server.connect(path) as ws:
                await ws.wait_closed()


@pytest.mark.parametrize(
    ("path", "error"), [("/crash", ZeroDivisionError), ("/hooked", KeyError)]
)
async def test_server_exceptions_fail_the_test(
    path: str, error: type[Exception], caplog: pytest.LogCaptureFixture
) -> None:
    """A crash in a handler or a hook is raised when the block ends."""
    with pytest.raises(error):
        await visit(path)
    # The crash is also logged, as outside tests.
    assert [r.levelno for r in caplog.records if r.levelno >= logging.ERROR] == [
        logging.ERROR
    ]


async def test_server_exceptions_can_be_expected() -> None:
    """raise_server_exceptions=False lets a test check crashes itself."""
    async with TestServer(app_under_test(), raise_server_exceptions=False) as server:
        async with server.connect("/crash") as ws:
            await ws.wait_closed()
            assert ws.close_code == 1011
    assert [type(exc) for exc in server.exceptions] == [ZeroDivisionError]


async def fail_beside_a_crash() -> None:
    """Fail in the test while the server crashed too."""
    async with TestServer(app_under_test()) as server:
        async with server.connect("/crash") as ws:
            await ws.wait_closed()
        raise AssertionError("the test's own")


async def test_an_error_in_the_test_comes_first() -> None:
    """When the test itself fails, its error wins over the server's."""
    with pytest.raises(AssertionError, match="the test's own"):
        await fail_beside_a_crash()


def test_test_client_for_plain_tests() -> None:
    """The synchronous client serves the app from a thread."""
    with TestClient(app_under_test()) as client:
        with client.connect("/echo") as ws:
            ws.send("hello")
            assert ws.recv() == "hello"
        with client.connect("/request", query={"q": "1"}) as ws:
            assert json.loads(ws.recv())["query"] == {"q": ["1"]}


def visit_synchronously(path: str) -> None:
    """Serve the app from a thread while a client visits a path."""
    with TestClient(app_under_test()) as client, client.connect(path) as ws:
        with contextlib.suppress(ConnectionClosed):
            ws.recv()


def test_test_client_raises_server_exceptions() -> None:
    """The synchronous client surfaces crashes too."""
    with pytest.raises(ZeroDivisionError):
        visit_synchronously("/crash")


def test_test_client_cleans_up_when_startup_fails() -> None:
    """A startup hook's error leaves no thread behind."""
    app = app_under_test()

    @app.on_startup
    def fail() -> None:
        raise OSError("no database")

    before = threading.active_count()
    for _ in range(3):
        with pytest.raises(OSError, match="no database"), TestClient(app):
            pass
    assert threading.active_count() == before


async def fail_on_the_closed_connection() -> None:
    """Fail in the test because the server crashed."""
    async with TestServer(app_under_test()) as server:
        async with server.connect("/crash") as ws:
            await ws.recv()


async def test_the_server_exception_is_noted_on_the_test_failure() -> None:
    """When a crash makes the test fail, the crash is attached as a note."""
    with pytest.raises(ConnectionClosed) as info:
        await fail_on_the_closed_connection()
    assert "ZeroDivisionError: bug in the handler" in "".join(info.value.__notes__)


async def test_crashes_are_caught_whatever_the_log_level() -> None:
    """Quietening websockets' logger doesn't hide crashes from the test."""
    logger = logging.getLogger("websockets")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with pytest.raises(ZeroDivisionError):
            await visit("/crash")
    finally:
        logger.setLevel(level)


async def test_a_handler_that_never_ends_doesnt_hang_the_test(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Handlers still running after shutdown_timeout are cancelled."""
    app = App()

    @app.route("/forever")
    async def forever(ws: Connection) -> None:
        await asyncio.sleep(3600)

    async with TestServer(app, shutdown_timeout=0.1) as server:
        async with server.connect("/forever"):
            pass
    assert "Cancelling what's left: 1 running handlers" in caplog.text


async def test_cookies_and_queries_are_encoded() -> None:
    """Cookie values are quoted when needed; a query adds to the path's."""
    async with TestServer(app_under_test()) as server:
        async with server.connect(
            "/request?a=1", query={"b": "2"}, cookies={"session": "a;b=c d"}
        ) as ws:
            answer = json.loads(await ws.recv())
    assert answer["query"] == {"a": ["1"], "b": ["2"]}
    assert parse_cookie(answer["cookie"])["session"] == "a;b=c d"


async def test_a_logger_option_still_catches_crashes() -> None:
    """Given a logger, the test server logs there and still raises crashes."""
    with pytest.raises(ZeroDivisionError):
        async with (
            TestServer(
                app_under_test(), logger=logging.getLogger("my.tests")
            ) as server,
            server.connect("/crash") as ws,
        ):
            await ws.wait_closed()
