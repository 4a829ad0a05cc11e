"""Tests of edge cases that reviews turned up, across modules."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.http11 import Request

from examples.app import echo
from wsroute import App, CloseConnection, Connection, FirstMessageRouter, MessageRouter
from wsroute.auth import BearerToken, CookieToken, QueryToken
from wsroute.server import serve_until_stopped

from .conftest import exchange, handshake, serving


def errors_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# JSON


def odd_rpc_app() -> App:
    app = App()
    rpc = MessageRouter("rpc", key=lambda message: json.loads(message)["type"])

    @rpc.on("nan")
    async def nan(ws: Connection, message: str) -> float:
        return float("nan")

    @rpc.on("set")
    async def a_set(ws: Connection, message: str) -> Any:
        return {1, 2}

    app.add_route("/rpc", rpc)
    strict = MessageRouter("strict")

    @strict.on(1)
    async def one(ws: Connection, message: dict[str, Any]) -> str:
        return "one"

    app.add_route("/strict", strict)
    return app


async def test_values_json_cant_encode_get_an_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A reply JSON can't encode, or a key function that raises, is logged."""
    async with (
        serving(odd_rpc_app(), raise_server_exceptions=False) as url,
        connect(f"{url}/rpc") as ws,
    ):
        for message in ['{"type": "nan"}', '{"type": "set"}', "not json"]:
            await ws.send(message)
            reply = json.loads(await ws.recv())
            assert reply == {
                "error": {"code": "internal_error", "message": "internal error"}
            }
    errors = errors_in(caplog)
    assert len(errors) == 3
    assert errors[0].endswith("nan returned a value that JSON can't encode on /rpc")
    assert errors[2].endswith("<lambda> failed on /rpc")


async def test_numbers_too_large_for_a_float_are_not_json() -> None:
    """1e400 would become an infinity: it's refused as invalid JSON."""
    async with serving(odd_rpc_app()) as url, connect(f"{url}/strict") as ws:
        await ws.send('{"type": 1, "id": 1e400}')
        assert json.loads(await ws.recv())["error"]["message"] == "invalid JSON"


async def test_keys_match_by_type_too() -> None:
    """A JSON true, or 1.0, doesn't find the handler of 1."""
    async with serving(odd_rpc_app()) as url, connect(f"{url}/strict") as ws:
        for key, expected in [("1", {"result": "one"}), ("true", None), ("1.0", None)]:
            await ws.send(f'{{"type": {key}}}')
            reply = json.loads(await ws.recv())
            if expected is None:
                assert reply["error"]["message"] == f"unknown type: {key}"
            else:
                assert reply == expected


async def test_binary_keys_are_shown_by_type() -> None:
    """A key that isn't JSON is shown by its type, not its Python repr."""
    app = App()
    app.add_route("/", FirstMessageRouter("r", key=lambda message: message[:3]))
    async with serving(app) as url, connect(url) as ws:
        await ws.send(b"\x00\x01\x02zz")
        await ws.wait_closed()
        assert ws.close_reason == 'unknown key: "(bytes)"'


# Malformed headers


