"""Tests of examples/game.py: Connect Four routed by first message."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from examples.game import RED, YELLOW, Connect4, create_app
from wsroute.testing import TestServer

from .conftest import TIMEOUT, exchange
from .test_http import plain_get


async def send(ws: ClientConnection, event: dict[str, Any]) -> None:
    await ws.send(json.dumps(event))


async def receive(ws: ClientConnection) -> Any:
    async with asyncio.timeout(TIMEOUT):
        return json.loads(await ws.recv())


async def closed(ws: ClientConnection) -> tuple[int | None, str | None]:
    async with asyncio.timeout(TIMEOUT):
        await ws.wait_closed()
    return ws.close_code, ws.close_reason


async def start(server: TestServer) -> tuple[ClientConnection, dict[str, Any]]:
    """Start a game; return red's connection and the init event."""
    red = await server.connect("/game")
    await send(red, {"type": "init"})
    init = await receive(red)
    assert init["type"] == "init"
    return red, init


def play(player: str, column: int, row: int) -> dict[str, Any]:
    return {"type": "play", "player": player, "column": column, "row": row}


# Red lines up four discs on the bottom row; yellow stacks on top.
GAME = [(RED, 0, 0), (YELLOW, 0, 1), (RED, 1, 0), (YELLOW, 1, 1)]
GAME += [(RED, 2, 0), (YELLOW, 2, 1), (RED, 3, 0)]


async def test_full_game_to_a_win() -> None:
    """Two players play to a win; both, and a watcher, see every move."""
    async with TestServer(create_app()) as server:
        red, init = await start(server)
        yellow = await server.connect("/game")
        await send(yellow, {"type": "join", "join": init["join"]})
        watcher = await server.connect("/game")
        await send(watcher, {"type": "watch", "watch": init["watch"]})
        players = {RED: red, YELLOW: yellow}
        for player, column, row in GAME:
            await send(players[player], {"type": "play", "column": column})
            for ws in (red, yellow, watcher):
                assert await receive(ws) == play(player, column, row)
        for ws in (red, yellow, watcher):
            assert await receive(ws) == {"type": "win", "player": RED}
        await send(yellow, {"type": "play", "column": 4})
        assert await receive(yellow) == {
            "type": "error",
            "message": "The game is over.",
        }
        for ws in (red, yellow, watcher):
            await ws.close()


async def test_latecomers_receive_the_game_so_far() -> None:
    """Whoever joins or watches later receives the moves already made."""
    async with TestServer(create_app()) as server:
        red, init = await start(server)
        await send(red, {"type": "play", "column": 3})
        assert await receive(red) == play(RED, 3, 0)
        for first in (
            {"type": "join", "join": init["join"]},
            {"type": "watch", "watch": init["watch"]},
        ):
            async with server.connect("/game") as ws:
                await send(ws, first)
                assert await receive(ws) == play(RED, 3, 0)
        await red.close()


@pytest.mark.parametrize(
    ("move", "message"),
    [
        ({"type": "play", "column": 7}, "Columns are numbered 0 to 6."),
        ({"type": "play", "column": -1}, "Columns are numbered 0 to 6."),
        ({"type": "play", "column": "3"}, "Expected a column."),
        ({"type": "play", "column": 3.0}, "Expected a column."),
        ({"type": "play", "column": True}, "Expected a column."),
        ({"type": "play"}, "Expected a column."),
        ({"type": "init"}, "Expected a play."),
        (["play", 3], "Expected a play."),
    ],
)
async def test_bad_moves_get_an_error(move: Any, message: str) -> None:
    """A move that isn't one gets an error event; the game goes on."""
    async with TestServer(create_app()) as server:
        red, _ = await start(server)
        await red.send(json.dumps(move))
        assert await receive(red) == {"type": "error", "message": message}
        await send(red, {"type": "play", "column": 0})
        assert await receive(red) == play(RED, 0, 0)
        await red.close()


