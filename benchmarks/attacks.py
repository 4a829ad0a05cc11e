#!/usr/bin/env python
"""
Each attack of the reliability page, against bare websockets and wsroute.

    .venv/bin/python benchmarks/attacks.py [--attacks flood crashes ...]
                                           [--servers bare wsroute]

For each attack and each server, this script starts a fresh server process,
pinned to core 0, with its log going to a file, and connects a probe client
to its ``/probe`` route, which times a round trip every 10 ms for a second.
Then it runs the attack from a process of its own, pinned to core 1, while
the probe goes on timing a round trip every 10 ms and the script reads the
server's memory from /proc. It prints a table for each attack: what the
attacker sent and what became of it, the probe's round trips before and
during the attack, the growth of the server's memory, and what the server
logged while under attack.

The two servers serve the same routes: ``/echo`` and ``/probe`` echo each
message; ``/room`` makes the client a member of a room; each message sent
to ``/publish`` goes to every member of the room; the handler of ``/crash``
raises an exception.

- ``bare``: websockets' ``serve()``, with a handler that picks what to do by
  the path, ``broadcast()`` for the room, and ``logging.basicConfig()``:
  what a websockets user writes.
- ``wsroute``: an :class:`~wsroute.App`, run by ``app.run()`` with wsroute's
  defaults; its ``/probe`` route lifts the rate limit, since the probe sends
  its 20 round trips back to back.

Both run with the same websockets options, given per attack, and with run.py's
glibc thresholds. The server's memory is its resident set size, which
includes memory that Python freed but kept: it tells how much an attack made
the server take, not what it holds after.

"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import json
import logging
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import IO, Any

from harness import pin, resident_bytes
from run import TUNABLES, environment
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

HOST = "127.0.0.1"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CHUNK = 64 * 1024
# What the secrets attack sends, in the query, headers and a first message.
SECRETS = {
    "query": "s3cr3t-query",
    "cookie": "s3cr3t-cookie",
    "bearer": "s3cr3t-bearer",
    "message": "s3cr3t-message",
}

Figures = dict[str, object]


# The servers


def shrink_send_buffer(ws: ServerConnection) -> None:
    """
    Make the kernel's send buffer of a member's socket small.

    What a member doesn't take then waits in the server's own buffer, where
    websockets and wsroute see it, rather than in the kernel's, which takes
    up to 4 MiB on loopback.

    """
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)


async def bare_handler(members: set[ServerConnection], ws: ServerConnection) -> None:
    """Serve the routes by hand, as a websockets user does without a router."""
    assert ws.request is not None
    path = ws.request.path.partition("?")[0]
    if path in ("/echo", "/probe"):
        async for message in ws:
            await ws.send(message)
    elif path == "/room":
        shrink_send_buffer(ws)
        members.add(ws)
        try:
            await ws.wait_closed()
        finally:
            members.discard(ws)
    elif path == "/publish":
        async for message in ws:
            broadcast(members, message)
    elif path == "/crash":
        raise RuntimeError("the handler failed")
    else:
        await ws.close(1008, "no such path")


async def serve_bare(sock: socket.socket, options: dict[str, Any]) -> None:
    """Serve with websockets alone until SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    members: set[ServerConnection] = set()
    async with serve(functools.partial(bare_handler, members), sock=sock, **options):
        await stop.wait()


def wsroute_app() -> Any:
    """The same routes, in a wsroute app."""
    from wsroute import App, Connection, Limits

    app = App()

    async def echo(ws: Connection) -> None:
        async for message in ws:
            await ws.send(message)

    async def room(ws: Connection) -> None:
        shrink_send_buffer(ws)
        ws.join("room")
        await ws.wait_closed()

    async def publish(ws: Connection) -> None:
        async for message in ws:
            app.rooms.publish("room", message)

    async def crash(ws: Connection) -> None:
        raise RuntimeError("the handler failed")

    app.add_route("/echo", echo)
    app.add_route("/probe", echo, endpoint="probe", limits=Limits(rate=None))
    app.add_route("/room", room)
    app.add_route("/publish", publish)
    app.add_route("/crash", crash)
    return app


