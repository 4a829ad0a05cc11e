"""
The load generator of benchmarks/run.py: WebSocket clients on bare asyncio.

It must be faster than the fastest server it loads, so it does the least a
client can, on uvloop, whose transports are written in C: it sends frames
built once, masked with a fixed key, and counts the frames it receives
without decoding them. run.py checks separately, with
websockets' client, that each server answers correctly.

Each workload runs for a warm-up period, then for the measured period, and
returns its rate, the share of a core that this process used while
measuring, and, for echo, the percentiles of round-trip times. The idle
workload measures the server's memory for each open connection instead.

"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

from harness import resident_bytes

HOST = "127.0.0.1"
REQUEST = (
    "GET {path} HTTP/1.1\r\n"
    "Host: 127.0.0.1\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n"
)
MASK = bytes([1, 2, 3, 4])
# A masked close frame with code 1000.
CLOSE = bytes([0x88, 0x82, *MASK, 0x03 ^ 1, 0xE8 ^ 2])
TEXT, BINARY = 0x1, 0x2


def handshake_request(path: str) -> bytes:
    """Return the bytes of a handshake request for ``path``."""
    return REQUEST.format(path=path).encode()


def client_frame(opcode: int, payload: bytes) -> bytes:
    """Return a final frame, masked with :data:`MASK`, as a client sends it."""
    length = len(payload)
    if length < 126:
        header = bytes([0x80 | opcode, 0x80 | length])
    elif length < 65536:
        header = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big")
    masked = bytes(byte ^ MASK[index % 4] for index, byte in enumerate(payload))
    return header + MASK + masked


@dataclass
class Tally:
    """What the connections of one workload count, once measuring started."""

    measuring: bool = False
    running: bool = True
    count: int = 0
    round_trips: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """The server that a workload loads, and for how long."""

    port: int
    pid: int
    warmup: float
    seconds: float


@dataclass
class Result:
    """
    What a workload measured.

    ``rate`` is per second; ``cpu`` is the share of a core the load
    generator used; ``p50`` and ``p99`` are percentiles of round-trip times,
    in µs; ``memory`` is the server's memory per idle connection, in KiB.

    """

    rate: float
    cpu: float
    p50: float | None = None
    p99: float | None = None
    memory: float | None = None


class EchoClient(asyncio.Protocol):
    """
    One connection that sends a frame, waits for its echo, and so on.

    It opens the WebSocket, then sends its first frame when :meth:`start`
    is called; each text or binary frame the server sends back counts as one
    round-trip and triggers the next frame, or, once time is up, a close
    frame. Other frames, such as pings, are skipped.

    """

    def __init__(self, path: str, frame: bytes, tally: Tally) -> None:
        self.path = path
        self.frame = frame
        self.tally = tally
        self.buffer = bytearray()
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.sent = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports aren't subclasses of asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(handshake_request(self.path))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during handshake"))
        self.closed.set_result(None)

    def start(self) -> None:
        """Send the frame, and note when."""
        self.sent = time.perf_counter()
        self.transport.write(self.frame)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.opened.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            if not head.startswith(b"HTTP/1.1 101 "):
                self.opened.set_exception(ConnectionError(f"answer: {head!r}"))
                return
            self.opened.set_result(None)
        while (opcode := self.next_frame()) is not None:
            if opcode in (TEXT, BINARY):
                self.received()

    def next_frame(self) -> int | None:
        """
        Remove a complete frame from the buffer and return its opcode.

        Return None if the buffer doesn't hold a complete frame yet. Frames
        from a server are never masked.

        """
        buffer = self.buffer
        if len(buffer) < 2:
            return None
        length, start = buffer[1] & 0x7F, 2
        if length == 126:
            length, start = int.from_bytes(buffer[2:4], "big"), 4
        elif length == 127:
            length, start = int.from_bytes(buffer[2:10], "big"), 10
        if len(buffer) < start + length:
            return None
        opcode = buffer[0] & 0x0F
        del buffer[: start + length]
        return opcode

    def received(self) -> None:
        """Count a round-trip, then send the next frame, or close if time is up."""
        tally = self.tally
        if tally.measuring:
            now = time.perf_counter()
            tally.count += 1
            tally.round_trips.append(now - self.sent)
        if tally.running:
            self.start()
        else:  # no frame in flight: the server's handler closes normally
            self.transport.write(CLOSE)


async def echo(target: Target, path: str, frame: bytes, connections: int) -> Result:
    """Keep one frame in flight on each of ``connections`` connections."""
    tally = Tally()
    clients = [await connect(target, path, frame, tally) for _ in range(connections)]
    for client in clients:
        client.start()
    await asyncio.sleep(target.warmup)
    tally.measuring = True
    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.sleep(target.seconds)
    tally.measuring = tally.running = False
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    async with asyncio.timeout(10):  # each one closes after its last echo
        await asyncio.gather(*(client.closed for client in clients))
    times = sorted(tally.round_trips)
    return Result(
        rate=tally.count / elapsed,
        cpu=cpu / elapsed,
        p50=statistics.median(times) * 1e6,
        p99=times[int(len(times) * 0.99)] * 1e6,
    )


class Member(EchoClient):
    """A member of a room: it counts the frames it receives, and sends none."""

    def __init__(self, path: str, delivery: Delivery) -> None:
        super().__init__(path, b"", Tally(running=False))
        self.delivery = delivery

    def received(self) -> None:
        """Count a frame; tell when every member received the message."""
        delivery = self.delivery
        delivery.count += 1
        if delivery.count == delivery.members:
            delivery.everyone.set()


@dataclass
class Delivery:
    """How many members received the message being published."""

    members: int
    count: int = 0
    everyone: asyncio.Event = field(default_factory=asyncio.Event)


async def connect(target: Target, path: str, frame: bytes, tally: Tally) -> EchoClient:
    """Open a WebSocket connection; return it once open."""
    _, client = await asyncio.get_running_loop().create_connection(
        lambda: EchoClient(path, frame, tally), HOST, target.port
    )
    await client.opened
    return client


async def idle(target: Target, path: str, connections: int) -> Result:
    """
    Open idle connections; measure how much memory the server uses for each.

    The server's resident memory is read before opening them, 50 at a time,
    then ``target.warmup`` seconds after the last one opened.

    """
    before = resident_bytes(target.pid)
    cpu, start = time.process_time(), time.perf_counter()
    tally = Tally(running=False)
    clients = await open_all(connections, lambda: connect(target, path, b"", tally))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await asyncio.sleep(target.warmup)
    after = resident_bytes(target.pid)
    await close_all(clients)
    return Result(
        rate=connections / elapsed,
        cpu=cpu / elapsed,
        memory=(after - before) / connections / 1024,
    )


async def open_all(
    count: int, opening: Callable[[], Awaitable[EchoClient]]
) -> list[EchoClient]:
    """Open ``count`` connections, 50 at a time: no handshake storm."""
    clients: list[EchoClient] = []
    while len(clients) < count:
        batch = min(50, count - len(clients))
        clients += await asyncio.gather(*(opening() for _ in range(batch)))
    return clients


async def close_all(clients: list[EchoClient]) -> None:
    """Send a close frame on each connection; wait until the server closed it."""
    for client in clients:
        client.transport.write(CLOSE)
    async with asyncio.timeout(30):
        await asyncio.gather(*(client.closed for client in clients))


async def fanout(target: Target, members: int) -> Result:
    """
    Publish messages to ``members`` connections; time each one's delivery.

    A publisher sends a 64-byte message once every member received the
    previous one. ``p50`` is the median time from sending a message to its
    arrival at the last member, in µs.

    """
    loop = asyncio.get_running_loop()
    delivery = Delivery(members)

    async def join() -> EchoClient:
        _, member = await loop.create_connection(
            lambda: Member("/room", delivery), HOST, target.port
        )
        await member.opened
        return member

    room = await open_all(members, join)
    publisher = await connect(target, "/publish", b"", Tally(running=False))
    await asyncio.sleep(target.warmup)  # let the server's handlers join
    message = client_frame(TEXT, b"x" * 64)
    times = []
    cpu, start = time.process_time(), time.perf_counter()
    while time.perf_counter() - start < target.seconds:
        delivery.count = 0
        delivery.everyone.clear()
        sent = time.perf_counter()
        publisher.transport.write(message)
        async with asyncio.timeout(10):
            await delivery.everyone.wait()
        times.append(time.perf_counter() - sent)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await close_all([publisher, *room])
    return Result(
        rate=len(times) / elapsed,
        cpu=cpu / elapsed,
        p50=statistics.median(times) * 1e6,
    )


async def handshake(port: int, path: str, status: int) -> None:
    """
    Open a connection, send a handshake request, check the answer's status.

    After a 101, send a close frame and read until the server closes the
    connection. After another status, read the body and close it.

    """
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(handshake_request(path))
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 %d " % status):
        raise ConnectionError(f"expected {status}, got {head!r}")
    if status == 101:
        writer.write(CLOSE)
        await reader.read()  # the server's close frame, then EOF
    else:
        for line in head.lower().split(b"\r\n"):
            if line.startswith(b"content-length:"):
                await reader.readexactly(int(line.partition(b":")[2]))
    writer.close()


async def handshakes(target: Target, path: str, status: int, in_flight: int) -> Result:
    """Open and close connections, ``in_flight`` at a time."""
    tally = Tally()

    async def worker() -> None:
        while tally.running:
            await handshake(target.port, path, status)
            if tally.measuring:
                tally.count += 1

    workers = asyncio.gather(*(worker() for _ in range(in_flight)))
    await asyncio.sleep(target.warmup)
    tally.measuring = True
    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.sleep(target.seconds)
    tally.measuring = tally.running = False
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    async with asyncio.timeout(10):
        await workers
    return Result(rate=tally.count / elapsed, cpu=cpu / elapsed)
