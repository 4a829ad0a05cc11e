"""Limits: outbound buffer, dead peers, message rate, connection counts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import socket
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect, unix_connect
from websockets.asyncio.server import broadcast
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wsroute import App, Blueprint, Connection, Limits, SetupError
from wsroute.limits import TokenBucket, default_max_connections
from wsroute.testing import TestServer

from .conftest import TIMEOUT, exchange, handshake, probing, serving

CHUNK = "x" * 64 * 1024


def limited_app(limits: Limits | None = None) -> App:
    """An app with an echo route, a route that floods, and a probe route."""
    app = App(limits=limits)

    @app.route("/echo")
    async def echo(ws: Connection) -> None:
        async for message in ws:
            await ws.send(message)

    @app.route("/stream")
    async def stream(ws: Connection) -> None:
        async for fragment in ws.recv_streaming():
            await ws.send(fragment)
        async for fragment in ws.recv_streaming():
            await ws.send(fragment)
        await ws.wait_closed()

    @app.route("/flood")
    async def flood(ws: Connection) -> None:
        # broadcast() doesn't wait for the client: nothing slows this loop.
        for _ in range(TIMEOUT * 100):
            broadcast([ws], CHUNK)
            await asyncio.sleep(0.01)
            if ws.close_code is not None:
                return

    @app.route("/probe", limits=Limits(rate=None))
    async def probe(ws: Connection) -> None:
        async for message in ws:
            await ws.send(message)

    return app


async def closed_code(ws: ClientConnection) -> int | None:
    """Read until the connection closes; return the close code received."""
    async with asyncio.timeout(TIMEOUT):
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                pass
    return ws.close_code


async def probe_round_trip(url: str) -> None:
    """Check that a client on another route is served."""
    async with asyncio.timeout(TIMEOUT), connect(f"{url}/probe") as probe:
        await probe.send("ping")
        assert await probe.recv() == "ping"


# Outbound buffer


def shrink_send_buffer(ws: Connection) -> None:
    """Make the kernel's buffer small, so that the server's own fills soon."""
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)


def small_receive_buffer(url: str) -> socket.socket:
    """Connect a socket to the server at ``url``, with a small receive buffer."""
    host, _, port = url.removeprefix("ws://").partition(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.connect((host, int(port)))
    return sock


async def test_a_client_that_stops_reading_is_cut_off() -> None:
    """Data queued beyond max_buffer closes the connection within 2 s."""
    app = limited_app(Limits(max_buffer=256 * 1024))
    over_limit, closed = asyncio.Event(), asyncio.Event()
    buffered: list[int] = []

    @app.route("/watched")
    async def watched(ws: Connection) -> None:
        shrink_send_buffer(ws)
        while ws.close_code is None:
            broadcast([ws], CHUNK)  # nothing slows this loop but the sleep
            buffered.append(ws.transport.get_write_buffer_size())
            if buffered[-1] > 256 * 1024:
                over_limit.set()
            await asyncio.sleep(0.01)
        await ws.wait_closed()  # until the TCP connection is closed
        closed.set()

    async with serving(app, compression=None, max_size=None) as url:
        sock = small_receive_buffer(url)
        async with (
            probing(url, "/probe"),
            connect(f"{url}/watched", max_size=None, sock=sock) as client,
        ):
            client.transport.pause_reading()  # the client stops reading
            async with asyncio.timeout(TIMEOUT):
                await over_limit.wait()
            passed = time.monotonic()
            async with asyncio.timeout(TIMEOUT):
                await closed.wait()
            assert time.monotonic() - passed < 2
            # It got no more messages once it passed the limit.
            assert max(buffered) < 256 * 1024 + 30 * len(CHUNK)
            client.transport.resume_reading()  # to see that it's closed


# Just under max_buffer, 1 MiB: the kernel's buffers take about half of it.
BURST = 1_000_000


def burst_app() -> tuple[App, list[Connection], asyncio.Event]:
    """An app that sends BURST bytes without waiting, then "end"."""
    app = limited_app(Limits(max_buffer=2**20))
    connections: list[Connection] = []
    sent = asyncio.Event()

    @app.route("/burst")
    async def burst(ws: Connection) -> None:
        shrink_send_buffer(ws)
        connections.append(ws)
        broadcast([ws], "x" * BURST)  # over the high-water mark
        sent.set()
        with contextlib.suppress(ConnectionClosed):
            await ws.send("end")

    return app, connections, sent


async def test_a_client_that_reads_slowly_keeps_its_connection() -> None:
    """Below max_buffer, a full buffer is only watched, and then forgotten."""
    app, connections, sent = burst_app()
    async with serving(app, compression=None, max_size=None) as url:
        sock = small_receive_buffer(url)
        async with connect(f"{url}/burst", max_size=None, sock=sock) as client:
            client.transport.pause_reading()
            async with asyncio.timeout(TIMEOUT):
                await sent.wait()
            [ws] = connections
            assert ws.watching is not None  # over the high-water mark
            await asyncio.sleep(0.6)  # a couple of watches
            assert ws.watching is not None
            assert ws.close_code is None
            client.transport.resume_reading()
            async with asyncio.timeout(TIMEOUT):
                assert len(await client.recv()) == BURST
                assert await client.recv() == "end"
            assert ws.watching is None  # under the low-water mark


async def test_a_client_that_leaves_with_data_queued_ends_the_watch() -> None:
    """A connection lost while its buffer is full stops being watched."""
    app, connections, sent = burst_app()
    async with serving(app, compression=None, max_size=None) as url:
        sock = small_receive_buffer(url)
        client = await connect(f"{url}/burst", max_size=None, sock=sock)
        client.transport.pause_reading()
        async with asyncio.timeout(TIMEOUT):
            await sent.wait()
        [ws] = connections
        assert ws.watching is not None
        client.transport.abort()
        async with asyncio.timeout(TIMEOUT):
            await ws.wait_closed()
        assert ws.watching is None
        await probe_round_trip(url)


async def read_after_a_pause(
    client: ClientConnection, seconds: float, chunks: int
) -> None:
    """Stop reading for a while, then read ``chunks`` CHUNKs and "end"."""
    client.transport.pause_reading()
    await asyncio.sleep(seconds)
    client.transport.resume_reading()
    async with asyncio.timeout(TIMEOUT):
        for _ in range(chunks):
            assert await client.recv() == CHUNK
        assert await client.recv() == "end"


async def test_max_buffer_none_lifts_the_limit() -> None:
    """Without max_buffer, the buffer isn't watched, however full."""
    app = App(limits=Limits(max_buffer=None))
    buffered: list[int] = []

    @app.route("/burst")
    async def burst(ws: Connection) -> None:
        shrink_send_buffer(ws)
        for _ in range(32):  # 2 MiB, twice the default max_buffer
            broadcast([ws], CHUNK)
        await asyncio.sleep(0.3)  # a watch would have run by now
        buffered.append(ws.transport.get_write_buffer_size())
        assert ws.watching is None
        await ws.send("end")

    async with serving(app, compression=None, max_size=None) as url:
        sock = small_receive_buffer(url)
        async with connect(f"{url}/burst", max_size=None, sock=sock) as client:
            await read_after_a_pause(client, 0.5, chunks=32)
    assert buffered[0] > 2**20


