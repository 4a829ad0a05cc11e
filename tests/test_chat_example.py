"""Tests of examples/chat.py: chat rooms, served for real."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from examples.chat import MAX_SIZE, create_app
from wsroute.testing import TestServer

from .conftest import TIMEOUT, exchange
from .test_http import plain_get


async def receive(ws: ClientConnection) -> Any:
    async with asyncio.timeout(TIMEOUT):
        return json.loads(await ws.recv())


async def enter(server: TestServer, room: str, name: str) -> ClientConnection:
    """Join a room; return once the server announced it."""
    ws = await server.connect(f"/chat/{room}", query={"name": name})
    assert await receive(ws) == {"type": "join", "user": name}
    return ws


def message(user: str, text: str) -> dict[str, str]:
    return {"type": "message", "user": user, "text": text}


async def test_a_room_hears_its_members() -> None:
    """Two clients in a room see who comes, each other's messages, who goes."""
    async with TestServer(create_app()) as server:
        alice = await enter(server, "lobby", "alice")
        bob = await enter(server, "lobby", "bob")
        assert await receive(alice) == {"type": "join", "user": "bob"}
        await alice.send("Hello, Bob!")
        await bob.send("  Hi, Alice.\n")
        for ws in (alice, bob):
            assert await receive(ws) == message("alice", "Hello, Bob!")
            assert await receive(ws) == message("bob", "Hi, Alice.")
        await bob.close()
        assert await receive(alice) == {"type": "leave", "user": "bob"}
        await alice.close()


async def test_rooms_are_apart() -> None:
    """A client in another room hears nothing of the first one."""
    async with TestServer(create_app()) as server:
        alice = await enter(server, "lobby", "alice")
        carol = await enter(server, "kitchen", "carol")
        await alice.send("Anyone here?")
        assert await receive(alice) == message("alice", "Anyone here?")
        await alice.close()
        # Had the lobby's events reached the kitchen, they'd come first.
        await carol.send("Only me.")
        assert await receive(carol) == message("carol", "Only me.")
        await carol.close()


@pytest.mark.parametrize(
    "data",
    ["", " \n\t ", "x" * 501, b"binary"],
)
async def test_messages_not_to_send_get_an_error(data: str | bytes) -> None:
    """An empty, blank, too long or binary message is refused; the chat goes on."""
    async with TestServer(create_app()) as server:
        alice = await enter(server, "lobby", "alice")
        await alice.send(data)
        assert await receive(alice) == {
            "type": "error",
            "message": "A message is text of 1 to 500 characters.",
        }
        await alice.send("x" * 500)
        assert await receive(alice) == message("alice", "x" * 500)
        await alice.close()


async def test_a_message_over_max_size_closes_with_1009() -> None:
    """With the size limit that the example runs with, a huge message closes."""
    async with TestServer(create_app(), max_size=MAX_SIZE) as server:
        alice = await enter(server, "lobby", "alice")
        await alice.send("x" * (MAX_SIZE + 1))
        async with asyncio.timeout(TIMEOUT):
            await alice.wait_closed()
        assert alice.close_code == 1009


@pytest.mark.parametrize(
    "query",
    [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 21}, {"name": "al\x00ice"}],
)
async def test_names_are_checked(query: dict[str, str]) -> None:
    """A missing, empty, too long or unprintable name closes with 1008."""
    async with TestServer(create_app()) as server:
        async with server.connect("/chat/lobby", query=query) as ws:
            async with asyncio.timeout(TIMEOUT):
                await ws.wait_closed()
            assert (ws.close_code, ws.close_reason) == (
                1008,
                "a name is 1 to 20 printable characters",
            )


async def test_room_names_are_bounded() -> None:
    """A room's name over 40 characters, or with a slash, is not found."""
    async with TestServer(create_app()) as server:
        for path in ["/chat/" + "r" * 41, "/chat/a%2Fb", "/chat/"]:
            with pytest.raises(InvalidStatus) as info:
                await server.connect(path, query={"name": "alice"})
            assert info.value.response.status_code == 404


async def test_the_page_is_served() -> None:
    """A plain GET for / gets the page that chats."""
    async with TestServer(create_app()) as server:
        status, headers, body = await exchange(server.url, plain_get("/"))
        assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8")
        assert b"new WebSocket(url)" in body
