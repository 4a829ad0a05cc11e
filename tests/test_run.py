"""Tests of App.run(): a real process, stopped by a signal."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from wsroute import App
from wsroute.malloc import is_glibc
from wsroute.server import address

from .conftest import (
    TIMEOUT,
    free_port,
    handshake,
    launch,
    port_of,
    without_coverage,
)

RUN_APP = "tests.run_app"


@asynccontextmanager
async def running(
    shutdown_timeout: float, *options: str, **launch_options: Any
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """Start tests/run_app.py; yield the process and the URL it logged."""
    process, [url] = await launch(
        RUN_APP, str(shutdown_timeout), *options, **launch_options
    )
    try:
        yield process, url
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def finish(process: asyncio.subprocess.Process) -> str:
    """Wait for the process to exit; return what it logged after startup."""
    assert process.stderr is not None
    async with asyncio.timeout(TIMEOUT):
        log = (await process.stderr.read()).decode()
        assert await process.wait() == 0
    return log


STOPS = [(signal.SIGINT, 1001), (signal.SIGTERM, 1001), (signal.SIGUSR1, 1012)]


@pytest.mark.parametrize(("signum", "code"), STOPS)
async def test_signal_closes_connections(signum: int, code: int) -> None:
    """SIGINT and SIGTERM close connections with 1001, SIGUSR1 with 1012."""
    async with running(shutdown_timeout=5) as (process, url):
        async with connect(f"{url}/echo") as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            process.send_signal(signum)
            with pytest.raises(ConnectionClosed):  # not OK for 1012
                await ws.recv()
            assert ws.close_code == code
        log = await finish(process)
    restart = " for a restart" if code == 1012 else ""
    assert f"Shutting down{restart};" in log
    assert log.index("resource closed") < log.index("Stopped")
    assert f'"GET /echo" 101 {code} ' in log  # the access log
    assert "connection open" not in log  # websockets' own line, at DEBUG only
    assert "Traceback" not in log


async def test_run_logs_a_repeated_error_of_the_loop_once() -> None:
    """Ten callbacks fail the same way: one traceback."""
    async with running(shutdown_timeout=5) as (process, url):
        async with connect(f"{url}/loop-errors") as ws:
            assert await ws.recv() == "failed 10 times"
        process.send_signal(signal.SIGTERM)
        log = await finish(process)
    assert log.count("Traceback") == 1
    assert "OSError: [Errno 24] Too many open files" in log


async def test_shutdown_waits_a_bounded_time_for_handlers() -> None:
    """A handler that ignores the close is cancelled after shutdown_timeout."""
    async with running(shutdown_timeout=0.2) as (process, url):
        async with connect(f"{url}/stuck") as ws:
            assert await ws.recv() == "stuck"
            process.send_signal(signal.SIGTERM)
            await ws.wait_closed()
            assert ws.close_code == 1001
        log = await finish(process)
    assert "Cancelling what's left: 1 running handlers, 0 opening" in log
    assert "Traceback" not in log


async def test_second_signal_stops_at_once() -> None:
    """A second signal cancels handlers without waiting for shutdown_timeout."""
    async with running(shutdown_timeout=60) as (process, url):
        async with connect(f"{url}/stuck") as ws:
            assert await ws.recv() == "stuck"
            process.send_signal(signal.SIGINT)
            await ws.wait_closed()
        process.send_signal(signal.SIGINT)
        log = await finish(process)
    assert "Cancelling what's left: 1 running handlers, 0 opening" in log


async def test_connections_still_opening_are_cancelled() -> None:
    """A client that never finishes its handshake can't hold up shutdown."""
    async with running(shutdown_timeout=0.2) as (process, url):
        host, _, port = url.removeprefix("ws://").partition(":")
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /echo HTTP/1.1\r\n")  # and nothing more
        await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        log = await finish(process)
        writer.close()
    assert "Cancelling what's left: 0 running handlers, 1 opening" in log


async def test_handler_ignoring_cancellation_is_reported() -> None:
    """A handler that swallows cancellation is named in an error."""
    async with running(shutdown_timeout=0.2) as (process, url):
        async with connect(f"{url}/stubborn") as ws:
            assert await ws.recv() == "stubborn"
            process.send_signal(signal.SIGTERM)
            await ws.wait_closed()
        log = await finish(process)
    assert "Some handlers ignore cancellation" in log


async def test_run_on_a_socket_behind_a_proxy() -> None:
    """sock= replaces host and port; the URL logged is the one to connect to."""
    async with running(5, "--sock", "--behind-proxy") as (process, url):
        async with connect(f"{url}/echo") as ws:
            await ws.send("plain ws")
            assert await ws.recv() == "plain ws"
        process.send_signal(signal.SIGTERM)
        await finish(process)


