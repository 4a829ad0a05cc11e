"""Tests of wsroute.redis: rooms that span processes, on a real Redis."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.http11 import Request
from werkzeug.exceptions import ServiceUnavailable

from wsroute import App, Connection, Rooms
from wsroute.cli import main
from wsroute.redis import RedisRooms
from wsroute.rooms import rooms_from_url

from .conftest import TIMEOUT, RedisServer, exchange, free_port, launch, serving


def room_app(rooms: RedisRooms) -> App:
    """An app whose clients join a room, then publish each message to it."""
    app = App(rooms=rooms)

    @app.route("/room/<name>")
    async def room(ws: Connection, name: str) -> None:
        ws.join(name)
        await ws.send("joined")
        async for message in ws:
            if message == "json":
                app.rooms.publish_json(name, {"from": "json"})
            elif message == "others":
                app.rooms.publish(name, "not to myself", exclude=ws)
            elif message == "burst":  # sent to Redis in one round trip
                for number in range(3):
                    app.rooms.publish(name, f"burst {number}")
            else:
                app.rooms.publish(name, message)

    return app


async def joined(url: str, room: str) -> ClientConnection:
    """Connect a client to a room; return once it's in it."""
    ws = await connect(f"{url}/room/{room}")
    assert await ws.recv() == "joined"
    return ws


async def nothing_for(ws: ClientConnection, seconds: float = 0.2) -> None:
    """Check that a client receives nothing for a while."""
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(seconds):
            await ws.recv()


async def wait_for(rooms: RedisRooms, connected: bool) -> None:
    """Wait, a bounded time, until rooms are connected to Redis, or not."""
    for _ in range(TIMEOUT * 100):
        if rooms.connected is connected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"rooms.connected stayed {rooms.connected}")


async def test_messages_reach_members_of_other_processes(
    redis_server: RedisServer,
) -> None:
    """Members served elsewhere get each message once; other rooms nothing."""
    a, b = (
        room_app(RedisRooms(redis_server.url)),
        room_app(RedisRooms(redis_server.url)),
    )
    async with serving(a) as url_a, serving(b) as url_b:
        alice = await joined(url_a, "lobby")
        bob = await joined(url_b, "lobby")
        carol = await joined(url_b, "kitchen")
        await bob.send("hello")
        assert await alice.recv() == "hello"
        assert await bob.recv() == "hello"
        await alice.send(b"\x00\x01")
        assert await bob.recv() == b"\x00\x01"
        assert await alice.recv() == b"\x00\x01"  # once, not back from Redis
        await alice.send("json")
        assert await bob.recv() == '{"from":"json"}'
        assert await alice.recv() == '{"from":"json"}'
        await alice.send("others")
        assert await bob.recv() == "not to myself"
        await alice.send("burst")
        for number in range(3):
            assert await bob.recv() == f"burst {number}"
            assert await alice.recv() == f"burst {number}"
        await nothing_for(alice)
        await nothing_for(carol)
        for ws in (alice, bob, carol):
            await ws.close()


