"""Tests of wsroute.rooms: joining, leaving and publishing to rooms."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.http11 import Request

from wsroute import App, Connection, Limits, Rooms
from wsroute.testing import TestServer

from .conftest import TIMEOUT, serving


def rooms_app(rooms: Rooms | None = None, limits: Limits | None = None) -> App:
    """An app whose clients join the rooms in their query, then publish."""
    app = App(rooms=rooms, limits=limits)

    @app.route("/join")
    async def join(ws: Connection) -> None:
        for room in ws.query.getlist("room"):
            ws.join(room)
        await ws.send(" ".join(sorted(ws.rooms)))  # joined: the test may go on
        async for message in ws:
            command, _, argument = str(message).partition(" ")
            if command == "leave":
                ws.leave(argument)
                await ws.send(f"left {argument}")
            elif command == "others":
                ws.app.rooms.publish(argument, "from another", exclude=ws)
            else:
                ws.app.rooms.publish(command, argument)

    return app


async def joined(url: str, *rooms: str) -> ClientConnection:
    """Connect a client that joins ``rooms``; return once it's in them."""
    query = "&".join(f"room={room}" for room in rooms)
    ws = await connect(f"{url}/join?{query}")
    assert await ws.recv() == " ".join(sorted(rooms))
    return ws


async def wait_until_empty(app: App, room: str) -> None:
    """Wait, a bounded time, until a room has no members."""
    for _ in range(TIMEOUT * 100):
        if not app.rooms.members(room):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"room {room!r} still has members")


async def test_publish_reaches_each_member_of_the_room() -> None:
    """A message reaches each member of its room, and nobody else."""
    app = rooms_app()
    async with serving(app) as url:
        alice = await joined(url, "lobby")
        bob = await joined(url, "lobby", "kitchen")
        carol = await joined(url, "kitchen")
        await alice.send("lobby hello")
        assert await alice.recv() == "hello"
        assert await bob.recv() == "hello"
        await carol.send("kitchen ready")
        assert await bob.recv() == "ready"
        assert await carol.recv() == "ready"
        await alice.send("lobby again")
        assert await alice.recv() == "again"
        assert await bob.recv() == "again"
        with pytest.raises(TimeoutError):  # carol isn't in the lobby
            async with asyncio.timeout(0.05):
                await carol.recv()
        for ws in (alice, bob, carol):
            await ws.close()


async def test_publish_can_leave_out_a_member() -> None:
    """exclude= leaves one member out, such as the sender."""
    async with serving(rooms_app()) as url:
        alice = await joined(url, "lobby")
        bob = await joined(url, "lobby")
        await alice.send("others lobby")
        assert await bob.recv() == "from another"
        await alice.send("lobby to all")
        assert await alice.recv() == "to all"  # nothing came before
        await alice.close()
        await bob.close()


async def test_leave_stops_messages() -> None:
    """A connection that leaves a room gets nothing more from it."""
    app = rooms_app()
    async with serving(app) as url:
        alice = await joined(url, "lobby", "kitchen")
        await alice.send("leave lobby")
        assert await alice.recv() == "left lobby"
        await alice.send("leave lobby")  # not a member any more: nothing happens
        assert await alice.recv() == "left lobby"
        [member] = app.rooms.members("kitchen")
        assert member.rooms == {"kitchen"}
        assert list(app.rooms) == ["kitchen"]
        await alice.send("lobby hello")
        await alice.send("kitchen hi")
        assert await alice.recv() == "hi"
        await alice.close()


async def test_leaving_the_last_room_and_staying_members() -> None:
    """Rooms and members are forgotten once empty; others stay."""
    app = rooms_app()
    async with serving(app) as url:
        alice = await joined(url, "lobby")
        bob = await joined(url, "lobby")
        await alice.send("leave lobby")
        assert await alice.recv() == "left lobby"
        [member] = app.rooms.members("lobby")  # bob stays
        await bob.send("leave lobby")
        assert await bob.recv() == "left lobby"
        assert app.rooms.members("lobby") == frozenset()
        assert member.rooms == frozenset()
        await alice.close()
        await bob.close()