async def test_run_keeps_the_logging_of_the_program() -> None:
    """run() sets up logging only if the program didn't."""
    async with running(5, "--own-logging") as (process, _):
        process.send_signal(signal.SIGINT)
        log = await finish(process)
    assert "own format: Stopped" in log


@pytest.mark.skipif(not is_glibc(), reason="glibc only")
@pytest.mark.parametrize(
    ("options", "site"), [((), "heap"), (("--no-tune-malloc",), "mmap")]
)
async def test_run_tunes_malloc_for_reads(options: tuple[str, ...], site: str) -> None:
    """run() puts blocks as large as asyncio's read buffer on the heap."""
    async with running(5, *options, env=without_coverage()) as (process, url):
        async with connect(f"{url}/malloc") as ws:
            assert await ws.recv() == site
        process.send_signal(signal.SIGTERM)
        await finish(process)


async def test_address_describes_where_a_server_listens(tmp_path: Path) -> None:
    """Logged addresses name the host given, IPv6 in brackets, or the socket."""
    app = App()
    async with app.serve("::1", 0) as server:
        assert address(server, "::1", "ws") == f"ws://[::1]:{port_of(server)}"
        assert address(server, None, "wss") == f"wss://[::1]:{port_of(server)}"
    path = str(tmp_path / "app.sock")
    async with app.serve(unix=True, path=path) as server:
        assert address(server, None, "ws") == f"unix:{path}"


@pytest.mark.parametrize(("signum", "code"), [*STOPS, (signal.SIGHUP, 1001)])
async def test_workers_serve_one_port_and_stop_together(signum: int, code: int) -> None:
    """app.run(workers=2) forks two workers on one port; a signal stops both."""
    port = free_port()
    process, urls = await launch(RUN_APP, "5", "--workers", "2", str(port), urls=2)
    assert urls == [f"ws://127.0.0.1:{port}"] * 2
    for _ in range(4):
        async with connect(f"ws://127.0.0.1:{port}/echo") as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
    async with connect(f"ws://127.0.0.1:{port}/echo") as ws:
        process.send_signal(signum)
        async with asyncio.timeout(TIMEOUT):
            await ws.wait_closed()
    assert ws.close_code == code
    log = await finish(process)
    assert log.count("Stopped") == 2
    assert log.count("resource closed") == 2  # each worker runs the hooks


def test_workers_need_a_fixed_port() -> None:
    """Workers that would each pick a free port are refused."""
    with pytest.raises(ValueError, match="workers share a port"):
        App().run("127.0.0.1", 0, workers=2)
    with pytest.raises(ValueError, match="workers must be 1 or more, not 0"):
        App().run("127.0.0.1", 8000, workers=0)


async def test_uvloop() -> None:
    """app.run(loop="uvloop") serves on uvloop's event loop."""
    async with running(5, "--uvloop") as (process, url):
        async with connect(f"{url}/loop") as ws:
            assert await ws.recv() == "uvloop"
        process.send_signal(signal.SIGTERM)
        await finish(process)


def test_event_loops_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown loop, or uvloop when it's missing, is refused at once."""
    with pytest.raises(ValueError, match="loop must be 'asyncio' or 'uvloop'"):
        App().run(loop="trio")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import fails
    with pytest.raises(ImportError, match=r"pip install 'wsroute\[uvloop\]'"):
        App().run(loop="uvloop")


@pytest.mark.parametrize(("signum", "code"), STOPS[1:])
async def test_shutdown_with_many_connections_and_handshakes_in_progress(
    signum: int, code: int
) -> None:
    """300 open connections get 1001 (1012 for a restart); handshakes get 503."""
    async with running(shutdown_timeout=5) as (process, url):
        host, _, port = url.removeprefix("ws://").partition(":")
        clients = [await connect(f"{url}/echo") for _ in range(300)]
        halves = [await asyncio.open_connection(host, int(port)) for _ in range(20)]
        for _, writer in halves:  # a request line, and no more yet
            writer.write(b"GET /echo HTTP/1.1\r\n")
        process.send_signal(signum)
        async with asyncio.timeout(TIMEOUT):
            for client in clients:
                await client.wait_closed()
        assert {client.close_code for client in clients} == {code}
        answers = set()
        for reader, writer in halves:  # the rest of the handshake, too late
            with contextlib.suppress(ConnectionError):
                writer.write(handshake("/echo").partition(b"\r\n")[2])
            async with asyncio.timeout(TIMEOUT):
                answer = await reader.read()
            answers.add(answer.split(b"\r\n", 1)[0])
            writer.close()
        log = await finish(process)
    # Refused with 503, or closed before they could be answered.
    assert answers <= {b"HTTP/1.1 503 Service Unavailable", b""}
    assert b"HTTP/1.1 503 Service Unavailable" in answers
    assert log.count("resource closed") == 1  # the shutdown hook ran once
    assert "Traceback" not in log
