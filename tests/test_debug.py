"""Tests of wsroute.debug: the handshake told step by step, and the route table."""

from __future__ import annotations

import asyncio
import logging
import re
import textwrap

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request
from websockets.typing import Origin, Subprotocol
from werkzeug.exceptions import Unauthorized

from wsroute import App, Connection, FirstMessageRouter, MessageRouter
from wsroute.debug import format_routes

from .conftest import TIMEOUT, exchange, handshake, serving


def steps(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The debug lines logged so far, without the client's address."""
    lines = [
        record.getMessage()
        for record in caplog.records
        if record.name == "wsroute.debug"
    ]
    return [re.sub(r"^127\.0\.0\.1:\d+ ", "", line) for line in lines]


def debug_app() -> App:
    """An app with a little of everything that a handshake can meet."""
    app = App(origins=["https://allowed.example"])

    def who(ws: Connection, request: Request) -> None:
        ws.user = request.headers.get("X-User")

    def only_users(ws: Connection, request: Request) -> None:
        if ws.user is None:
            raise Unauthorized("Who are you?")

    @app.route("/items/<int:id>", hooks=[who, only_users])
    async def item(ws: Connection, id: int) -> None:
        await ws.send(str(id))

    @app.route("/echo")
    async def echo(ws: Connection) -> None:
        async for message in ws:
            await ws.send(message)

    @app.route("/rooms/")
    async def rooms(ws: Connection) -> None:
        await ws.close(4000, "bye")

    game = FirstMessageRouter("game")

    @game.on("join")
    async def join(ws: Connection, message: object) -> None:
        await ws.send("joined")

    app.add_route("/game", game)
    rpc = MessageRouter("rpc")

    @rpc.on("add")
    async def add(ws: Connection, message: dict[str, int]) -> int:
        return message["a"] + message["b"]

    app.add_route("/rpc", rpc)

    @app.get("/health")
    def health(ws: Connection, request: Request) -> str:
        return "ok\n"

    return app


async def test_a_handshake_step_by_step(caplog: pytest.LogCaptureFixture) -> None:
    """Each step of an accepted handshake is told, and no query value."""
    caplog.set_level(logging.INFO, logger="wsroute.debug")
    async with serving(debug_app(), debug=True) as url:
        async with connect(
            f"{url}/items/3?token=secret&tag=a&tag=b",
            additional_headers={"X-User": "alice"},
            subprotocols=[Subprotocol("chat")],
        ) as ws:
            assert await ws.recv() == "3"
            await ws.wait_closed()
    host = url.removeprefix("ws://")
    assert steps(caplog) == [
        "GET /items/3 (query: token, tag)",
        f"  request: HTTP/1.1 GET, Host '{host}': fine",
        "  route: '/items/<int:id>' (endpoint 'item') matches: id=3 (int)",
        "  origin: no Origin header, so not a browser: fine",
        "  hook tests.test_debug.debug_app.<locals>.who: passes, user 'alice'",
        "  hook tests.test_debug.debug_app.<locals>.only_users: passes, user 'alice'",
        "  answer: 101 Switching Protocols; subprotocol: none; extensions: none",
        "  handler tests.test_debug.debug_app.<locals>.item: runs",
        "  closed: 1000 (OK), by the server",
    ]
    assert "secret" not in caplog.text
    assert "Debug mode: each handshake is logged step by step" in caplog.text


async def test_refusals_say_which_step_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refusal names its step, its status and its reason."""
    caplog.set_level(logging.INFO, logger="wsroute.debug")
    async with serving(debug_app(), debug=True) as url:
        status, _, _ = await exchange(url, handshake("/items/3"))
        assert status == 401
        status, _, _ = await exchange(
            url, handshake("/echo", Origin="https://evil.example")
        )
        assert status == 403
        status, _, _ = await exchange(url, handshake("/echo", host=None))
        assert status == 400
        status, headers, _ = await exchange(url, handshake("/rooms"))
        assert status == 308
    lines = steps(caplog)
    assert "  hook tests.test_debug.debug_app.<locals>.who: passes" in lines
    assert "  hook tests.test_debug.debug_app.<locals>.only_users: answers 401" in lines
    assert (
        "  origin: refused, 403 Forbidden: The Origin of the request isn't allowed."
        in lines
    )
    assert (
        "  request: refused, 400 Bad Request: The request has no Host header." in lines
    )
    assert f"  route: redirects to {headers['location']}" in lines
    answers = [line for line in lines if line.startswith("  answer:")]
    assert [answer.split()[1] for answer in answers] == ["401", "403", "400", "308"]


async def test_origins_are_explained(caplog: pytest.LogCaptureFixture) -> None:
    """An accepted Origin says why: the server's own, or allowed."""
    caplog.set_level(logging.INFO, logger="wsroute.debug")
    async with serving(debug_app(), debug=True) as url:
        port = url.rpartition(":")[2]
        for origin in (f"http://127.0.0.1:{port}", "https://allowed.example"):
            async with connect(f"{url}/echo", origin=Origin(origin)):
                pass
    origins = [line for line in steps(caplog) if line.startswith("  origin:")]
    assert origins == [
        f"  origin: http://127.0.0.1:{port} is the server's own: fine",
        "  origin: https://allowed.example is allowed by the route: fine",
    ]


async def test_a_404_lists_the_routes(caplog: pytest.LogCaptureFixture) -> None:
    """In debug mode, a 404 and the log list the app's routes."""
    caplog.set_level(logging.INFO, logger="wsroute.debug")
    app = debug_app()
    async with serving(app, debug=True) as url:
        with pytest.raises(InvalidStatus) as raised:
            async with connect(f"{url}/items/three?token=secret"):
                pass
    response = raised.value.response
    assert response.status_code == 404
    body = response.body.decode()
    assert body == (
        f"No route matches /items/three. The app's routes are:\n\n"
        f"{format_routes(app)}\n"
    )
    assert "  route: no rule matches /items/three" in steps(caplog)
    assert textwrap.indent(format_routes(app), "    ") in caplog.text
    assert "secret" not in caplog.text + body


async def test_without_debug_a_404_is_short(caplog: pytest.LogCaptureFixture) -> None:
    """Without debug mode, a 404 lists nothing and nothing is traced."""
    caplog.set_level(logging.INFO, logger="wsroute.debug")
    async with serving(debug_app()) as url:
        status, _, body = await exchange(url, handshake("/nowhere"))
    assert status == 404
    assert b"/echo" not in body
    assert steps(caplog) == []


async def test_message_routers_tell_their_choice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Message routers tell which handler a message picked, or why none."""
    caplog.set_level(logging.INFO, logger="wsroute.debug")
    async with serving(debug_app(), debug=True) as url:
        async with connect(f"{url}/game") as ws:
            await ws.send('{"type": "join"}')
            assert await ws.recv() == "joined"
        async with connect(f"{url}/game") as ws:
            await ws.send('{"type": "leave"}')
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        async with connect(f"{url}/rpc") as ws:
            await ws.send('{"type": "add", "a": 1, "b": 2}')
            assert await ws.recv() == '{"result":3}'
            await ws.send('{"type": "mul"}')
            assert "invalid_message" in str(await ws.recv())
    lines = steps(caplog)
    assert '  message: answered invalid_message, unknown type: "mul"' in lines
    assert (
        '  first message: type "join", so tests.test_debug.debug_app.<locals>.join'
        in lines
    )
    assert (
        "  closed: 1008 (policy violation) 'unknown type: \"leave\"', by the server"
        in lines
    )
    assert '  message: type "add", so tests.test_debug.debug_app.<locals>.add' in lines
    assert "  closed: 1000 (OK), by the client" in lines


async def test_closes_by_the_client_and_dropped_connections(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The close line says who closed, or that TCP dropped."""
    caplog.set_level(logging.INFO, logger="wsroute.debug")
    async with serving(debug_app(), debug=True) as url:
        async with connect(f"{url}/rooms/") as ws:
            await ws.wait_closed()
        async with connect(f"{url}/echo") as ws:
            ws.transport.abort()
        for _ in range(TIMEOUT * 100):  # the server notices the drop soon
            if any("TCP dropped" in line for line in steps(caplog)):
                break
            await asyncio.sleep(0.01)
    lines = steps(caplog)
    assert "  closed: 4000 (private use) 'bye', by the server" in lines
    assert (
        "  closed: 1006 (abnormal closure [internal]), by nobody: TCP dropped" in lines
    )


async def test_plain_http_and_refusals_by_websockets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Plain HTTP answers and websockets' own refusals are told too."""
    caplog.set_level(logging.INFO, logger="wsroute.debug")
    async with serving(debug_app(), debug=True) as url:
        status, _, body = await exchange(
            url, b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
        )
        assert (status, body) == (200, b"ok\n")
        status, _, _ = await exchange(
            url, b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n"
        )
        assert status == 426
    lines = steps(caplog)
    assert "  plain HTTP: served by tests.test_debug.debug_app.<locals>.health" in lines
    assert "  answer: 200 OK: ok" in lines
    assert any(line.startswith("  answer: 426 Upgrade Required: ") for line in lines)


@pytest.mark.parametrize(
    "request_bytes",
    [
        handshake("/echo"),
        handshake("/items/3", X_User="bob"),
        handshake("/items/3"),
        handshake("/items/x"),
        handshake("/nowhere"),
        handshake("/rooms"),
        handshake("/a/../echo"),
        handshake("/echo", host=None),
        handshake("/echo", host="bad host"),
        handshake("/echo", Origin="https://evil.example"),
        handshake("/echo", Origin="https://allowed.example"),
        handshake("/echo").replace(b"GET", b"POST", 1),
        handshake("/echo").replace(b"HTTP/1.1", b"HTTP/1.0", 1),
        b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ],
)
async def test_debug_mode_answers_as_the_normal_mode(request_bytes: bytes) -> None:
    """Debug mode answers each request with the same status and Location."""
    app = debug_app()
    answers = []
    for debug in (False, True):
        async with serving(app, debug=debug) as url:
            status, headers, _ = await exchange(url, request_bytes)
            answers.append((status, headers.get("location", "").split("/", 3)[-1]))
    assert answers[0] == answers[1]


def test_the_route_table_has_a_row_per_route() -> None:
    """The route table has a header, then a row per route, in order."""
    header, *rows = format_routes(debug_app()).splitlines()
    assert header.split() == ["rule", "endpoint", "handler", "hooks", "dispatch"]
    assert [row.split()[0] for row in rows] == [
        "/health",
        "/items/<int:id>",
        "/echo",
        "/rooms/",
        "/game",
        "/rpc",
    ]


class Unprintable:
    """A user whose repr() fails, as a detached database row's may."""

    def __repr__(self) -> str:
        raise RuntimeError("detached")


async def test_what_clients_send_stays_on_one_line_and_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bare token stays out; a reason with a newline can't forge a log line."""
    caplog.set_level(logging.INFO, logger="wsroute.debug")
    app = App()

    def who(ws: Connection, request: Request) -> None:
        ws.user = Unprintable()

    @app.route("/echo", hooks=[who])
    async def echo(ws: Connection) -> None:
        await ws.wait_closed()

    async with serving(app, debug=True) as url:
        async with connect(f"{url}/echo?eyJhbGciOiJIUzI1NiJ9.SECRET&x=1") as ws:
            await ws.close(4000, "bye\nCRITICAL forged")
    lines = steps(caplog)
    assert lines[0] == "GET /echo (query: ?, x)"
    assert "SECRET" not in caplog.text
    assert ".<locals>.who: passes, user <Unprintable instance at 0x" in lines[4]
    closed = "  closed: 4000 (private use) 'bye\\nCRITICAL forged', by the client"
    assert closed in lines
    assert not any(line.startswith("CRITICAL") for line in caplog.text.splitlines())
