"""Tests of wsroute.dispatch: routing by the first message, and by each message."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Data

from examples.app import echo
from wsroute import App, CloseConnection, Connection, FirstMessageRouter, MessageRouter
from wsroute.auth import FirstMessageToken

from .conftest import serving


def game_app(**options: Any) -> App:
    """A game whose first message says what the client wants."""
    app = App()
    game = FirstMessageRouter("game", **options)

    @game.on("init")
    async def init(ws: Connection, message: dict[str, Any], room: str) -> None:
        await ws.send_json({"created": room, "by": ws.user})

    @game.on("join")
    async def join(ws: Connection, message: dict[str, Any], room: str) -> None:
        await ws.send_json({"joined": room, "as": message["name"]})

    app.add_route("/game/<room>", game)
    app.add_route("/echo", echo)
    return app


async def test_first_message_picks_the_handler() -> None:
    """The handler gets the decoded first message and the rule's parameters."""
    async with serving(game_app()) as url:
        async with connect(f"{url}/game/blue") as ws:
            await ws.send('{"type": "join", "name": "ann"}')
            assert json.loads(await ws.recv()) == {"joined": "blue", "as": "ann"}
        async with connect(f"{url}/game/red") as ws:
            await ws.send('{"type": "init"}')
            assert json.loads(await ws.recv()) == {"created": "red", "by": None}