async def test_an_outage_keeps_rooms_local_and_ends_by_itself(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Without Redis, rooms serve their process; then they span processes again."""
    caplog.set_level(logging.WARNING, logger="wsroute.redis")
    rooms_a = RedisRooms(redis_server.url, max_backoff=0.1)
    rooms_b = RedisRooms(redis_server.url, max_backoff=0.1)
    async with serving(room_app(rooms_a)) as url_a, serving(room_app(rooms_b)) as url_b:
        alice = await joined(url_a, "lobby")
        bob = await joined(url_b, "lobby")
        bob_too = await joined(url_b, "lobby")
        await bob.send("before")
        for ws in (alice, bob, bob_too):
            assert await ws.recv() == "before"

        redis_server.stop()
        await wait_for(rooms_a, connected=False)
        await wait_for(rooms_b, connected=False)
        for number in range(3):  # publishing never fails; the outage logs once
            await bob.send(f"during {number}")
            assert await bob.recv() == f"during {number}"
            assert await bob_too.recv() == f"during {number}"
        await asyncio.sleep(0.5)  # several attempts to reconnect fail meanwhile

        redis_server.start()
        await wait_for(rooms_a, connected=True)
        await wait_for(rooms_b, connected=True)
        await bob.send("after")
        assert await alice.recv() == "after"  # what was published during is lost
        await nothing_for(alice)
        for ws in (alice, bob, bob_too):
            await ws.close()
    messages = [record.getMessage() for record in caplog.records]
    assert sum("is unreachable" in message for message in messages) == 2
    assert sum("is back" in message for message in messages) == 2


async def test_each_message_is_sent_or_reported_dropped(
    redis_server: RedisServer,
) -> None:
    """Through an outage, published = sent + dropped, and what's sent arrives."""
    rooms_a = RedisRooms(redis_server.url, max_backoff=0.1)
    rooms_b = RedisRooms(redis_server.url, max_backoff=0.1)
    app_b = room_app(rooms_b)

    @app_b.get("/health")
    def health(ws: Connection, request: Request) -> str:
        if not rooms_b.connected:
            raise ServiceUnavailable("Redis is unreachable")
        return "ok\n"

    async def publish(count: int) -> None:
        for number in range(count):
            rooms_a.publish("lobby", f"{number}")
            await asyncio.sleep(0.001)

    async def health_status(url: str) -> int:
        host = url.removeprefix("ws://")
        request = f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        status, _, _ = await exchange(url, request)
        return status

    async with serving(room_app(rooms_a)), serving(app_b) as url_b:
        bob = await joined(url_b, "lobby")
        assert await health_status(url_b) == 200
        await publish(200)
        redis_server.stop()
        await wait_for(rooms_a, connected=False)
        await wait_for(rooms_b, connected=False)
        assert await health_status(url_b) == 503
        await publish(200)
        redis_server.start()
        await wait_for(rooms_a, connected=True)
        await wait_for(rooms_b, connected=True)
        assert await health_status(url_b) == 200
        await publish(200)
        rooms_a.publish("lobby", "end")
        received = []
        async with asyncio.timeout(TIMEOUT):
            while (message := await bob.recv()) != "end":
                received.append(message)
        await bob.close()
    a, b = rooms_a.counts, rooms_b.counts
    assert (a.published, a.waiting) == (601, 0)
    assert a.sent + a.dropped == a.published
    assert a.dropped >= 200  # all those published during the outage
    assert b.received == a.sent == len(received) + 1  # "end" too
    assert b.published == 0


async def test_a_server_starts_while_redis_is_down(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A server starts without Redis, serves its members, and connects later."""
    caplog.set_level(logging.WARNING, logger="wsroute.redis")
    redis_server.stop()
    rooms = RedisRooms(redis_server.url, max_backoff=0.1)
    async with serving(room_app(rooms)) as url:
        assert rooms.connected is False
        alice = await joined(url, "lobby")
        await alice.send("alone")
        assert await alice.recv() == "alone"
        redis_server.start()
        await wait_for(rooms, connected=True)
        await alice.close()
    assert "is unreachable" in caplog.text


async def test_two_servers_of_one_app_share_the_connection(
    redis_server: RedisServer,
) -> None:
    """Rooms connect once per process, however many servers serve the app."""
    rooms = RedisRooms(redis_server.url)
    app = room_app(rooms)
    async with serving(app) as url_a:
        async with serving(app) as url_b:
            alice = await joined(url_a, "lobby")
            bob = await joined(url_b, "lobby")
            await alice.send("hello")
            assert await bob.recv() == "hello"
            assert await alice.recv() == "hello"
            await alice.close()
            await bob.close()
        assert rooms.connected
    assert not rooms.connected


@asynccontextmanager
async def two_workers(app: str, redis_server: RedisServer) -> AsyncIterator[int]:
    """
    Serve an app with two workers sharing rooms through Redis; yield the port.

    Then stop them, and check that they stop cleanly.

    """
    port = free_port()
    process, _ = await launch(
        "wsroute",
        "run",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        "--rooms",
        redis_server.url,
        "--no-access-log",
        urls=2,
    )
    try:
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(TIMEOUT):
            assert await process.wait() == 0


async def test_workers_share_rooms_through_redis(redis_server: RedisServer) -> None:
    """With --workers 2 --rooms redis://..., a room spans both workers."""
    async with two_workers("tests.redis_app:app", redis_server) as port:
        by_worker: dict[str, ClientConnection] = {}
        others = []
        for _ in range(30):  # the kernel spreads connections among workers
            ws = await connect(f"ws://127.0.0.1:{port}/room/lobby")
            pid = str(await ws.recv()).removeprefix("joined ")
            if pid in by_worker:
                others.append(ws)
            else:
                by_worker[pid] = ws
            if len(by_worker) == 2:
                break
        first, second = by_worker.values()
        await first.send("across workers")
        async with asyncio.timeout(TIMEOUT):
            assert await second.recv() == "across workers"
            assert await first.recv() == "across workers"
        for ws in [first, second, *others]:
            await ws.close()


def test_the_command_checks_the_rooms_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong rooms URL, or Redis rooms without redis-py: one line, exit 2."""
    assert main(["run", "tests.redis_app:app", "--rooms", "mqtt://broker"]) == 2
    assert capsys.readouterr().err == (
        "wsroute: error: rooms URL 'mqtt://broker': "
        "use memory:// or redis://HOST:PORT\n"
    )
    monkeypatch.setitem(sys.modules, "wsroute.redis", None)  # import fails
    assert main(["run", "tests.redis_app:app", "--rooms", "redis://x"]) == 2
    assert capsys.readouterr().err == (
        "wsroute: error: --rooms redis://... needs redis-py: "
        "pip install 'wsroute[redis]'\n"
    )


def test_rooms_from_url() -> None:
    """memory:// gives rooms in this process, redis:// Redis rooms."""
    assert type(rooms_from_url("memory://")) is Rooms
    rooms = rooms_from_url("redis://127.0.0.1:6379/1")
    assert isinstance(rooms, RedisRooms)
    assert repr(rooms) == "RedisRooms('redis://127.0.0.1:6379/1')"


async def test_a_backlog_for_redis_is_bounded(redis_server: RedisServer) -> None:
    """Beyond max_pending messages waiting for Redis, they stay in the process."""
    sender = RedisRooms(redis_server.url, max_pending=0)
    async with (
        serving(room_app(sender)) as url_a,
        serving(room_app(RedisRooms(redis_server.url))) as url_b,
    ):
        alice = await joined(url_a, "lobby")
        bob = await joined(url_b, "lobby")
        await alice.send("local only")
        assert await alice.recv() == "local only"
        await nothing_for(bob)
        await alice.close()
        await bob.close()


async def test_the_chat_example_with_workers_and_redis(
    redis_server: RedisServer,
) -> None:
    """The chat runs with --workers 2 --rooms redis://...: everyone hears all."""
    async with two_workers("examples.chat:app", redis_server) as port:
        clients = []
        for number in range(6):  # spread among the workers by the kernel
            name = f"user{number}"
            ws = await connect(f"ws://127.0.0.1:{port}/chat/lobby?name={name}")
            await next_event(ws, "join", name)  # then it's in the room
            clients.append(ws)
        await clients[0].send("Hello, all!")
        for client in clients:  # after join events, which may come late
            event = await next_event(client, "message", "user0")
            assert event["text"] == "Hello, all!"
        for client in clients:
            await client.close()


async def next_event(ws: ClientConnection, kind: str, user: str) -> dict[str, str]:
    """
    Read a chat client's events until one of a kind from a user; return it.

    Events from other processes come through Redis, so they may reach a
    client after those of its own process: a client may hear of someone who
    joined before it, for example.

    """
    for _ in range(20):
        event: dict[str, str] = json.loads(await ws.recv())
        if event["type"] == kind and event["user"] == user:
            return event
    raise AssertionError(f"no {kind} event from {user}")


async def test_a_redis_that_stops_answering_is_an_outage(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A frozen Redis, which keeps connections open, is noticed, then forgotten."""
    caplog.set_level(logging.WARNING, logger="wsroute.redis")
    rooms = RedisRooms(redis_server.url, timeout=0.2, max_backoff=0.1)
    async with serving(room_app(rooms)) as url:
        alice = await joined(url, "lobby")
        redis_server.freeze()
        try:
            await wait_for(rooms, connected=False)
            await alice.send("alone")  # never waits for Redis
            assert await alice.recv() == "alone"
        finally:
            redis_server.thaw()
        await wait_for(rooms, connected=True)
        await alice.close()
    assert "is unreachable (no answer in 0.2 seconds)" in caplog.text
    assert "is back" in caplog.text


async def test_rooms_that_no_channel_can_name_stay_in_the_process(
    redis_server: RedisServer,
) -> None:
    """A room name that UTF-8 can't encode reaches this process's members only."""
    rooms = RedisRooms(redis_server.url)
    async with (
        serving(room_app(rooms)) as url_a,
        serving(room_app(RedisRooms(redis_server.url))) as url_b,
    ):
        rooms.publish("\ud800", "nobody hears this")  # no error, no channel
        alice = await joined(url_a, "lobby")
        bob = await joined(url_b, "lobby")
        await alice.send("still shared")  # Redis rooms go on working
        assert await bob.recv() == "still shared"
        await alice.close()
        await bob.close()


def test_passwords_stay_out_of_logs() -> None:
    """The repr of Redis rooms, which logs use too, hides a password."""
    rooms = RedisRooms("redis://user:s3cr%40t@localhost:6379/0")
    assert repr(rooms) == "RedisRooms('redis://user:***@localhost:6379/0')"


async def test_a_quiet_subscription_pings_redis(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """When nothing is published, pings answered keep the subscription up."""
    caplog.set_level(logging.WARNING, logger="wsroute.redis")
    rooms = RedisRooms(redis_server.url, timeout=0.1)
    async with serving(room_app(rooms)):
        await asyncio.sleep(0.5)  # a few pings, all answered
        assert rooms.connected
    assert "unreachable" not in caplog.text


async def test_rooms_that_fail_to_start_stop_cleanly() -> None:
    """A URL that redis-py refuses fails the server's start, and leaks nothing."""
    rooms = RedisRooms("nosuchscheme://localhost")
    with pytest.raises(ValueError, match="Redis URL must specify one of"):
        async with serving(room_app(rooms)):
            pass  # pragma: no cover
    assert not rooms.connected