def serve_process(kind: str, options: dict[str, Any]) -> None:
    """
    Run a server: bind a port, print it, serve until SIGTERM.

    ``options`` holds websockets' options, and two of this script's own:
    ``log_level``, and ``nofile``, a soft limit of open files.

    """
    pin(0)
    if nofile := options.pop("nofile", None):
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
    log_level = options.pop("log_level", "INFO")
    sock = socket.create_server((HOST, 0))
    print(sock.getsockname()[1], flush=True)
    if kind == "bare":
        logging.basicConfig(level=log_level, format=LOG_FORMAT)
        asyncio.run(serve_bare(sock, options))
    else:
        wsroute_app().run(sock=sock, log_level=log_level, **options)


@dataclass
class ServerProcess:
    """A server process, its port, and the file its log goes to."""

    process: subprocess.Popen[str]
    port: int
    log: IO[bytes]

    def log_size(self) -> int:
        """How many bytes the server has logged so far."""
        return os.fstat(self.log.fileno()).st_size

    def log_lines(self, start: int) -> list[str]:
        """The lines logged since the server had logged ``start`` bytes."""
        data = os.pread(self.log.fileno(), self.log_size() - start, start)
        return data.decode(errors="replace").splitlines()


@contextmanager
def server_process(kind: str, options: dict[str, Any]) -> Iterator[ServerProcess]:
    """Run a server process of ``kind``; stop it when the block ends."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, json.dumps(options)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=environment(TUNABLES),
        )
        try:
            assert process.stdout is not None
            port = process.stdout.readline().strip()
            if not port.isdigit():
                raise RuntimeError(f"server {kind} didn't start: it printed {port!r}")
            yield ServerProcess(process, int(port), log)
        finally:
            process.terminate()
            process.wait(timeout=30)


# Raw clients, for what the websockets client won't send


def request(port: int, path: str, *headers: str) -> bytes:
    """A handshake request, with extra header lines."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *headers,
    ]
    return "\r\n".join([*lines, "", ""]).encode()


def frame(first: int, payload: bytes, length: int | None = None) -> bytes:
    """A client frame: its first byte, then a zero mask, which changes nothing."""
    size = len(payload) if length is None else length
    if size < 126:
        header = bytes([first, 0x80 | size])
    elif size < 2**16:
        header = bytes([first, 0x80 | 126]) + size.to_bytes(2)
    else:
        header = bytes([first, 0x80 | 127]) + size.to_bytes(8)
    return header + b"\x00\x00\x00\x00" + payload


async def answer(port: int, data: bytes, then: bytes = b"") -> str:
    """
    Send ``data`` and return the HTTP status of the answer.

    After a 101, if ``then`` is given, send it and return instead the code
    of the close frame that the server sends. "no answer" means that the
    server said nothing for 2 s, "EOF" that it closed without a word.

    """
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        async with asyncio.timeout(2):
            writer.write(data)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return "EOF"
            status = head.split(b" ", 2)[1].decode()
            if status != "101" or not then:
                return status
            writer.write(then)
            header = await reader.readexactly(2)
            if header[0] & 0x0F != 0x8:
                return f"opcode {header[0] & 0x0F}"
            payload = await reader.readexactly(header[1] & 0x7F)
            return str(int.from_bytes(payload[:2])) if payload else "1005"
    except TimeoutError:
        return "no answer"
    except (asyncio.IncompleteReadError, ConnectionError):
        return "EOF"
    finally:
        writer.close()