async def test_rooms_send_to_members_without_max_buffer() -> None:
    """With max_buffer lifted, rooms send to a member whatever it holds."""
    app = App(limits=Limits(max_buffer=None))

    @app.route("/member")
    async def member(ws: Connection) -> None:
        ws.join("room")
        for _ in range(8):
            app.rooms.publish("room", CHUNK)
        await ws.send("end")

    async with serving(app, compression=None) as url:
        async with connect(f"{url}/member") as client:
            await read_after_a_pause(client, 0.3, chunks=8)


# Dead peers


async def test_a_dead_peer_is_dropped_even_with_data_queued() -> None:
    """A peer that neither reads nor answers pings is dropped in time."""
    app = limited_app(Limits(max_buffer=None))
    options = {"ping_interval": 0.5, "ping_timeout": 0.5, "close_timeout": 0.5}
    async with serving(app, compression=None, **options) as url:
        # A raw client that completes the handshake, then does nothing.
        host, _, port = url.removeprefix("ws://").partition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(handshake("/flood", host=f"{host}:{port}"))
        async with asyncio.timeout(TIMEOUT):
            await reader.readuntil(b"\r\n\r\n")
        async with probing(url, "/probe"):
            writer.transport.pause_reading()  # type: ignore[attr-defined]
            started = time.monotonic()
            async with asyncio.timeout(TIMEOUT):
                # The server drops it: reading then gets to EOF or a reset.
                writer.transport.resume_reading()  # type: ignore[attr-defined]
                await asyncio.sleep(0)
                while await reader.read(2**20):
                    if time.monotonic() - started > 2.5:
                        break
        # ping_interval + ping_timeout + 1 s for the close frame + 1 s.
        assert time.monotonic() - started < 0.5 + 0.5 + 1 + 1
        writer.close()


