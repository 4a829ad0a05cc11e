"""Helpers shared by the tests: a served app, and raw HTTP requests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import Server

from wsroute import App
from wsroute.testing import TestServer

TIMEOUT = 5  # seconds: the bound of every wait on the network in a test


def need(command: str) -> str:
    """
    Find a program that a test needs; skip the test without it.

    ``python3 tasks.py test`` installs such programs when it can. On CI, which
    sets the CI environment variable, a missing program fails the test.

    """
    path = shutil.which(command)
    if path is None:
        reason = (
            f"{command} isn't on PATH; `python3 tasks.py test` installs it "
            "with apt-get when run as root"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def free_port() -> int:
    """Find a free TCP port on 127.0.0.1."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
    return port


class RedisServer:
    """
    A real redis-server on a free loopback port, which a test can restart.

    It keeps nothing on disk; stopping it loses every subscription, as a
    crash of Redis would.

    """

    def __init__(self) -> None:
        self.command = need("redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start Redis; return once it accepts connections."""
        command = [self.command, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--loglevel", "warning"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        for _ in range(TIMEOUT * 100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except ConnectionRefusedError:
                time.sleep(0.01)
        raise AssertionError("redis-server didn't start")

    def freeze(self) -> None:
        """Stop Redis from answering, with connections left open (SIGSTOP)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Let Redis answer again (SIGCONT)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop Redis, if it runs."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(TIMEOUT)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A Redis server for one test."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def serving(app: App, **options: Any) -> AsyncIterator[str]:
    """
    Serve ``app`` with wsroute's test server; yield its base URL.

    A crash that the server logs fails the test, unless the test passes
    ``raise_server_exceptions=False`` because it expects one.

    """
    async with TestServer(app, **options) as server:
        yield server.url


@dataclass
class Probe:
    """Round-trip times of a well-behaved client, in seconds."""

    before: list[float] = field(default_factory=list)
    during: list[float] = field(default_factory=list)

    def medians(self) -> tuple[float, float]:
        """The median round trip before the attack, and during it."""
        return statistics.median(self.before), statistics.median(self.during)

    def check(self) -> None:
        """Fail if the client wasn't served during the attack, or far slower."""
        assert self.during, "the probe made no round trip during the attack"
        before, during = self.medians()
        print(f"probe: {before * 1e3:.2f} ms before, {during * 1e3:.2f} ms during")
        # A loose bound: it catches a server that stalls, not a busy machine.
        assert during < 10 * before + 0.1, f"{during=:.4f}s against {before=:.4f}s"


@asynccontextmanager
async def probing(url: str, path: str = "/echo") -> AsyncIterator[Probe]:
    """
    Time a client's round trips on ``path``, before the block and during it.

    20 round trips before the block, then one every 10 ms while it runs;
    after it, :meth:`Probe.check` checks them.

    """
    probe = Probe()
    stop = asyncio.Event()

    async with connect(f"{url}{path}") as client:

        async def round_trip() -> float:
            start = time.perf_counter()
            async with asyncio.timeout(TIMEOUT):
                await client.send("probe")
                assert await client.recv() == "probe"
            return time.perf_counter() - start

        async def keep_probing() -> None:
            for _ in range(int(60 / 0.01)):  # at most a minute of attack
                probe.during.append(await round_trip())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.01):
                        await stop.wait()
                if stop.is_set():
                    return

        for _ in range(20):
            probe.before.append(await round_trip())
        task = asyncio.create_task(keep_probing())
        try:
            yield probe
        finally:
            stop.set()
            async with asyncio.timeout(TIMEOUT):
                await task
    probe.check()


def port_of(server: Server) -> int:
    """The TCP port a server listens on."""
    port: int = server.sockets[0].getsockname()[1]
    return port


async def exchange(url: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """
    Send raw bytes to the server at ``url``; read its HTTP answer.

    Returns the status code, the headers (with lower-case names) and the body,
    read until the server closes the connection, unless the status is 101.

    """
    host, _, port = url.removeprefix("ws://").partition(":")
    async with asyncio.timeout(TIMEOUT):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(data)
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode().strip().split("\r\n")
        status = int(status_line.split()[1])
        body = b"" if status == 101 else await reader.read()
        writer.close()
        await writer.wait_closed()
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        assert name not in headers, f"the answer has several {name} headers"
        headers[name] = value.strip()
    return status, headers, body


def handshake(path: str, host: str | None = "localhost", **headers: str) -> bytes:
    """A WebSocket handshake request, with a few headers added or removed."""
    lines = [f"GET {path} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def launch(
    module: str, *args: str, urls: int = 1, **options: Any
) -> tuple[asyncio.subprocess.Process, list[str]]:
    """
    Run ``python -m module args...``; return it with the first URLs it logs.

    Fails the test if the process exits, or logs no URL, in time. The options
    are those of :func:`asyncio.create_subprocess_exec`, such as ``cwd``.

    """
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, stderr=asyncio.subprocess.PIPE, **options
    )
    found = await read_urls(process, urls)
    if len(found) == urls:
        return process, found
    process.kill()
    await process.wait()
    raise AssertionError(f"{module} didn't log its URL")


async def read_urls(
    process: asyncio.subprocess.Process, urls: int = 1, log: list[str] | None = None
) -> list[str]:
    """
    Read the log of a process until it logs ``urls`` URLs, or 20 lines each.

    Append the lines read to ``log``, if given.

    """
    assert process.stderr is not None
    found: list[str] = []
    async with asyncio.timeout(TIMEOUT):
        for _ in range(20 * urls):  # log lines before the URLs
            line = (await process.stderr.readline()).decode()
            assert line, "the process exited before it logged its URL"
            if log is not None:
                log.append(line)
            if match := re.search(r"Running on (ws://\S+) ", line):
                found.append(match.group(1))
                if len(found) == urls:
                    break
    return found


def without_coverage() -> dict[str, str]:
    """
    The environment of this process, for a child that coverage doesn't measure.

    coverage would slow a fuzz run tenfold; and, started in a child process,
    it may free a mapped block of memory, which raises glibc's mmap
    threshold: the block that the child allocates next is then taken from
    the heap, tuned or not.

    """
    return {key: value for key, value in os.environ.items() if "COVERAGE" not in key}