def stopped_reader(port: int, path: str) -> socket.socket:
    """Open a connection that completes its handshake, then reads nothing more."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CHUNK)
    sock.connect((HOST, port))
    sock.sendall(request(port, path))
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte, to read nothing past it
    return sock


def server_side_open(server_port: int, client: socket.socket) -> bool:
    """
    Tell whether the server still holds the connection of ``client`` open.

    The server's end of it, in the kernel's table of TCP sockets, leaves the
    ESTABLISHED state as soon as the server closes it, whether or not the
    client reads.

    """
    local = f"0100007F:{server_port:04X}"
    remote = f"0100007F:{client.getsockname()[1]:04X}"
    with open("/proc/net/tcp") as table:
        for line in table:
            fields = line.split()
            if fields[1:3] == [local, remote]:
                return fields[3] == "01"  # ESTABLISHED
    return False


def tally(results: list[str]) -> str:
    """Count results: ``1008 x3, EOF x1``, the most frequent first."""
    return ", ".join(f"{result} x{n:,}" for result, n in Counter(results).most_common())


async def until_closed(ws: ClientConnection, seconds: float) -> str:
    """Read until the server closes; give its close code, or "still open"."""
    with suppress(ConnectionClosed, TimeoutError):
        async with asyncio.timeout(seconds):
            async for _ in ws:
                pass
    return "still open" if ws.close_code is None else str(ws.close_code)


# The attacks, each run in the attacker's process; ``kill`` asks the driver
# to send a signal to the server.


async def slow_member(port: int, kill: Callable[[str], None]) -> Figures:
    """
    A member of a room stops reading.

    10 members read; 64 KiB go to the room every 10 ms for 10 s.

    """
    url = f"ws://{HOST}:{port}"
    members = [
        await connect(f"{url}/room", max_size=None, compression=None) for _ in range(10)
    ]
    stuck = stopped_reader(port, "/room")
    publisher = await connect(f"{url}/publish", compression=None)
    await asyncio.sleep(0.1)  # let the handlers join the room

    async def receive(member: ClientConnection, count: int) -> int:
        for number in range(count):
            message = await member.recv()
            if not isinstance(message, bytes) or int.from_bytes(message[:4]) != number:
                return number
        return count

    receivers = [asyncio.create_task(receive(member, 1000)) for member in members]
    start, cut_off = time.monotonic(), None
    for number in range(1000):
        await publisher.send(number.to_bytes(4) + bytes(CHUNK - 4))
        if cut_off is None and not server_side_open(port, stuck):
            cut_off = time.monotonic() - start
        await asyncio.sleep(0.01)
    async with asyncio.timeout(10):
        received = await asyncio.gather(*receivers)
    stuck.close()
    return {
        "published": "1,000 x 64 KiB in 10 s",
        "each member got, in order": tally([str(n) for n in received]),
        "the stuck member was cut off after": "never"
        if cut_off is None
        else f"{cut_off:.2f} s",
    }


async def dead_peer(port: int, kill: Callable[[str], None]) -> Figures:
    """
    A member of a room stops reading and answering pings.

    900 KiB are queued for it; both servers ping every second, with timeouts
    of 1 s.

    """
    dead = stopped_reader(port, "/room")
    async with connect(f"ws://{HOST}:{port}/publish", compression=None) as publisher:
        await asyncio.sleep(0.1)  # let the handler join the room
        start, closed = time.monotonic(), None
        await publisher.send(bytes(900 * 1024))
        for _ in range(1500):  # 15 s
            if not server_side_open(port, dead):
                closed = time.monotonic() - start
                break
            await asyncio.sleep(0.01)
    dead.close()
    return {
        "queued": "one 900 KiB message",
        "the dead peer was dropped after": "not in 15 s"
        if closed is None
        else f"{closed:.2f} s",
    }


async def flood(port: int, kill: Callable[[str], None]) -> Figures:
    """
    A client sends messages as fast as it can.

    64-byte messages to /echo for 5 s; it reads the echoes, and reconnects
    when it's closed.

    """
    sent = echoed = 0
    closes: list[str] = []
    deadline = time.monotonic() + 5

    async def read(ws: ClientConnection) -> None:
        nonlocal echoed
        with suppress(ConnectionClosed):
            async for _ in ws:
                echoed += 1

    while time.monotonic() < deadline:
        try:
            async with connect(f"ws://{HOST}:{port}/echo", compression=None) as ws:
                reader = asyncio.create_task(read(ws))
                while time.monotonic() < deadline:
                    await ws.send("x" * 64)
                    sent += 1
                    if sent % 64 == 0:
                        await asyncio.sleep(0)  # let the reader run
                reader.cancel()
        except ConnectionClosed as exc:
            closes.append(str(exc.rcvd.code) if exc.rcvd else "1006")
        except (InvalidStatus, OSError) as exc:
            closes.append(type(exc).__name__)
    return {
        "messages sent": f"{sent:,}",
        "echoed": f"{echoed:,}",
        "closed by the server": tally(closes) or "never",
    }


async def connections(port: int, kill: Callable[[str], None]) -> Figures:
    """
    A client opens more connections than the server has file descriptors.

    1,500 handshakes to /echo, 50 at a time; then, while the open ones are
    held, 200 connections that send nothing, for 3 s. The server's limit of
    open files is 1,024.

    """
    handshakes: list[str] = []
    idle: list[str] = []
    held: list[asyncio.StreamWriter] = []
    in_flight = asyncio.Semaphore(50)

    async def open_one(results: list[str]) -> None:
        async with in_flight:
            try:
                async with asyncio.timeout(2):
                    reader, writer = await asyncio.open_connection(HOST, port)
                    held.append(writer)
                    if results is idle:
                        results.append("connected")
                        return
                    writer.write(request(port, "/echo"))
                    head = await reader.readuntil(b"\r\n\r\n")
                    results.append(head.split(b" ", 2)[1].decode())
            except TimeoutError:
                results.append("no answer in 2 s")
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                results.append(type(exc).__name__)

    await asyncio.gather(*(open_one(handshakes) for _ in range(1500)))
    await asyncio.gather(*(open_one(idle) for _ in range(200)))
    await asyncio.sleep(3)
    for writer in held:
        writer.close()
    return {
        "handshakes": tally(handshakes),
        "connections that send nothing": tally(idle),
    }


HANDSHAKES: dict[str, Callable[[int], bytes]] = {
    "request line over 8 KiB": lambda port: request(port, "/echo?" + "a" * 9000),
    "header over 8 KiB": lambda port: request(port, "/echo", "X-Big: " + "a" * 9000),
    "POST": lambda port: request(port, "/echo").replace(b"GET", b"POST", 1),
    "HTTP/1.0": lambda port: request(port, "/echo").replace(b"1.1", b"1.0", 1),
    "no Host": lambda port: request(port, "/echo").replace(b"Host", b"X-Host", 1),
    "two Host": lambda port: request(port, "/echo", f"Host: {HOST}:{port}"),
    "version 12": lambda port: request(port, "/echo").replace(b": 13", b": 12"),
    "no key": lambda port: request(port, "/echo").replace(b"Key", b"X-Key"),
    "garbage": lambda port: b"\x00\xff" * 100 + b"\r\n\r\n",
    "TLS ClientHello": lambda port: bytes.fromhex("160301002e0100002a0303") + bytes(40),
    "cross-site Origin": lambda port: request(
        port, "/echo", "Origin: https://evil.example"
    ),
}

FRAMES: dict[str, bytes] = {
    "unmasked": b"\x81\x05hello",
    "reserved bit": frame(0xA1, b"hello"),
    "reserved opcode": frame(0x83, b"hello"),
    "ping of 126 bytes": frame(0x89, bytes(126)),
    "fragmented ping": frame(0x09, b"ping"),
    "continuation first": frame(0x80, b"hello"),
    "invalid UTF-8": frame(0x81, b"\xff\xfe"),
    "close code 1005": frame(0x88, (1005).to_bytes(2)),
    "message over 1 MiB": frame(0x82, b"", length=2**21),
    "compressed, not negotiated": frame(0xC1, b"hello"),
    "close with 4000": frame(0x88, (4000).to_bytes(2)),
}


async def malformed(port: int, kill: Callable[[str], None]) -> Figures:
    """
    Clients break the rules of HTTP and of WebSocket.

    11 malformed handshakes, and 11 faulty frames after a handshake to /echo,
    10 of each.

    """
    figures: Figures = {}
    for case, build in HANDSHAKES.items():
        answers = [answer(port, build(port)) for _ in range(10)]
        figures[f"handshake: {case}"] = tally(await asyncio.gather(*answers))
    for case, data in FRAMES.items():
        answers = [answer(port, request(port, "/echo"), data) for _ in range(10)]
        figures[f"frame: {case}"] = tally(await asyncio.gather(*answers))
    return figures


async def secrets(port: int, kill: Callable[[str], None]) -> Figures:
    """
    Clients send credentials, with the server's log at DEBUG level.

    A token in the query, a cookie, a bearer token, and a token in a message.

    """
    url = f"ws://{HOST}:{port}"
    headers = {
        "Cookie": f"session={SECRETS['cookie']}",
        "Authorization": f"Bearer {SECRETS['bearer']}",
    }
    for path in ("/echo", "/crash"):
        async with connect(
            f"{url}{path}?token={SECRETS['query']}", additional_headers=headers
        ) as ws:
            with suppress(ConnectionClosed):
                await ws.send(json.dumps({"token": SECRETS["message"]}))
                await ws.recv()
    return {"connections": "2: one echoes the message, one's handler fails"}


async def deflate_bomb(port: int, kill: Callable[[str], None]) -> Figures:
    """
    A client sends a deflate bomb.

    A 64 MiB message that deflate makes 64 KiB, with compression on for both
    servers.

    """
    async with connect(f"ws://{HOST}:{port}/echo", max_size=None) as ws:
        await ws.send(bytes(2**26))
        start = time.monotonic()
        code = await until_closed(ws, 10)
    return {"closed with": code, "after": f"{time.monotonic() - start:.3f} s"}


async def slowloris(port: int, kill: Callable[[str], None]) -> Figures:
    """
    Clients trickle their handshakes.

    1,000 clients send their handshake a byte every 0.1 s; open_timeout is 1 s
    on both servers.

    """
    data = request(port, "/echo")
    lasted: list[float] = []
    connecting = asyncio.Semaphore(100)

    async def trickle() -> None:
        async with connecting:
            reader, writer = await asyncio.open_connection(HOST, port)
        start = time.monotonic()
        with suppress(ConnectionError):
            for byte in data:
                writer.write(bytes([byte]))
                await writer.drain()
                with suppress(TimeoutError):
                    async with asyncio.timeout(0.1):
                        if not await reader.read(1):
                            break  # the server closed it
        lasted.append(time.monotonic() - start)
        writer.close()

    await asyncio.gather(*(trickle() for _ in range(1000)))
    closed = [seconds for seconds in lasted if seconds < 0.1 * len(data)]
    return {
        "closed by the server": f"{len(closed):,} of 1,000",
        "the last one after": f"{max(closed, default=0):.2f} s",
    }


async def crashes(port: int, kill: Callable[[str], None]) -> Figures:
    """
    Handlers crash.

    10,000 connections to /crash, whose handler raises, 50 at a time.

    """
    codes: list[str] = []
    left = 10_000

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with connect(f"ws://{HOST}:{port}/crash", compression=None) as ws:
                codes.append(await until_closed(ws, 5))

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(50)))
    return {"closed with": tally(codes), "in": f"{time.monotonic() - start:.1f} s"}


async def shutdown(port: int, kill: Callable[[str], None]) -> Figures:
    """
    The server stops.

    SIGTERM with 300 open connections and 20 handshakes halfway.

    """
    url = f"ws://{HOST}:{port}"
    clients = [await connect(f"{url}/echo", compression=None) for _ in range(300)]
    halfway = []
    for _ in range(20):
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(request(port, "/echo")[:-2])  # all but the last line's end
        halfway.append((reader, writer))
    await asyncio.sleep(0.1)
    kill("TERM")
    signalled = time.monotonic()
    codes = await asyncio.gather(*(until_closed(ws, 15) for ws in clients))

    async def status(reader: asyncio.StreamReader) -> str:
        try:
            async with asyncio.timeout(15):
                head = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            return "no answer in 15 s"
        except (asyncio.IncompleteReadError, ConnectionError):
            return f"closed {time.monotonic() - signalled:.0f} s after SIGTERM"
        return head.split(b" ", 2)[1].decode()

    statuses = await asyncio.gather(*(status(reader) for reader, _ in halfway))
    return {
        "connections closed with": tally(codes),
        "handshakes halfway got": tally(statuses),
    }


@dataclass(frozen=True)
class Attack:
    """An attack, and the server options it runs with."""

    run: Callable[[int, Callable[[str], None]], Coroutine[Any, Any, Figures]]
    options: dict[str, Any] = field(default_factory=dict)


KEEPALIVE = {"ping_interval": 1, "ping_timeout": 1, "close_timeout": 1}
ATTACKS = {
    "slow-member": Attack(slow_member),
    "dead-peer": Attack(dead_peer, KEEPALIVE),
    "flood": Attack(flood),
    "connections": Attack(connections, {"nofile": 1024}),
    "malformed": Attack(malformed),
    "secrets": Attack(secrets, {"log_level": "DEBUG"}),
    "deflate-bomb": Attack(deflate_bomb, {"compression": "deflate"}),
    "slowloris": Attack(slowloris, {"open_timeout": 1}),
    "crashes": Attack(crashes),
    "shutdown": Attack(shutdown),
}


def attack_process(name: str, port: int) -> None:
    """
    Run an attack; print "start", any ``kill`` lines, then figures as JSON.

    "start" tells the driver that this process has started, which takes
    the time of its core: the probe's round trips count from then.

    """
    pin(1)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def kill(signal_name: str) -> None:
        print("kill", signal_name, flush=True)

    print("start", flush=True)
    figures = asyncio.run(ATTACKS[name].run(port, kill))
    print(json.dumps(figures), flush=True)


# The driver


async def round_trip(probe: ClientConnection) -> float:
    """One round trip of the probe, in ms."""
    start = time.perf_counter()
    async with asyncio.timeout(10):
        await probe.send("probe")
        await probe.recv()
    return (time.perf_counter() - start) * 1000


async def new_client(port: int) -> str:
    """Tell whether a new client can connect and be served."""
    try:
        async with asyncio.timeout(10), connect(f"ws://{HOST}:{port}/echo") as ws:
            await ws.send("hello")
            await ws.recv()
    except (TimeoutError, OSError, ConnectionClosed, InvalidStatus) as exc:
        return f"not served: {type(exc).__name__}"
    return "served"


def milliseconds(latencies: list[float]) -> str:
    """The median and the 99th percentile."""
    if len(latencies) < 2:
        return "n/a"
    p99 = statistics.quantiles(latencies, n=100)[98]
    return f"{statistics.median(latencies):.2f} / {p99:.2f}"


def log_figures(lines: list[str]) -> Figures:
    """Count a server's log lines: warnings, errors, tracebacks, secrets."""
    levels = Counter(line.split(" ", 3)[2] for line in lines if line[:2] == "20")
    return {
        "log lines": f"{len(lines):,}",
        "of which WARNING / ERROR": f"{levels['WARNING']:,} / {levels['ERROR']:,}",
        "tracebacks": f"{sum(line.startswith('Traceback') for line in lines):,}",
        "lines with a secret": str(
            sum(any(secret in line for secret in SECRETS.values()) for line in lines)
        ),
    }