async def test_a_live_peer_keeps_answering_pings() -> None:
    """Keepalive pings get pongs from a client that reads."""
    app = limited_app()
    async with serving(app, ping_interval=0.1, ping_timeout=0.5) as url:
        async with connect(f"{url}/echo", ping_interval=None) as client:
            for _ in range(5):  # half a second of pings
                await client.send("ping")
                async with asyncio.timeout(TIMEOUT):
                    assert await client.recv() == "ping"
                await asyncio.sleep(0.1)


async def test_keepalive_stops_when_the_connection_closes() -> None:
    """Pings due while the connection closes don't get in its way."""
    app = App()
    closing = asyncio.Event()

    @app.route("/slow-close")
    async def slow_close(ws: Connection) -> None:
        await ws.close()
        closing.set()

    async with serving(app, ping_interval=0.05, ping_timeout=None) as url:
        async with connect(f"{url}/slow-close") as client:
            async with asyncio.timeout(TIMEOUT):
                await closing.wait()
            assert await closed_code(client) == 1000


# Message rate


async def test_a_flooder_is_closed_with_1008() -> None:
    """Messages beyond the rate and the burst close the connection."""
    app = limited_app(Limits(rate=50, burst=20))
    async with serving(app) as url:
        async with probing(url, "/probe"):
            async with connect(f"{url}/echo") as client:
                for number in range(200):
                    await client.send(f"{number}")
                code = await closed_code(client)
                assert code == 1008
                assert client.close_reason == "too many messages"


async def test_a_ping_flood_is_closed_with_1008() -> None:
    """Pings count against the rate: websockets answers each one."""
    app = limited_app(Limits(rate=10, burst=20))
    async with serving(app) as url:
        async with probing(url, "/probe"):
            async with connect(f"{url}/echo", ping_interval=None) as client:
                with contextlib.suppress(ConnectionClosed):
                    for _ in range(100):
                        await client.ping()
                assert await closed_code(client) == 1008


async def test_messages_count_even_when_the_handler_does_not_read() -> None:
    """A flood to a handler that isn't reading is closed all the same."""
    app = limited_app(Limits(rate=10, burst=20))

    @app.route("/idle")
    async def idle(ws: Connection) -> None:
        await ws.wait_closed()

    async with serving(app) as url:
        async with probing(url, "/probe"):
            async with connect(f"{url}/idle") as client:
                with contextlib.suppress(ConnectionClosed):
                    for number in range(100):
                        await client.send(f"{number}")
                assert await closed_code(client) == 1008


async def test_a_client_within_the_rate_is_served() -> None:
    """The burst absorbs a batch; the rate refills it."""
    app = limited_app(Limits(rate=1000, burst=10))
    async with serving(app) as url:
        async with connect(f"{url}/echo") as client:
            for _ in range(3):
                for number in range(10):
                    await client.send(f"{number}")
                async with asyncio.timeout(TIMEOUT):
                    for number in range(10):
                        assert await client.recv() == f"{number}"
                await asyncio.sleep(0.02)  # 20 tokens' worth


async def test_the_rate_limits_streamed_messages() -> None:
    """A fragmented message counts once, by its first fragment."""
    app = limited_app(Limits(rate=0.01, burst=1))
    async with serving(app) as url:
        async with connect(f"{url}/stream") as client:
            await client.send(["a", "b"])
            async with asyncio.timeout(TIMEOUT):
                assert await client.recv() == "a"
                assert await client.recv() == "b"
            await client.send(["c", "d"])
            assert await closed_code(client) == 1008


async def test_a_route_lifts_the_rate() -> None:
    """A route's limits replace the app's."""
    app = limited_app(Limits(rate=1, burst=1))
    async with serving(app) as url:
        async with asyncio.timeout(TIMEOUT), connect(f"{url}/probe") as probe:
            for number in range(50):
                await probe.send(f"{number}")
            for number in range(50):
                assert await probe.recv() == f"{number}"


def test_a_token_bucket_refills_at_its_rate() -> None:
    """A bucket gives its burst at once, then its rate."""
    bucket = TokenBucket(rate=10, burst=3)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    bucket.updated -= 0.1  # as if 0.1 s had passed: one more token
    assert [bucket.take() for _ in range(2)] == [True, False]
    bucket.updated -= 100  # never more than the burst
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


# Connection counts