async def test_playing_out_of_turn_gets_an_error() -> None:
    """Yellow can't play first, nor red twice in a row."""
    async with TestServer(create_app()) as server:
        red, init = await start(server)
        async with server.connect("/game") as yellow:
            await send(yellow, {"type": "join", "join": init["join"]})
            await send(yellow, {"type": "play", "column": 0})
            error = {"type": "error", "message": "It isn't your turn."}
            assert await receive(yellow) == error
            await send(red, {"type": "play", "column": 0})
            assert await receive(red) == play(RED, 0, 0)
            await send(red, {"type": "play", "column": 1})
            assert await receive(red) == error
        await red.close()


async def test_a_full_column_gets_an_error() -> None:
    """A seventh disc doesn't fit in a column."""
    async with TestServer(create_app()) as server:
        red, init = await start(server)
        async with server.connect("/game") as yellow:
            await send(yellow, {"type": "join", "join": init["join"]})
            for row in range(6):
                ws, player = (red, RED) if row % 2 == 0 else (yellow, YELLOW)
                await send(ws, {"type": "play", "column": 5})
                assert await receive(red) == play(player, 5, row)
            await send(red, {"type": "play", "column": 5})
            assert await receive(red) == {
                "type": "error",
                "message": "This column is full.",
            }
        await red.close()


async def test_a_message_that_is_not_json_closes_with_1007() -> None:
    """Garbage instead of a move closes the player's connection with 1007."""
    async with TestServer(create_app()) as server:
        red, _ = await start(server)
        await red.send("{column: 3}")
        assert await closed(red) == (1007, "invalid JSON")


@pytest.mark.parametrize(
    ("first", "code", "reason"),
    [
        ({"type": "join", "join": "nope"}, 4004, "game not found"),
        ({"type": "watch", "watch": "nope"}, 4004, "game not found"),
        ({"type": "join", "join": ["a", "list"]}, 4004, "game not found"),
        ({"type": "join"}, 4004, "game not found"),
        ({"type": "fly"}, 1008, 'unknown type: "fly"'),
        ({"join": "nope"}, 1008, 'missing "type"'),
    ],
)
async def test_first_messages_that_lead_nowhere_close(
    first: dict[str, Any], code: int, reason: str
) -> None:
    """An unknown key or type closes with a documented code."""
    async with TestServer(create_app()) as server:
        async with server.connect("/game") as ws:
            await send(ws, first)
            assert await closed(ws) == (code, reason)


async def test_a_third_player_is_refused() -> None:
    """A game has two players: joining it again closes with 4009."""
    async with TestServer(create_app()) as server:
        red, init = await start(server)
        await send(red, {"type": "play", "column": 0})
        assert await receive(red) == play(RED, 0, 0)
        async with server.connect("/game") as yellow:
            await send(yellow, {"type": "join", "join": init["join"]})
            assert await receive(yellow) == play(RED, 0, 0)  # yellow is in
            async with server.connect("/game") as third:
                await send(third, {"type": "join", "join": init["join"]})
                assert await closed(third) == (4009, "game already has two players")
        await red.close()


async def test_a_game_ends_when_its_creator_leaves() -> None:
    """Once red leaves, the keys find no game."""
    async with TestServer(create_app()) as server:
        red, init = await start(server)
        await red.close()
        async with server.connect("/game") as ws:
            await send(ws, {"type": "watch", "watch": init["watch"]})
            assert await closed(ws) == (4004, "game not found")


async def test_the_page_is_served() -> None:
    """A plain GET for / gets the page that plays."""
    async with TestServer(create_app()) as server:
        status, headers, body = await exchange(server.url, plain_get("/"))
        assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8")
        assert b"new WebSocket(`ws://${location.host}/game`)" in body


@pytest.mark.parametrize(
    "moves",
    [
        [0, 1, 0, 1, 0, 1, 0],  # up
        [0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3],  # along the rising diagonal
        [3, 2, 2, 1, 1, 0, 1, 0, 0, 6, 0],  # along the falling diagonal
    ],
)
def test_four_in_a_line_wins(moves: list[int]) -> None:
    """Four discs up or along either diagonal win, as across does."""
    board = Connect4()
    for column in moves:
        assert board.winner is None
        board.play(board.next_player, column)
    assert board.winner == RED


def test_three_in_a_line_dont_win() -> None:
    """Three discs and a gap don't make four."""
    board = Connect4()
    for column in [0, 6, 1, 6, 3, 5]:
        board.play(board.next_player, column)
    assert board.winner is None