async def attack(name: str, kind: str) -> Figures:
    """Run one attack against one server; return every figure."""
    with server_process(kind, dict(ATTACKS[name].options)) as server:
        pid = server.process.pid
        async with connect(f"ws://{HOST}:{server.port}/probe") as probe:
            before = []
            for _ in range(100):  # at the pace of the probe during the attack
                before.append(await round_trip(probe))
                await asyncio.sleep(0.01)
            log_start, memory_before = server.log_size(), resident_bytes(pid)
            attacker = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--attack",
                name,
                str(server.port),
                stdout=asyncio.subprocess.PIPE,
                env=environment(TUNABLES),
            )
            signalled: float | None = None
            started = False

            async def obey() -> Figures:
                """Send the signals the attacker asks for; return its figures."""
                nonlocal signalled, started
                assert attacker.stdout is not None
                async for line in attacker.stdout:
                    command, _, argument = line.decode().strip().partition(" ")
                    if command == "start":
                        started = True
                    elif command == "kill":
                        server.process.send_signal(signal.Signals[f"SIG{argument}"])
                        signalled = time.monotonic()
                    else:
                        figures: Figures = json.loads(line)
                        return figures
                raise RuntimeError(f"the {name} attack printed no figures")

            attacking = asyncio.create_task(obey())
            during: list[float] = []
            timeouts, peak, exited = 0, memory_before, None
            while not attacking.done():
                if server.process.poll() is None:
                    peak = max(peak, resident_bytes(pid))
                elif exited is None:
                    exited = time.monotonic()
                if probe.close_code is None:
                    with suppress(ConnectionClosed):
                        try:
                            latency = await round_trip(probe)
                            if started:
                                during.append(latency)
                        except TimeoutError:
                            timeouts += 1
                await asyncio.sleep(0.01)
            figures = await attacking
            await attacker.wait()
        if signalled is None:
            figures["a new client after the attack"] = await new_client(server.port)
        if signalled is not None:
            if exited is None:
                await asyncio.to_thread(server.process.wait, 30)
                exited = time.monotonic()
            figures["the server exited after"] = f"{exited - signalled:.2f} s"
        else:
            memory_after = resident_bytes(pid)
            figures["server memory: peak, then after (MiB over before)"] = (
                f"{(peak - memory_before) / 2**20:.1f}, "
                f"then {(memory_after - memory_before) / 2**20:.1f}"
            )
        figures["probe before: median / p99 (ms)"] = milliseconds(before)
        figures["probe during: median / p99 (ms)"] = milliseconds(during)
        if timeouts:
            figures["probe round trips over 10 s"] = str(timeouts)
        figures.update(log_figures(server.log_lines(log_start)))
    return figures


