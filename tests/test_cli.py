"""Tests of wsroute.cli: the wsroute command."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

import wsroute
from wsroute.cli import main

from .conftest import TIMEOUT, free_port, launch, read_urls


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the version."""
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"wsroute {wsroute.__version__}\n"


def test_routes(capsys: pytest.CaptureFixture[str]) -> None:
    """Routes prints each route's rule, endpoint, handler, hooks and dispatch."""
    assert main(["routes", "tests.cli_app:app"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == [
        "rule",
        "endpoint",
        "handler",
        "hooks",
        "dispatch",
    ]
    assert [re.split(r"\s{2,}", line.strip()) for line in lines[1:]] == [
        ["/health", "tests.cli_app.<lambda>", "HTTP GET"],
        ["/old", "redirect to /echo"],
        [
            "/echo",
            "echo",
            "examples.app.echo",
            "BearerToken(builtins.str)",
            "connection",
        ],
        ["/game", "game", "<FirstMessageRouter 'game'>", "first message, by 'type'"],
        ["/rpc", "rpc", "<MessageRouter 'rpc'>", "each message, by 'type'"],
    ]


def test_routes_of_the_default_attribute(capsys: pytest.CaptureFixture[str]) -> None:
    """A module name alone means module:app; a key function is named."""
    assert main(["routes", "examples.bluegreen"]) == 0
    assert "first message, by examples.bluegreen.color_of" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nowhere:app", "can't import 'nowhere': no module named 'nowhere'"),
        (
            "nowhere.deeper:app",
            "can't import 'nowhere.deeper': no module named 'nowhere'",
        ),
        ("tests.cli_app:missing", "module 'tests.cli_app' has no attribute 'missing'"),
        ("", "'' isn't of the form module:attribute"),
        (".app", "'.app' isn't of the form module:attribute"),
        (
            "app.py",
            "'app.py' isn't of the form module:attribute; give a module, not a file",
        ),
        ("tests.cli_app:a.b", "'tests.cli_app:a.b' isn't of the form module:attribute"),
        ("tests.cli", "can't import 'tests.cli': no module named 'tests.cli'"),
        (
            "tests.cli_app:not_an_app",
            "tests.cli_app:not_an_app is of type int, not a wsroute.App",
        ),
    ],
)
def test_wrong_names_get_one_line_and_exit_code_2(
    name: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name that doesn't lead to an app: one line on stderr, exit code 2."""
    assert main(["routes", name]) == 2
    assert capsys.readouterr().err == f"wsroute: error: {message}\n"


def test_errors_inside_the_module_keep_their_traceback() -> None:
    """A module that fails to import its own dependencies isn't hidden."""
    with pytest.raises(ModuleNotFoundError, match="a_module_that_does_not_exist"):
        main(["routes", "tests.broken_app:app"])


def test_workers_need_a_fixed_port(capsys: pytest.CaptureFixture[str]) -> None:
    """Several workers can't share port 0."""
    assert main(["run", "tests.cli_app:app", "--port", "0", "--workers", "2"]) == 2
    assert "--workers needs a fixed --port" in capsys.readouterr().err


async def stop(process: asyncio.subprocess.Process) -> None:
    """Send SIGTERM; the command must exit cleanly."""
    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(TIMEOUT):
        assert await process.wait() == 0


async def test_run() -> None:
    """The run command serves the app with the given host, port and log level."""
    process, [url] = await launch(
        "wsroute",
        "run",
        "examples.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log-level",
        "debug",
    )
    try:
        async with connect(f"{url}/echo") as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"
    finally:
        await stop(process)


async def test_run_without_access_log() -> None:
    """--no-access-log leaves connections out of the log."""
    process, [url] = await launch(
        "wsroute",
        "run",
        "examples.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-access-log",
    )
    try:
        async with connect(f"{url}/echo"):
            pass
    finally:
        await stop(process)
    assert process.stderr is not None
    assert b'"GET /echo"' not in await process.stderr.read()


async def test_run_workers() -> None:
    """--workers starts processes that share the port and stop together."""
    port = free_port()
    process, urls = await launch(
        "wsroute",
        "run",
        "examples.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--workers",
        "2",
        urls=2,
    )
    try:
        assert urls == [f"ws://127.0.0.1:{port}"] * 2
        for _ in range(4):
            async with connect(f"ws://127.0.0.1:{port}/echo") as ws:
                await ws.send("shared")
                assert await ws.recv() == "shared"
    finally:
        await stop(process)


def test_workers_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    """--workers 0 is refused by the parser."""
    with pytest.raises(SystemExit) as info:
        main(["run", "tests.cli_app:app", "--workers", "0"])
    assert info.value.code == 2
    assert "isn't a positive whole number" in capsys.readouterr().err


async def test_workers_that_fail_stop_the_command() -> None:
    """When workers exit on their own, the command exits with their failure."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wsroute",
        "run",
        "tests.cli_app:failing",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(TIMEOUT):
        assert process.stderr is not None
        log = (await process.stderr.read()).decode()
        assert await process.wait() == 1
    assert "OSError: the database is down" in log


async def test_a_failing_worker_stops_the_others(tmp_path: Path) -> None:
    """When one worker exits, the command stops the others and fails."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wsroute",
        "run",
        "tests.cli_app:one_of_two",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "WSROUTE_TEST_LOCK": str(tmp_path / "lock")},
    )
    async with asyncio.timeout(TIMEOUT):
        assert process.stderr is not None
        log = (await process.stderr.read()).decode()
        assert await process.wait() == 1
    assert "FileExistsError" in log
    assert "A worker exited; stopping the others" in log
    assert "Stopped" in log  # the healthy worker shut down cleanly


