"""Tests of wsroute.http: plain HTTP answers beside WebSocket routes."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.http11 import Request, Response
from werkzeug.exceptions import ServiceUnavailable

from examples.app import echo
from wsroute import App, Connection, SetupError
from wsroute.http import page

from .conftest import exchange, handshake, serving


def plain_get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()


def http_app(tmp_path: Path) -> App:
    app = App()
    app.add_route("/echo", echo)
    healthy = [True]

    @app.get("/health")
    def health(ws: Connection, request: Request) -> str:
        if not healthy[0]:
            raise ServiceUnavailable("draining")
        healthy[0] = "flip" not in request.path
        return "ok\n"

    @app.get("/slow")
    async def slow(ws: Connection, request: Request) -> Response:
        await asyncio.sleep(0)
        response = ws.respond(202, "later\n")
        response.headers["X-Later"] = "yes"
        return response

    @app.get("/broken")
    def broken(ws: Connection, request: Request) -> str:
        raise KeyError("bug")

    (tmp_path / "index.html").write_text("<h1>été</h1>")
    app.get("/")(page(tmp_path / "index.html"))
    app.get("/data")(page(tmp_path / "index.html", "application/x-demo"))
    return app


async def test_plain_gets_are_answered(tmp_path: Path) -> None:
    """Text, responses and pages answer GETs; WebSockets are unaffected."""
    async with serving(http_app(tmp_path)) as url:
        status, headers, body = await exchange(url, plain_get("/health?flip"))
        assert (status, headers["content-type"], body) == (
            200,
            "text/plain; charset=utf-8",
            b"ok\n",
        )
        status, _, body = await exchange(url, plain_get("/health"))
        assert (status, body) == (503, b"draining\n")
        status, headers, body = await exchange(url, plain_get("/slow"))
        assert (status, headers["x-later"], body) == (202, "yes", b"later\n")
        status, headers, body = await exchange(url, plain_get("/"))
        assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8")
        assert body.decode() == "<h1>été</h1>"
        assert headers["content-length"] == str(len(body))
        _, headers, _ = await exchange(url, plain_get("/data"))
        assert headers["content-type"] == "application/x-demo"
        # WebSocket routes still answer 426 to plain GETs, and 404 elsewhere.
        assert (await exchange(url, plain_get("/echo")))[0] == 426
        assert (await exchange(url, plain_get("/nowhere")))[0] == 404
        async with connect(f"{url}/echo") as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"


async def test_http_routes_dont_answer_websocket_handshakes(tmp_path: Path) -> None:
    """A handshake for an HTTP route's path goes to the WebSocket routes: 404."""
    async with serving(http_app(tmp_path)) as url:
        assert (await exchange(url, handshake("/health")))[0] == 404


async def test_a_crashing_http_handler_gets_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An HTTP handler's exception is logged without the query; 500."""
    async with serving(http_app(tmp_path), raise_server_exceptions=False) as url:
        assert (await exchange(url, plain_get("/broken?token=secret")))[0] == 500
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage().endswith("broken failed on /broken")
    assert "secret" not in caplog.text


@pytest.mark.parametrize("path", ["health", "/items/<int:id>", "/a?b"])
def test_http_route_paths_are_plain(path: str) -> None:
    """HTTP routes take plain paths only."""
    app = App()
    with pytest.raises(SetupError, match="give a plain path"):
        app.add_http_route(path, lambda ws, request: "")


def test_http_route_paths_are_unique() -> None:
    """One handler per path."""
    app = App()
    app.add_http_route("/health", lambda ws, request: "")
    with pytest.raises(SetupError, match="already served by"):
        app.add_http_route("/health", lambda ws, request: "")