def table(results: dict[str, Figures]) -> str:
    """A Markdown table: a row per figure, a column per server."""
    rows = list(dict.fromkeys(row for figures in results.values() for row in figures))
    lines = [
        "| | " + " | ".join(results) + " |",
        "|---|" + "---|" * len(results),
    ]
    for row in rows:
        cells = [str(figures.get(row, "")) for figures in results.values()]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def main(attacks: list[str], servers: list[str]) -> None:
    """Run each attack against each server; print a table per attack."""
    for name in attacks:
        results = {kind: await attack(name, kind) for kind in servers}
        summary = inspect.getdoc(ATTACKS[name].run)
        print(f"## {name}\n\n{summary}\n\n{table(results)}\n", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--attacks", nargs="+", choices=ATTACKS, default=list(ATTACKS))
    parser.add_argument(
        "--servers", nargs="+", choices=("bare", "wsroute"), default=["bare", "wsroute"]
    )
    parser.add_argument(
        "--serve", nargs=2, metavar=("KIND", "OPTIONS"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--attack", nargs=2, metavar=("NAME", "PORT"), help=argparse.SUPPRESS
    )
    options = parser.parse_args()
    if options.serve:
        serve_process(options.serve[0], json.loads(options.serve[1]))
    elif options.attack:
        attack_process(options.attack[0], int(options.attack[1]))
    else:
        pin(1)
        asyncio.run(main(options.attacks, options.servers))
