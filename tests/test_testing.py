"""Tests of wsroute.testing: the test server and the test client."""

from __future__ import annotations

import contextlib
import json
import logging

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request

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
