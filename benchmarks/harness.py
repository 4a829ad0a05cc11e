"""
What the benchmarks share: processes pinned to cores, and their CPU time.

A benchmark script runs itself three ways: as the driver, which starts a
server with ``--serve KIND`` and a load generator with ``--load ...``, each
in a process of its own; the server is pinned to core 0 and the load
generator to core 1, where the machine has two cores or more.

"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Any


def pin(core: int) -> None:
    """Run this process on one core, if there are several."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {core})


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far, user and system, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_bytes(pid: int) -> int:
    """Memory a process has in RAM, its resident set size, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024  # given in KiB
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


@contextmanager
def server_process(
    script: str, kind: str, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[int, str]]:
    """
    Run ``script --serve kind args...``; yield its pid and the port it printed.

    ``env`` replaces the environment of the process, as in :mod:`subprocess`.

    """
    server = subprocess.Popen(
        [sys.executable, script, "--serve", kind, *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError(f"server {kind} didn't start: it printed {port!r}")
        yield server.pid, port
    finally:
        server.terminate()
        server.wait(timeout=30)


def load_output(
    script: str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> str:
    """Run ``script --load args...`` and return what it printed."""
    return subprocess.run(
        [sys.executable, script, "--load", *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=timeout,
    ).stdout


async def serve_until_terminated(server: AbstractAsyncContextManager[Any]) -> None:
    """Start a server, print its port, and serve until SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server as running:
        print(running.sockets[0].getsockname()[1], flush=True)
        await stop.wait()