async def test_connections_leave_their_rooms_when_they_close() -> None:
    """A connection leaves its rooms when it ends, even abruptly."""
    app = rooms_app()
    async with serving(app) as url:
        alice = await joined(url, "lobby", "kitchen")
        bob = await joined(url, "lobby")
        assert len(app.rooms) == 2
        assert len(app.rooms.members("lobby")) == 2
        alice.transport.abort()  # no closing handshake
        await wait_until_empty(app, "kitchen")
        assert len(app.rooms.members("lobby")) == 1
        await bob.close()
        await wait_until_empty(app, "lobby")
    assert len(app.rooms) == 0


async def test_publish_json_and_bytes() -> None:
    """JSON goes out as text, bytes as binary unless text=True."""
    app = rooms_app()
    async with serving(app) as url:
        alice = await joined(url, "lobby")
        app.rooms.publish_json("lobby", {"type": "message", "text": "été"})
        assert await alice.recv() == '{"type":"message","text":"été"}'
        app.rooms.publish("lobby", b"\x00\x01")
        assert await alice.recv() == b"\x00\x01"
        app.rooms.publish("lobby", b"text", text=True)
        assert await alice.recv() == "text"
        app.rooms.publish("nobody here", "lost")  # no members: nothing to do
        await alice.close()


async def test_a_slow_member_is_disconnected_and_holds_back_nobody() -> None:
    """A member that stops reading is dropped; the others get every message."""
    app = rooms_app(limits=Limits(max_buffer=256 * 1024))
    async with serving(app, max_size=None, compression=None) as url:
        fast = await joined(url, "feed")
        slow = await joined(url, "feed")
        slow.transport.pause_reading()  # the slow client stops reading
        buffered = []
        for number in range(200):  # 12.5 MiB in all
            message = f"{number:05}" + "x" * 64 * 1024
            app.rooms.publish("feed", message)
            assert await fast.recv() == message  # all of them, in order
            buffered.append(
                max(
                    member.transport.get_write_buffer_size()
                    for member in app.rooms.members("feed")
                )
            )
        assert max(buffered) <= 256 * 1024 + 2 * (64 * 1024 + 64)  # bounded
        await wait_until_members(app, "feed", 1)  # the slow one was dropped
        slow.transport.resume_reading()
        async with asyncio.timeout(TIMEOUT):
            with contextlib.suppress(ConnectionClosedError):  # dropped: 1006
                async for _ in slow:  # what it got before it was dropped
                    pass
        assert slow.close_code in {1006, 1008}
        await fast.close()


async def wait_until_members(app: App, room: str, count: int) -> None:
    """Wait, a bounded time, until a room has ``count`` members."""
    for _ in range(TIMEOUT * 100):
        if len(app.rooms.members(room)) == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"room {room!r} has {len(app.rooms.members(room))} members")


def test_rooms_are_named_by_strings() -> None:
    """A room is named by a str; unknown rooms and connections have none."""
    rooms = Rooms()
    with pytest.raises(TypeError, match="a room is named by a str, got int"):
        rooms.join(None, 3)  # type: ignore[arg-type]
    assert rooms.members("lobby") == frozenset()
    assert rooms.rooms_of(None) == frozenset()  # type: ignore[arg-type]


async def test_rooms_are_joined_once_the_connection_is_open() -> None:
    """Joining in a handshake hook is an error: the room would never let go."""
    app = App()

    def join_early(ws: Connection, request: Request) -> None:
        ws.join("lobby")

    @app.route("/early", hooks=[join_early])
    async def early(ws: Connection) -> None:
        pass  # pragma: no cover

    async with TestServer(app, raise_server_exceptions=False) as server:
        with pytest.raises(InvalidStatus) as raised:
            async with server.connect("/early"):
                pass  # pragma: no cover
    assert raised.value.response.status_code == 500
    [exc] = server.exceptions
    assert str(exc) == (
        "a connection joins rooms once open: join in the handler or a "
        "connect hook, not during the handshake"
    )
    assert list(app.rooms) == []


async def test_disconnect_hooks_see_the_rooms() -> None:
    """Disconnect hooks run before the connection leaves its rooms."""
    app = rooms_app()

    @app.on_disconnect
    def say_goodbye(ws: Connection) -> None:
        for room in ws.rooms:
            app.rooms.publish(room, f"goodbye from {room}")

    async with serving(app) as url:
        alice = await joined(url, "lobby")
        bob = await joined(url, "lobby")
        await alice.close()
        assert await bob.recv() == "goodbye from lobby"
        await bob.close()
        await wait_until_empty(app, "lobby")