async def test_run_in_debug_mode() -> None:
    """--debug logs each step of each handshake."""
    process, [url] = await launch(
        "wsroute", "run", "examples.app:app", "--port", "0", "--debug"
    )
    try:
        async with connect(f"{url}/items/3"):
            pass
    finally:
        await stop(process)
    assert process.stderr is not None
    log = (await process.stderr.read()).decode()
    assert "route: '/items/<int:id>' (endpoint 'item') matches: id=3 (int)" in log


APP_SOURCE = """
import asyncio
import sys

from wsroute import App

app = App()


@app.route("/")
async def version(ws):
    await ws.send({version!r})
    try:
        await ws.wait_closed()
    finally:
        await asyncio.sleep(0.2)  # some cleanup, which a shutdown awaits
        print("cleaned up", file=sys.stderr)
"""


async def reloading(
    tmp_path: Path, *options: str, **process_options: Any
) -> tuple[asyncio.subprocess.Process, str]:
    """Write an app in ``tmp_path``; serve it with --reload; return the URL."""
    (tmp_path / "reloaded.py").write_text(APP_SOURCE.format(version="one"))
    process, [url] = await launch(
        "wsroute",
        "run",
        "reloaded:app",
        "--port",
        "0",
        "--reload",
        *options,
        cwd=tmp_path,
        **process_options,
    )
    return process, url


async def test_reload(tmp_path: Path) -> None:
    """--reload restarts the server when a Python file changes: 1012 to clients."""
    module = tmp_path / "reloaded.py"
    options = ["--no-access-log", "--debug", "--rooms", "memory://"]
    process, url = await reloading(tmp_path, *options)
    try:
        async with connect(url) as ws:
            assert await ws.recv() == "one"
            module.write_text(APP_SOURCE.format(version="two"))
            async with asyncio.timeout(TIMEOUT):
                await ws.wait_closed()
        assert ws.close_code == 1012
        log: list[str] = []
        [url] = await read_urls(process, log=log)
        async with connect(url) as ws:
            assert await ws.recv() == "two"
    finally:
        await stop(process)
    assert any("Shutting down for a restart" in line for line in log)
    assert any("Restarting: " in line and "reloaded.py" in line for line in log)
    assert any("Stopped" in line for line in log)  # the first server shut down
    assert process.stderr is not None
    rest = (await process.stderr.read()).decode()
    assert "route: '/' (endpoint 'version') matches" in rest  # still in debug mode


def test_reload_runs_one_worker(capsys: pytest.CaptureFixture[str]) -> None:
    """--reload and --workers don't go together."""
    assert main(["run", "examples.app:app", "--reload", "--workers", "2"]) == 2
    assert capsys.readouterr().err == "wsroute: error: --reload runs one worker\n"


def test_reload_needs_watchfiles(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without watchfiles, --reload says how to install it."""
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # import fails
    assert main(["run", "examples.app:app", "--reload"]) == 2
    assert capsys.readouterr().err == (
        "wsroute: error: --reload needs watchfiles: pip install 'wsroute[reload]'\n"
    )


async def test_reload_stops_gracefully_on_ctrl_c(tmp_path: Path) -> None:
    """A Ctrl-C in the terminal stops the server once: handlers end with 1001."""
    # A process group of its own, as a shell gives a command it runs.
    process, url = await reloading(tmp_path, process_group=0)
    async with connect(url) as ws:
        assert await ws.recv() == "one"
        os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C does
        async with asyncio.timeout(TIMEOUT):
            await ws.wait_closed()
            assert await process.wait() == 0
    assert ws.close_code == 1001
    assert process.stderr is not None
    log = (await process.stderr.read()).decode()
    assert "cleaned up" in log
    assert "Cancelling" not in log
    assert "Stopped" in log


async def test_reload_stops_while_restarting(tmp_path: Path) -> None:
    """A signal while the server restarts stops the command: no new server."""
    process, url = await reloading(tmp_path)
    module = tmp_path / "reloaded.py"
    assert process.stderr is not None
    async with connect(url) as ws:
        assert await ws.recv() == "one"  # its handler cleans up for 0.2 s
        module.write_text(APP_SOURCE.format(version="two"))
        async with asyncio.timeout(TIMEOUT):
            for _ in range(20):
                if b"Restarting" in await process.stderr.readline():
                    break
            process.send_signal(signal.SIGTERM)  # while the old server stops
            assert await process.wait() == 0
    assert b"Running on" not in await process.stderr.read()


def test_uvloop_needs_the_extra(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without uvloop, --loop uvloop says how to install it."""
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import fails
    assert main(["run", "examples.app:app", "--loop", "uvloop"]) == 2
    assert capsys.readouterr().err == (
        "wsroute: error: loop='uvloop' needs uvloop: pip install 'wsroute[uvloop]'\n"
    )