def header_app() -> App:
    app = App()
    app.add_route("/echo", echo)
    app.add_route("/bearer", echo, endpoint="bearer", hooks=[BearerToken(lambda t: t)])
    app.get("/health")(lambda ws, request: "ok\n")
    return app


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (handshake("/echo", Origin="http://[::1"), 403),
        (handshake("/echo", Origin="http://[zz]"), 403),
        (handshake("/echo", Origin="http://localhost:99999"), 403),
        (
            handshake("/bearer", Authorization="Bearer a").replace(
                b"\r\n\r\n", b"\r\nAuthorization: Bearer b\r\n\r\n"
            ),
            401,
        ),
        (
            handshake("/health").replace(b"\r\n\r\n", b"\r\nUpgrade: h2c\r\n\r\n"),
            404,
        ),
        (handshake("http://[::1/echo"), 400),
    ],
)
async def test_malformed_headers_are_refused_quietly(
    request_bytes: bytes, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Broken Origin, repeated Authorization or Upgrade: a 4xx, no log."""
    async with serving(header_app()) as url:
        assert (await exchange(url, request_bytes))[0] == status
    assert errors_in(caplog) == []


@pytest.mark.parametrize(
    ("host", "origin", "status"),
    [
        ("example.com:443", "https://example.com", 101),
        ("example.com", "https://example.com:443", 101),
        ("example.com:8443", "https://example.com", 403),
        ("example.com", "javascript://example.com", 403),
        ("internal:8000", "https://chat.example.com", 101),  # server_name
    ],
)
async def test_origin_ports_schemes_and_server_name(
    host: str, origin: str, status: int
) -> None:
    """Default ports are equal, schemes are http(s), server_name counts."""
    async with serving(header_app(), server_name="chat.example.com") as url:
        answer = await exchange(url, handshake("/echo", host=host, Origin=origin))
        assert answer[0] == status


# Authentication


async def test_check_returning_false_refuses() -> None:
    """A check written as a predicate refuses with False."""
    app = App()
    app.add_route("/", echo, hooks=[QueryToken(lambda token: token == "good")])
    async with serving(app) as url:
        assert (await exchange(url, handshake("/?token=bad")))[0] == 403
        assert (await exchange(url, handshake("/?token=good")))[0] == 101


@pytest.mark.parametrize(
    "origins", [["null"], [re.compile(r"https://[a-z.]+")], [re.compile("http://.*")]]
)
async def test_open_origin_policies_are_warned_about(
    origins: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """An Origin of null, or a wide pattern, opens a cookie route to any site."""
    app = App(origins=origins)
    app.add_route("/", echo, hooks=[CookieToken(lambda token: token)])
    async with serving(app):
        pass
    assert "accepts any Origin" in caplog.text


# Hooks and handlers that return or raise the unexpected


async def test_odd_return_values_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    """A hook returning True, text or a dict, an HTTP handler bytes: 500, logged."""
    app = App()

    def boolean(ws: Connection, request: Request) -> Any:
        return True

    def text(ws: Connection, request: Request) -> Any:
        return "fine"

    app.add_route("/bool", echo, endpoint="bool", hooks=[boolean])
    app.add_route("/text", echo, endpoint="text", hooks=[text])
    app.get("/bytes")(lambda ws, request: b"raw")  # type: ignore[type-var]
    async with serving(app) as url:
        assert (await exchange(url, handshake("/bool")))[0] == 500
        assert (await exchange(url, handshake("/text")))[0] == 500
        plain = b"GET /bytes HTTP/1.1\r\nHost: localhost\r\n\r\n"
        assert (await exchange(url, plain))[0] == 500
    errors = errors_in(caplog)
    assert errors[0].endswith(
        "boolean returned True on /bool; return None or a response"
    )
    assert errors[1].endswith(
        "text returned 'fine' on /text; return None or a response"
    )
    assert errors[2].endswith("returned b'raw' on /bytes; return text or a response")


async def test_error_handlers_that_misbehave(caplog: pytest.LogCaptureFixture) -> None:
    """An error handler may raise CloseConnection; returning junk is reported."""
    app = App()
    events: list[str] = []
    app.on_disconnect(lambda ws: events.append(f"disconnect {ws.close_code}"))

    @app.error_handler(PermissionError)
    def raise_close(ws: Connection, exc: Exception) -> None:
        raise CloseConnection(4003, "forbidden")

    @app.error_handler(LookupError)
    def return_junk(ws: Connection, exc: Exception) -> Any:
        return "oops"

    @app.route("/<kind>")
    async def fail(ws: Connection, kind: str) -> None:
        raise PermissionError() if kind == "permission" else KeyError(kind)

    async with serving(app, raise_server_exceptions=False) as url:
        for kind, code in [("permission", 4003), ("key", 1011)]:
            async with connect(f"{url}/{kind}") as ws:
                await ws.wait_closed()
                assert ws.close_code == code
    assert events == ["disconnect 4003", "disconnect 1011"]
    errors = errors_in(caplog)
    assert errors[-1].endswith(
        "return_junk returned 'oops'; return a CloseConnection or None"
    )


async def test_a_crashing_connect_hook_is_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The log names the connect hook that failed, not the handler."""
    app = App()

    @app.on_connect
    def greet(ws: Connection) -> None:
        raise RuntimeError("bug")

    app.add_route("/", echo)
    async with serving(app, raise_server_exceptions=False) as url, connect(url) as ws:
        await ws.wait_closed()
    assert errors_in(caplog)[0].startswith("connect hook tests.test_edges")


async def test_disconnect_hooks_run_when_the_handler_is_cancelled() -> None:
    """Cancelling a handler, as a bounded shutdown does, still runs them."""
    app = App()
    started, events = asyncio.Event(), []
    app.on_disconnect(lambda ws: events.append(f"disconnect {ws.close_code}"))

    @app.route("/")
    async def sleeper(ws: Connection) -> None:
        started.set()
        await asyncio.sleep(3600)

    async with app.serve("127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/") as ws:
            await asyncio.wait_for(started.wait(), 5)
            for task in server.handler_tasks:
                task.cancel()
            await ws.wait_closed()
    assert events == ["disconnect 1011"]


async def test_run_runs_shutdown_hooks_when_the_server_cant_start() -> None:
    """A port in use stops run(), after its startup hooks: shutdown hooks run."""
    app = App()
    events: list[str] = []
    app.on_startup(lambda: events.append("startup"))
    app.on_shutdown(lambda: events.append("shutdown"))
    app.add_route("/", echo)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            await serve_until_stopped(app, "127.0.0.1", port, 1, {})
    assert events == ["startup", "shutdown"]