async def test_connections_beyond_the_limit_get_503() -> None:
    """Over max_connections, a handshake gets 503; a closed one frees a slot."""
    app = limited_app(Limits(max_connections=2))
    async with serving(app) as url:
        first = await connect(f"{url}/echo")
        second = await connect(f"{url}/echo")
        with pytest.raises(InvalidStatus) as raised:
            await connect(f"{url}/echo")
        response = raised.value.response
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.body == b"The server is at its connection limit.\n"
        await first.send("still served")
        assert await first.recv() == "still served"
        await first.close()
        third = await connect_once_counted_out(f"{url}/echo")
        await third.close()
        await second.close()


async def connect_once_counted_out(url: str) -> ClientConnection:
    """Connect, once the server counted out a connection that just closed."""
    async with asyncio.timeout(TIMEOUT):
        while True:  # the server counts it out once its socket closes
            try:
                return await connect(url)
            except InvalidStatus:
                await asyncio.sleep(0.01)


async def test_refused_handshakes_free_their_slot() -> None:
    """A 404, a 426 or a refused origin doesn't keep its slot."""
    app = limited_app(Limits(max_connections=1))
    async with serving(app) as url:
        for request in [
            handshake("/nowhere"),
            handshake("/echo").replace(b"Upgrade: websocket\r\n", b""),
            handshake("/echo", Origin="https://elsewhere.example"),
        ]:
            for _ in range(3):
                status, _, _ = await exchange(url, request)
                assert status in {403, 404, 426}
        await probe_round_trip(url)


