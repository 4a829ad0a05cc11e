"""Tests of wsroute.lifecycle: server, connection and error hooks."""

from __future__ import annotations

import logging

import pytest
from websockets.asyncio.client import connect

from wsroute import App, CloseConnection, Connection

from .conftest import serving


async def test_startup_and_shutdown_hooks_run_once_around_the_server() -> None:
    """Startup hooks run before the server listens, shutdown hooks after it closed."""
    app = App()
    events: list[str] = []

    @app.on_startup
    async def open_pool() -> None:
        events.append("open pool")

    @app.on_startup
    def load_config() -> None:
        events.append("load config")

    @app.on_shutdown
    async def close_pool() -> None:
        events.append("close pool")

    @app.route("/")
    async def root(ws: Connection) -> None:
        events.append("handler")

    async with serving(app) as url:
        assert events == ["open pool", "load config"]
        for _ in range(2):
            async with connect(url) as ws:
                await ws.wait_closed()
        assert events[-1] == "handler"
    assert events == ["open pool", "load config", "handler", "handler", "close pool"]


async def test_failing_startup_hook_stops_the_server_from_starting() -> None:
    """If a startup hook raises, nothing listens and shutdown hooks don't run."""
    app = App()
    events: list[str] = []

    @app.on_startup
    def fail() -> None:
        raise OSError("no database")

    app.on_shutdown(lambda: events.append("shutdown"))

    @app.route("/")
    async def root(ws: Connection) -> None: ...

    with pytest.raises(OSError, match="no database"):
        async with serving(app):
            pytest.fail("the server started")
    assert events == []


def connection_app(events: list[str]) -> App:
    """An app whose hooks record what happens to each connection."""
    app = App()

    @app.on_connect
    async def greet(ws: Connection) -> None:
        if ws.query.get("refuse"):
            raise CloseConnection(4001, "refused")
        if ws.query.get("crash"):
            raise RuntimeError("connect hook bug")
        events.append(f"connect {ws.endpoint}")

    @app.on_disconnect
    def record(ws: Connection) -> None:
        events.append(f"disconnect {ws.close_code} {ws.close_reason}".rstrip())

    @app.on_disconnect
    async def broken(ws: Connection) -> None:
        raise RuntimeError("disconnect hook bug")

    @app.on_disconnect
    async def after_broken(ws: Connection) -> None:
        events.append("after broken")

    @app.route("/")
    async def root(ws: Connection) -> None:
        events.append("handler")
        message = await ws.recv()
        if message == "crash":
            raise ZeroDivisionError("handler bug")

    return app


@pytest.mark.parametrize(
    ("query", "message", "close", "expected"),
    [
        ("", "bye", None, ["connect root", "handler", "disconnect 1000"]),
        ("", None, 4000, ["connect root", "handler", "disconnect 4000 going"]),
        ("", "crash", None, ["connect root", "handler", "disconnect 1011"]),
        ("?refuse=1", None, None, ["disconnect 4001 refused"]),
        ("?crash=1", None, None, ["disconnect 1011"]),
    ],
)
async def test_connect_and_disconnect_hooks(
    query: str,
    message: str | None,
    close: int | None,
    expected: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Connect hooks run before the handler; disconnect hooks know the close code."""
    events: list[str] = []
    async with serving(connection_app(events), raise_server_exceptions=False) as url:
        async with connect(f"{url}/{query}") as ws:
            if message is not None:
                await ws.send(message)
            if close is not None:
                await ws.close(close, "going")
            await ws.wait_closed()
    assert events == [*expected, "after broken"]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors[-1].startswith("disconnect hook tests.test_lifecycle")
    crashes = {"crash": "handler tests", "?crash=1": "handler tests"}
    if message in crashes or query in crashes:
        assert len(errors) == 2


def error_app() -> App:
    """An app with error handlers, and a route raising what it's asked to."""
    app = App()

    @app.error_handler(PermissionError)
    def forbidden(ws: Connection, exc: PermissionError) -> CloseConnection:
        return CloseConnection(4003, f"forbidden: {exc}")

    @app.error_handler(LookupError)
    async def not_found(ws: Connection, exc: LookupError) -> CloseConnection:
        return CloseConnection(4004, "not found")

    @app.error_handler(ValueError)
    def log_it(ws: Connection, exc: ValueError) -> None:
        return None

    @app.error_handler(ArithmeticError)
    def broken(ws: Connection, exc: ArithmeticError) -> CloseConnection:
        raise RuntimeError("error handler bug")

    errors = {
        "permission": PermissionError("admins only"),
        "key": KeyError("id"),
        "value": ValueError("bad"),
        "zero": ZeroDivisionError("oops"),
    }

    @app.route("/<kind>")
    async def fail(ws: Connection, kind: str) -> None:
        raise errors[kind]

    return app


@pytest.mark.parametrize(
    ("kind", "code", "reason", "logged"),
    [
        ("permission", 4003, "forbidden: admins only", None),
        ("key", 4004, "not found", None),  # KeyError is a LookupError
        ("value", 1011, "", "handler tests.test_lifecycle.error_app.<locals>.fail"),
        (
            "zero",
            1011,
            "",
            "error handler tests.test_lifecycle.error_app.<locals>.broken",
        ),
    ],
)
async def test_error_handlers(
    kind: str,
    code: int,
    reason: str,
    logged: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Error handlers turn exceptions into close codes, or leave them as crashes."""
    async with (
        serving(error_app(), raise_server_exceptions=False) as url,
        connect(f"{url}/{kind}") as ws,
    ):
        await ws.wait_closed()
        assert (ws.close_code, ws.close_reason) == (code, reason)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    if logged is None:
        assert errors == []
    else:
        assert errors == [f"{logged} failed on /{kind}"]