@pytest.mark.parametrize(
    ("first", "code", "reason"),
    [
        ("{not json", 1007, "invalid JSON"),
        ("[1, 2]", 1008, "expected a JSON object"),
        ('{"kind": "join"}', 1008, 'missing "type"'),
        ('{"type": "fly"}', 1008, 'unknown type: "fly"'),
        ('{"type": ["join"]}', 1008, 'unknown type: ["join"]'),
        ('{"type": "' + "x" * 200 + '"}', 1008, 'unknown type: "' + "x" * 108),
        (b'{"type": "join"}', 1003, "expected text"),
        (None, 1008, "no first message in time"),
        (
            '{"type": "join", "pad": "' + "x" * 1000 + '"}',
            1009,
            "frame with 1027 bytes exceeds limit of 1000 bytes",
        ),
    ],
)
async def test_broken_first_messages_close_with_a_documented_code(
    first: Data | None, code: int, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Each broken first message gets its code; others are served meanwhile."""
    async with serving(game_app(timeout=0.2), max_size=1000) as url:
        async with connect(f"{url}/echo") as other, connect(f"{url}/game/x") as ws:
            if first is not None:
                await ws.send(first)
            await ws.wait_closed()
            assert (ws.close_code, ws.close_reason) == (code, reason)
            await other.send("still served")
            assert await other.recv() == "still served"
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_key_function_for_plain_text() -> None:
    """A key function routes messages that aren't JSON: blue or green."""
    app = App()
    color = FirstMessageRouter("color", key=lambda message: message)

    @color.on("blue")
    async def blue(ws: Connection, message: str) -> None:
        await ws.send(f"{message} is calm")

    @color.on("green")
    async def green(ws: Connection, message: str) -> None:
        await ws.send(f"{message} is fresh")

    app.add_route("/color", color)
    async with serving(app) as url:
        for first, reply in [("blue", "blue is calm"), ("green", "green is fresh")]:
            async with connect(f"{url}/color") as ws:
                await ws.send(first)
                assert await ws.recv() == reply
        async with connect(f"{url}/color") as ws:
            await ws.send("red")
            await ws.wait_closed()
            assert (ws.close_code, ws.close_reason) == (1008, 'unknown key: "red"')


async def test_key_function_returning_none() -> None:
    """A key function returns None for a message without a key."""
    app = App()
    router = FirstMessageRouter("r", key=lambda message: None)
    app.add_route("/", router)
    async with serving(app) as url, connect(url) as ws:
        await ws.send("anything")
        await ws.wait_closed()
        assert (ws.close_code, ws.close_reason) == (1008, "the message has no key")


def test_handlers_are_checked() -> None:
    """A handler must be a coroutine function, and a key has one handler."""
    router = FirstMessageRouter("r")

    def sync(ws: Connection, message: Any) -> None: ...

    async def handler(ws: Connection, message: Any) -> None: ...

    with pytest.raises(Exception, match=r"<FirstMessageRouter 'r'>: handler .*sync"):
        router.add("a", sync)  # type: ignore[arg-type]
    router.add("a", handler)
    with pytest.raises(Exception, match="'a' is already handled by"):
        router.add("a", handler)


async def test_first_message_token_then_first_message_routing() -> None:
    """Authenticate with the first message, then route with the next one."""
    app = game_app()

    async def user_for(token: str) -> str | None:
        return {"t0k3n": "ann"}.get(token)

    app.on_connect(FirstMessageToken(user_for))
    async with serving(app) as url:
        async with connect(f"{url}/game/blue") as ws:
            await ws.send('{"token": "t0k3n"}')
            await ws.send('{"type": "init"}')
            assert json.loads(await ws.recv()) == {"created": "blue", "by": "ann"}


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        ('{"token": "wrong"}', "invalid credentials"),
        ('{"tok": "t0k3n"}', "missing credentials"),
        ('{"token": 42}', "missing credentials"),
        ('["t0k3n"]', "missing credentials"),
        ("t0k3n", "missing credentials"),
        (b'{"token": "t0k3n"}', "missing credentials"),
        (None, "no credentials in time"),
    ],
)
async def test_first_message_token_failures_close_1008(
    first: Data | None, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A missing, wrong or late token closes with 1008; the handler never runs."""
    app = App()
    app.on_connect(FirstMessageToken({"t0k3n": "ann"}.get, timeout=0.2))
    app.add_route("/echo", echo)
    async with serving(app) as url, connect(f"{url}/echo") as ws:
        if first is not None:
            await ws.send(first)
        await ws.wait_closed()
        assert (ws.close_code, ws.close_reason) == (1008, reason)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "t0k3n" not in caplog.text


async def test_first_message_token_as_plain_text() -> None:
    """With field=None, the whole first message is the token."""
    app = App()
    app.on_connect(FirstMessageToken({"t0k3n": "ann"}.get, field=None))

    @app.route("/")
    async def whoami(ws: Connection) -> None:
        await ws.send(ws.user)

    async with serving(app) as url:
        async with connect(url) as ws:
            await ws.send("t0k3n")
            assert await ws.recv() == "ann"
        async with connect(url) as ws:
            await ws.send("")
            await ws.wait_closed()
            assert ws.close_reason == "missing credentials"


# MessageRouter


def rpc_app() -> App:
    app = App()
    rpc = MessageRouter("rpc")

    @rpc.on("add")
    async def add(ws: Connection, message: dict[str, Any]) -> int:
        result: int = message["a"] + message["b"]
        return result

    @rpc.on("remember")
    async def remember(ws: Connection, message: dict[str, Any]) -> None:
        ws.context.value = message["value"]

    @rpc.on("recall")
    async def recall(ws: Connection, message: dict[str, Any]) -> Any:
        return ws.context.value

    @rpc.on("fail")
    async def fail(ws: Connection, message: dict[str, Any]) -> None:
        raise RuntimeError("bug with secret details")

    @rpc.on("leave")
    async def leave(ws: Connection, message: dict[str, Any]) -> None:
        raise CloseConnection(4000, "bye")

    app.add_route("/rpc", rpc)
    app.add_route("/echo", echo)
    return app


async def exchange_json(ws: Any, message: str) -> Any:
    await ws.send(message)
    return json.loads(await ws.recv())


async def test_each_message_picks_its_handler() -> None:
    """Replies carry the id; None sends nothing; state persists between messages."""
    async with serving(rpc_app()) as url, connect(f"{url}/rpc") as ws:
        reply = await exchange_json(ws, '{"type": "add", "id": 7, "a": 2, "b": 3}')
        assert reply == {"id": 7, "result": 5}
        assert await exchange_json(ws, '{"type": "add", "a": 1, "b": 1}') == {
            "result": 2
        }
        await ws.send('{"type": "remember", "value": [1, "two"]}')
        assert await exchange_json(ws, '{"type": "recall", "id": "r"}') == {
            "id": "r",
            "result": [1, "two"],
        }


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (
            '{"type": "mul", "id": 1}',
            {"code": "invalid_message", "message": 'unknown type: "mul"'},
        ),
        ("{oops", {"code": "invalid_message", "message": "invalid JSON"}),
        ('"add"', {"code": "invalid_message", "message": "expected a JSON object"}),
        (b"\x00", {"code": "invalid_message", "message": "expected text"}),
        (
            '{"type": "fail", "id": 1}',
            {"code": "internal_error", "message": "internal error"},
        ),
    ],
)
async def test_errors_are_answered_and_the_connection_lives_on(
    message: Data, error: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Unknown types, bad messages and crashes get an error message back."""
    async with (
        serving(rpc_app(), raise_server_exceptions=False) as url,
        connect(f"{url}/rpc") as ws,
    ):
        reply = await exchange_json(ws, message)  # type: ignore[arg-type]
        assert reply.pop("error") == error
        assert reply == ({"id": 1} if b'"id"' in str(message).encode() else {})
        assert await exchange_json(ws, '{"type": "add", "a": 1, "b": 2}') == {
            "result": 3
        }
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    if error["code"] == "internal_error":
        assert errors == [
            "message handler tests.test_dispatch.rpc_app.<locals>.fail failed on /rpc"
        ]
    else:
        assert errors == []


async def test_close_connection_in_a_message_handler_closes() -> None:
    """CloseConnection raised by a message handler closes the connection."""
    async with serving(rpc_app()) as url, connect(f"{url}/rpc") as ws:
        await ws.send('{"type": "leave"}')
        await ws.wait_closed()
        assert (ws.close_code, ws.close_reason) == (4000, "bye")


async def test_a_flood_of_unknown_types_harms_no_one() -> None:
    """Each of 200 unknown messages gets an error; another client is served."""
    async with serving(rpc_app()) as url:
        async with connect(f"{url}/echo") as other, connect(f"{url}/rpc") as ws:
            for number in range(200):
                await ws.send(json.dumps({"type": "nope", "id": number}))
            for number in range(200):
                reply = json.loads(await ws.recv())
                assert reply["id"] == number
                assert reply["error"]["code"] == "invalid_message"
            await other.send("fine")
            assert await other.recv() == "fine"


async def test_message_router_with_a_key_function() -> None:
    """A key function routes each raw message; handlers get it as it came."""
    app = App()
    words = MessageRouter("words", key=lambda message: str(message).split()[0])

    @words.on("upper")
    async def upper(ws: Connection, message: str) -> str:
        return message.removeprefix("upper ").upper()

    app.add_route("/words", words)
    async with serving(app) as url, connect(f"{url}/words") as ws:
        assert await exchange_json(ws, "upper hello") == {"result": "HELLO"}