def open_descriptors() -> int:
    """How many files this process has open, from /proc."""
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (handshake("/echo"), 503),
        (handshake("/nowhere"), 404),
        (handshake("/echo?" + "a" * 9000), 414),
    ],
    ids=["over the limit", "no route", "malformed"],
)
async def test_a_refused_client_that_stays_holds_no_server_file(
    request_bytes: bytes, status: int
) -> None:
    """The server closes a refused connection once answered, client or not."""
    app = limited_app(Limits(max_connections=1 if status == 503 else None))
    async with serving(app) as url, connect(f"{url}/echo"):
        host, _, port = url.removeprefix("ws://").partition(":")
        before = open_descriptors()
        writers = []
        for _ in range(20):
            reader, writer = await asyncio.open_connection(host, int(port))
            writers.append(writer)  # the client keeps its end open
            writer.write(request_bytes)
            async with asyncio.timeout(TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(f"HTTP/1.1 {status} ".encode())
        # websockets would wait 10 s for the clients to close: close_timeout,
        # or open_timeout for a malformed request.
        for _ in range(TIMEOUT * 100):
            if open_descriptors() <= before + len(writers):
                break
            await asyncio.sleep(0.01)
        assert open_descriptors() == before + len(writers)
        for writer in writers:
            writer.close()


async def test_connections_per_client_beyond_the_limit_get_429() -> None:
    """Over max_connections_per_client, a handshake gets 429."""
    app = limited_app(Limits(max_connections_per_client=1))
    async with serving(app) as url:
        async with connect(f"{url}/echo") as first:
            with pytest.raises(InvalidStatus) as raised:
                await connect(f"{url}/echo")
            assert raised.value.response.status_code == 429
            await first.send("still served")
            assert await first.recv() == "still served"


def admin_and_public_app(limits: Limits) -> App:
    """An app whose /admin route takes one connection at a time."""
    app = App(limits=limits)

    async def wait(ws: Connection) -> None:
        await ws.wait_closed()

    app.add_route("/admin", wait, endpoint="admin", limits=Limits(max_connections=1))
    app.add_route("/public", wait, endpoint="public")
    return app


async def test_a_route_counts_its_own_connections() -> None:
    """A route's max_connections counts its connections, within the app's."""
    app = admin_and_public_app(Limits())
    async with serving(app) as url, connect(f"{url}/admin"):
        with pytest.raises(InvalidStatus) as raised:
            await connect(f"{url}/admin")
        assert raised.value.response.status_code == 503
        async with connect(f"{url}/public"), connect(f"{url}/public"):
            pass


async def test_a_unix_socket_has_no_client_address(tmp_path: Path) -> None:
    """Per-client limits don't apply to clients without an address."""
    app = limited_app(Limits(max_connections_per_client=1))
    path = str(tmp_path / "socket")
    async with TestServer(app, unix=True, path=path):
        async with (
            unix_connect(path, "ws://localhost/echo") as first,
            unix_connect(path, "ws://localhost/echo") as second,
        ):
            await first.send("one")
            await second.send("two")
            assert await first.recv() == "one"
            assert await second.recv() == "two"


async def test_debug_mode_tells_a_refusal_for_limits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Debug mode traces refusals by the app's and the route's limits."""
    app = admin_and_public_app(Limits(max_connections=2))
    caplog.set_level(logging.INFO, "wsroute.debug")
    async with serving(app, debug=True) as url, connect(f"{url}/admin"):
        with pytest.raises(InvalidStatus):
            await connect(f"{url}/admin")
        async with await connect_once_counted_out(f"{url}/public"):
            with pytest.raises(InvalidStatus):
                await connect(f"{url}/public")
    messages = [record.getMessage() for record in caplog.records]
    assert any("limits: the route is full: answers 503" in m for m in messages)
    assert any("limits: the app is full: answers 503" in m for m in messages)


# Setup


def test_limits_default_to_safe_values() -> None:
    """The defaults: 1 MiB, 100 messages/s with bursts of 200, fds."""
    limits = Limits()
    assert limits.max_buffer == 2**20
    assert (limits.rate, limits.burst) == (100, 200)
    assert limits.max_connections == default_max_connections()
    assert limits.max_connections_per_client is None
    assert limits.replace(rate=None).rate is None
    assert App().limits == limits


def test_max_connections_default_below_the_open_file_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The default leaves a tenth of the file descriptors to the rest."""

    def getrlimit(soft: int) -> object:
        return lambda which: (soft, resource.RLIM_INFINITY)

    monkeypatch.setattr(resource, "getrlimit", getrlimit(1024))
    assert default_max_connections() == 921
    monkeypatch.setattr(resource, "getrlimit", getrlimit(1))
    assert default_max_connections() == 1
    monkeypatch.setattr(resource, "getrlimit", getrlimit(resource.RLIM_INFINITY))
    assert default_max_connections() == 1_000_000


def test_a_redirect_takes_no_limits() -> None:
    """A rule that redirects opens no WebSocket: it takes no limits."""
    app = App()
    with pytest.raises(SetupError, match="takes no limits"):
        app.add_route("/old", redirect_to="/new", limits=Limits())


async def test_a_blueprint_route_keeps_its_limits() -> None:
    """A blueprint's route brings its limits to the app."""
    blueprint = Blueprint("chat", url_prefix="/chat")

    @blueprint.route("/room", limits=Limits(rate=1, burst=1))
    async def room(ws: Connection) -> None:
        async for message in ws:
            await ws.send(message)

    app = App()
    app.register_blueprint(blueprint)
    async with serving(app) as url, connect(f"{url}/chat/room") as client:
        await client.send("one")
        assert await client.recv() == "one"
        await client.send("two")
        await client.send("three")
        assert await closed_code(client) == 1008


# Compression


async def test_compression_is_off_by_default() -> None:
    """A client's offer of permessage-deflate is declined."""
    app = limited_app()
    async with serving(app) as url:
        async with connect(f"{url}/echo", compression="deflate") as client:
            assert client.protocol.extensions == []
            assert client.response is not None
            assert "Sec-WebSocket-Extensions" not in client.response.headers


async def test_a_deflate_bomb_closes_1009() -> None:
    """A message that inflates beyond max_size closes with 1009 at once."""
    app = limited_app(Limits(rate=None))
    async with serving(app, compression="deflate", max_size=2**20) as url:
        async with probing(url, "/probe"):
            async with connect(
                f"{url}/echo", compression="deflate", max_size=None
            ) as client:
                assert [ext.name for ext in client.protocol.extensions] == [
                    "permessage-deflate"
                ]
                bomb = "x" * 64 * 2**20  # 64 MiB that deflate makes about 64 KiB
                await client.send(bomb)
                assert await closed_code(client) == 1009


async def test_a_compressed_frame_without_compression_closes_1002() -> None:
    """A frame with RSV1 set, on a connection without deflate, closes 1002."""
    async with serving(limited_app()) as url:
        host, _, port = url.removeprefix("ws://").partition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(handshake("/echo", host=f"{host}:{port}"))
        async with asyncio.timeout(TIMEOUT):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"\xc1\x80" + b"\x00" * 4)  # FIN, RSV1, text; masked
            header = await reader.readexactly(2)
            payload = await reader.readexactly(header[1])
        assert header[0] == 0x88  # a close frame
        assert int.from_bytes(payload[:2]) == 1002
        writer.close()
        await probe_round_trip(url)
