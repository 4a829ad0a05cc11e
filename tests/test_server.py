"""Tests of wsroute.server: HTTP answers, the error boundary, options."""

from __future__ import annotations

import asyncio
import http.client
import logging
import pathlib
import ssl
import tempfile
from typing import Any

import pytest
from websockets.asyncio.client import connect, unix_connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus
from websockets.http11 import Request, Response
from websockets.typing import Origin, Subprotocol

from examples.app import echo
from wsroute import App, CloseConnection, Connection

from .conftest import TIMEOUT, exchange, handshake, port_of, serving

CERT = pathlib.Path(__file__).with_name("localhost.pem")


def make_app() -> App:
    app = App()
    app.add_route("/echo", echo)

    @app.route("/dir/")
    async def directory(ws: Connection) -> None:
        await ws.send(ws.request.path)  # type: ignore[union-attr]

    @app.route("/a/b")
    async def ab(ws: Connection) -> None:
        await ws.send("a/b")

    app.add_route("/old", redirect_to="/dir/")
    return app


async def http_get(
    url: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """GET ``path`` with the standard library's HTTP client."""

    def get() -> tuple[int, http.client.HTTPMessage, bytes]:
        host, _, port = url.removeprefix("ws://").partition(":")
        client = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
        try:
            client.request("GET", path, headers=headers or {})
            response = client.getresponse()
            return response.status, response.headers, response.read()
        finally:
            client.close()

    return await asyncio.to_thread(get)


# Answers before the handshake


async def test_unknown_path_gets_404() -> None:
    """An unknown path is answered 404 and the WebSocket never opens."""
    async with serving(make_app()) as url:
        with pytest.raises(InvalidStatus) as info:
            await connect(f"{url}/nowhere", open_timeout=TIMEOUT)
        assert info.value.response.status_code == 404
        status, _, body = await http_get(url, "/nowhere")
        assert status == 404
        assert b"not found" in body


async def test_missing_trailing_slash_redirects() -> None:
    """/dir redirects to /dir/ with a ws:// Location; clients follow it."""
    async with serving(make_app()) as url:
        status, headers, _ = await http_get(url, "/dir?x=1")
        assert status == 308
        assert headers["Location"] == f"{url}/dir/?x=1"
        async with connect(f"{url}/dir?x=1", open_timeout=TIMEOUT) as ws:
            assert await ws.recv() == "/dir/?x=1"


async def test_redirect_rule() -> None:
    """A redirect_to rule answers with a redirect."""
    async with serving(make_app()) as url:
        status, headers, _ = await http_get(url, "/old")
        assert (status, headers["Location"]) == (308, f"{url}/dir/")


async def test_merged_slashes_redirect() -> None:
    """/a//b redirects to /a/b."""
    async with serving(make_app()) as url:
        status, headers, _ = await http_get(url, "/a//b")
        assert (status, headers["Location"]) == (308, f"{url}/a/b")


async def test_redirect_behind_a_tls_proxy() -> None:
    """server_name and ssl=True make wss:// redirects to the public name."""
    async with serving(make_app(), server_name="example.com", ssl=True) as url:
        status, headers, _ = await http_get(url, "/dir")
        assert (status, headers["Location"]) == (308, "wss://example.com/dir/")
        async with connect(f"{url}/a/b", open_timeout=TIMEOUT) as ws:
            assert await ws.recv() == "a/b"  # the server itself speaks plain TCP


async def test_absolute_form_request_target() -> None:
    """A request for ws://host/path is routed on its path."""
    async with serving(make_app()) as url:
        status, _, _ = await exchange(url, handshake(f"{url}/a/b"))
        assert status == 101


async def test_plain_get_gets_426() -> None:
    """A GET without Upgrade on a route is answered 426 Upgrade Required."""
    async with serving(make_app()) as url:
        status, headers, body = await http_get(url, "/echo")
        assert status == 426
        assert headers["Upgrade"] == "websocket"
        assert b"You need a WebSocket client" in body


@pytest.mark.parametrize(
    ("request_bytes", "status", "message"),
    [
        (handshake("/echo", host=None), 400, b"no Host header"),
        (handshake("/echo", Host="other"), 400, b"several Host headers"),
        (handshake("/echo", host="a b"), 400, b"isn't a valid host"),
        (handshake("/echo", host="/evil"), 400, b"isn't a valid host"),
        (handshake("/echo", host="a..b"), 400, b"isn't a valid host"),
        (handshake("/echo", host="a" * 64), 400, b"isn't a valid host"),
        (handshake("/echo").replace(b"HTTP/1.1", b"HTTP/1.0"), 505, b"HTTP/1.1"),
        (handshake("/echo").replace(b"GET", b"POST"), 405, b"uses GET"),
        (handshake("/files/../secret"), 400, b"'..' segment"),
        (handshake("/files/%2e%2e/secret"), 400, b"'..' segment"),
        (handshake("/files/a%00b"), 400, b"NUL"),
        (handshake("/files/%ff"), 400, b"UTF-8"),
    ],
)
async def test_bad_requests_get_a_clear_status(
    request_bytes: bytes, status: int, message: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Malformed handshakes get 4xx/5xx, are logged quietly, and harm no one."""
    app = make_app()

    @app.route("/files/<path:name>")
    async def files(ws: Connection, name: str) -> None:
        raise AssertionError("never reached")

    async with serving(app) as url:
        answer = await exchange(url, request_bytes)
        assert answer[0] == status
        assert message in answer[2]
        if status == 405:
            assert answer[1]["allow"] == "GET"
        async with connect(f"{url}/echo", open_timeout=TIMEOUT) as ws:
            await ws.send("still serving")
            assert await ws.recv() == "still serving"
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


# The error boundary


async def test_handler_crash_closes_1011_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A crash is logged with its traceback, without the query string; 1011."""
    app = make_app()

    @app.route("/crash")
    async def crash(ws: Connection) -> None:
        raise ZeroDivisionError("oops")

    async with serving(app, raise_server_exceptions=False) as url:
        async with connect(f"{url}/echo", open_timeout=TIMEOUT) as other:
            async with connect(f"{url}/crash?token=secret") as ws:
                with pytest.raises(ConnectionClosedError) as info:
                    await ws.recv()
                assert info.value.rcvd is not None
                assert (info.value.rcvd.code, info.value.rcvd.reason) == (1011, "")
            await other.send("unharmed")
            assert await other.recv() == "unharmed"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].getMessage().endswith("crash failed on /crash")
    assert errors[0].exc_info is not None
    assert "secret" not in caplog.text


async def test_client_closing_with_an_error_code_is_a_normal_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ConnectionClosedError in `async for` isn't logged as a crash."""
    async with serving(make_app()) as url:
        async with connect(f"{url}/echo", open_timeout=TIMEOUT) as ws:
            await ws.send("hi")
            await ws.recv()
            await ws.close(4000, "bye")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_connection_closed_from_elsewhere_is_a_crash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ConnectionClosed raised while this connection is open is a bug: 1011."""
    app = App()

    @app.route("/bad")
    async def bad(ws: Connection) -> None:
        raise ConnectionClosed(None, None)

    async with (
        serving(app, raise_server_exceptions=False) as url,
        connect(f"{url}/bad") as ws,
    ):
        with pytest.raises(ConnectionClosedError):
            await ws.recv()
        assert ws.close_code == 1011
    assert "bad failed on /bad" in caplog.text


async def test_task_group_ending_with_the_connection_is_normal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ConnectionClosed wrapped in an ExceptionGroup is a normal end too."""
    app = App()

    @app.route("/chat")
    async def chat(ws: Connection) -> None:
        async def tick() -> None:
            for number in range(100):  # bounded: the client leaves first
                await ws.send(str(number))
                await asyncio.sleep(0.01)

        async with asyncio.TaskGroup() as group:
            group.create_task(tick())
            group.create_task(echo(ws))

    async with serving(app) as url, connect(f"{url}/chat") as ws:
        assert await ws.recv() == "0"
        await ws.close(4000)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_task_group_close_connection() -> None:
    """CloseConnection wrapped in an ExceptionGroup closes with its code."""
    app = App()

    @app.route("/json")
    async def read_json(ws: Connection) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(ws.recv_json())
            group.create_task(asyncio.sleep(10))

    async with serving(app) as url, connect(f"{url}/json") as ws:
        await ws.send("not json")
        await ws.wait_closed()
        assert (ws.close_code, ws.close_reason) == (1007, "invalid JSON")


async def test_task_group_with_a_crash_is_a_crash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One crash in a group makes the whole group a crash: 1011, logged."""
    app = App()

    @app.route("/mixed")
    async def mixed(ws: Connection) -> None:
        async def fail() -> None:
            raise CloseConnection(4000)

        async with asyncio.TaskGroup() as group:
            group.create_task(fail())
            group.create_task(asyncio.sleep(0))
            raise KeyError("bug")

    async with (
        serving(app, raise_server_exceptions=False) as url,
        connect(f"{url}/mixed") as ws,
    ):
        await ws.wait_closed()
        assert ws.close_code == 1011
    assert "mixed failed on /mixed" in caplog.text


async def test_close_connection_closes_with_code_and_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """CloseConnection closes with its code and reason, and logs nothing."""
    app = App()

    @app.route("/game/<int:id>")
    async def game(ws: Connection, id: int) -> None:
        raise CloseConnection(4004, f"no game {id}")

    async with serving(app) as url, connect(f"{url}/game/7") as ws:
        with pytest.raises(ConnectionClosedError):
            await ws.recv()
        assert (ws.close_code, ws.close_reason) == (4004, "no game 7")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_close_connection_checks_its_arguments() -> None:
    """A close code that can't be sent, or a reason too long, is refused."""
    assert str(CloseConnection()) == "1008"
    assert str(CloseConnection(1000, "done")) == "1000 done"
    with pytest.raises(ValueError, match="close code 1006 can't be sent"):
        CloseConnection(1006)
    assert CloseConnection(4000, "x" * 124).reason == "x" * 123
    assert CloseConnection(4000, "é" * 62).reason == "é" * 61  # not half of one
    assert CloseConnection(4000, "\udc80").reason == "?"  # a lone surrogate


# Options


async def test_websockets_options_pass_through() -> None:
    """max_size, compression, subprotocols and origins reach websockets."""
    options: dict[str, Any] = {
        "max_size": 10,
        "compression": None,
        "subprotocols": ["chat"],
        "origins": ["https://good.example"],  # websockets' own check
    }
    app = make_app()
    app.origins.append("https://good.example")  # wsroute's check
    async with serving(app, **options) as url:
        async with connect(
            f"{url}/echo",
            subprotocols=[Subprotocol("chat")],
            origin=Origin("https://good.example"),
        ) as ws:
            assert ws.subprotocol == "chat"
            assert ws.response.headers.get("Sec-WebSocket-Extensions") is None  # type: ignore[union-attr]
            await ws.send("x" * 11)
            with pytest.raises(ConnectionClosedError):
                await ws.recv()
            assert ws.close_code == 1009
        with pytest.raises(InvalidStatus) as info:
            await connect(f"{url}/echo", origin=Origin("https://evil.example"))
        assert info.value.response.status_code == 403


async def test_process_request_runs_after_routing() -> None:
    """A process_request option sees the matched route and can answer."""
    seen: list[str] = []

    async def process_request(
        connection: ServerConnection, request: Request
    ) -> Response | None:
        assert isinstance(connection, Connection)
        seen.append(connection.endpoint)
        if connection.endpoint == "ab":
            return connection.respond(403, "Forbidden\n")
        return None

    async with serving(make_app(), process_request=process_request) as url:
        async with connect(f"{url}/echo") as ws:
            await ws.send("ok")
            assert await ws.recv() == "ok"
        with pytest.raises(InvalidStatus) as info:
            await connect(f"{url}/a/b")
        assert info.value.response.status_code == 403
        with pytest.raises(InvalidStatus):
            await connect(f"{url}/nowhere")
    assert seen == ["echo", "ab"]


async def test_sync_process_request() -> None:
    """A plain function works as process_request too."""

    def process_request(connection: ServerConnection, request: Request) -> None:
        return None

    async with serving(make_app(), process_request=process_request) as url:
        async with connect(f"{url}/a/b") as ws:
            assert await ws.recv() == "a/b"


async def test_create_connection_subclass() -> None:
    """A Connection subclass can replace the connection class."""

    class Custom(Connection):
        pass

    app = App()

    @app.route("/")
    async def kind(ws: Connection) -> None:
        await ws.send(type(ws).__name__)

    async with serving(app, create_connection=Custom) as url, connect(url) as ws:
        assert await ws.recv() == "Custom"
    with pytest.raises(TypeError, match=r"subclass of wsroute\.Connection"):
        async with app.serve("127.0.0.1", 0, create_connection=ServerConnection):
            pass


async def test_unix_socket() -> None:
    """unix=True and path= serve on a Unix socket."""
    with tempfile.TemporaryDirectory() as directory:
        path = f"{directory}/app.sock"
        async with make_app().serve(unix=True, path=path):
            async with unix_connect(path, uri="ws://localhost/a/b") as ws:
                assert await ws.recv() == "a/b"


async def test_tls() -> None:
    """An SSLContext serves wss://; URLs are built with wss."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(CERT)
    client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_context.load_verify_locations(CERT)
    app = App()

    @app.route("/where")
    async def where(ws: Connection) -> None:
        await ws.send(ws.url_for("where"))

    async with app.serve("localhost", 0, ssl=server_context) as server:
        uri = f"wss://localhost:{port_of(server)}/where"
        async with connect(uri, ssl=client_context) as ws:
            assert await ws.recv() == uri
