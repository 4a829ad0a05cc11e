"""Tests of wsroute.connection: what handlers receive."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosedError

from wsroute import App, Blueprint, Connection, InvalidJSON

from .conftest import serving


async def test_handler_receives_the_real_connection() -> None:
    """Handlers get a websockets ServerConnection, not a wrapper."""
    app = App()
    seen: list[Any] = []

    @app.route("/")
    async def root(ws: Connection) -> None:
        seen.append(ws)
        await ws.send("hi")

    async with serving(app) as url, connect(url) as client:
        assert await client.recv() == "hi"
    [ws] = seen
    assert type(ws) is Connection
    assert isinstance(ws, ServerConnection)


async def test_route_data() -> None:
    """path_params, query, endpoint and route describe the match."""
    app = App()
    bp = Blueprint("api", url_prefix="/api")

    @bp.route("/items/<int:id>", defaults={"kind": "book"})
    async def item(ws: Connection, id: int, kind: str) -> None:
        await ws.send_json(
            {
                "params": ws.path_params,
                "tags": ws.query.getlist("tag"),
                "q": ws.query.get("q"),
                "endpoint": ws.endpoint,
                "rule": ws.route.rule,
                "args": [id, kind],
            }
        )

    app.register_blueprint(bp)
    async with serving(app) as url:
        async with connect(f"{url}/api/items/3?tag=a&tag=b%20c&q=") as ws:
            assert json.loads(await ws.recv()) == {
                "params": {"id": 3, "kind": "book"},
                "tags": ["a", "b c"],
                "q": "",
                "endpoint": "api.item",
                "rule": "/api/items/<int:id>",
                "args": [3, "book"],
            }


async def test_context_is_per_connection() -> None:
    """Each connection starts with an empty context of its own."""
    app = App()

    @app.route("/")
    async def root(ws: Connection) -> None:
        assert ws.context == SimpleNamespace()
        ws.context.count = 1
        ws.context.count += 1
        await ws.send(str(ws.context.count))

    async with serving(app) as url:
        for _ in range(2):
            async with connect(url) as ws:
                assert await ws.recv() == "2"


async def test_state_is_still_the_protocol_state() -> None:
    """Wsroute doesn't shadow websockets' own attributes."""
    app = App()

    @app.route("/")
    async def root(ws: Connection) -> None:
        await ws.send(ws.state.name)

    async with serving(app) as url, connect(url) as ws:
        assert await ws.recv() == "OPEN"


async def test_json_round_trip() -> None:
    """send_json and recv_json speak compact UTF-8 JSON; binary is accepted."""
    app = App()

    @app.route("/")
    async def double(ws: Connection) -> None:
        while True:
            data = await ws.recv_json()
            await ws.send_json({"double": data["n"] * 2, "name": data["name"]})

    async with serving(app) as url, connect(url) as ws:
        await ws.send('{"n": 2, "name": "été"}')
        assert await ws.recv() == '{"double":4,"name":"été"}'
        await ws.send(json.dumps({"n": 5, "name": "b"}).encode())
        assert json.loads(await ws.recv()) == {"double": 10, "name": "b"}


@pytest.mark.parametrize(
    "message", ["{not json", b"\xff\xfe{", "[" * 100_000, "NaN", '{"x": -Infinity}']
)
async def test_invalid_json_closes_1007(
    message: str | bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A message that isn't JSON closes the connection 1007; nothing is logged."""
    app = App()

    @app.route("/")
    async def root(ws: Connection) -> None:
        await ws.recv_json()

    async with serving(app) as url, connect(url) as ws:
        await ws.send(message)
        with pytest.raises(ConnectionClosedError):
            await ws.recv()
        assert (ws.close_code, ws.close_reason) == (1007, "invalid JSON")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_send_json_is_always_valid_utf8_json() -> None:
    """Lone surrogates go out escaped; NaN raises in the handler."""
    app = App()
    errors: list[Exception] = []

    @app.route("/")
    async def root(ws: Connection) -> None:
        await ws.send_json(await ws.recv_json())
        try:
            await ws.send_json(float("nan"))
        except ValueError as exc:
            errors.append(exc)

    async with serving(app) as url, connect(url) as ws:
        await ws.send('["\\ud800", "été"]')
        assert await ws.recv() == '["\\ud800","\\u00e9t\\u00e9"]'
    assert len(errors) == 1


async def test_invalid_json_can_be_caught() -> None:
    """A handler may catch InvalidJSON and carry on."""
    app = App()

    @app.route("/")
    async def root(ws: Connection) -> None:
        try:
            await ws.recv_json()
        except InvalidJSON as exc:
            await ws.send_json({"error": exc.reason})

    async with serving(app) as url, connect(url) as ws:
        await ws.send("nope")
        assert await ws.recv() == '{"error":"invalid JSON"}'


async def test_url_for_uses_the_request_host() -> None:
    """ws.url_for builds absolute URLs on the host the client used."""
    app = App()

    @app.route("/items/<int:id>")
    async def item(ws: Connection, id: int) -> None:
        await ws.send(ws.url_for("item", id=id + 1, tag="x"))

    async with serving(app) as url, connect(f"{url}/items/1") as ws:
        assert await ws.recv() == f"{url}/items/2?tag=x"
    async with serving(app, server_name="public.example") as url:
        async with connect(f"{url}/items/1") as ws:
            assert await ws.recv() == "ws://public.example/items/2?tag=x"
