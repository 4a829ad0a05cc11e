#!/usr/bin/env python
"""
CPU instructions per handshake, counted by valgrind: a figure noise can't move.

    python benchmarks/instructions.py [--servers raw route wsroute]
                                      [--handshakes 3000] [--rules 20]

Rates measured on a shared machine drift by a third from one minute to the
next; the number of instructions that a server runs for a handshake doesn't.
For each server, this script runs run.py's server process under valgrind's
cachegrind tool, which counts the instructions the process runs in user
space, makes ``--handshakes`` handshakes to ``/items/3`` (20 at a time, as
run.py's ``handshakes-20`` workload does), and stops the server with SIGTERM;
then again with no handshake. The difference, divided by the number of
handshakes, is what one handshake costs. The same for 404 answers to
``/nowhere``, where raw websockets answers 404 to every request.

The count leaves out the kernel's work, about a quarter of a handshake's CPU
time here, which is the same for every server: it has them make the same
system calls. It needs valgrind (``apt install valgrind``); a server runs
many times slower under it, so this script takes minutes.

"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import load
from run import TUNABLES, environment

RUN = str(Path(__file__).with_name("run.py"))
PATHS = {"handshake": ("/items/3", 101), "404": ("/nowhere", 404)}
IN_FLIGHT = 20


async def handshakes(port: int, path: str, status: int, count: int) -> None:
    """Make ``count`` handshakes to ``path``, 20 at a time."""
    left = count

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await load.handshake(port, path, status)

    async with asyncio.timeout(60 + count):  # valgrind is slow; bound it anyway
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))


def instructions(kind: str, rules: int, path: str, status: int, count: int) -> int:
    """Run a server under cachegrind for ``count`` handshakes; return its count."""
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "cachegrind.out"
        command = ["valgrind", "--tool=cachegrind", "--cache-sim=no"]
        command += [f"--cachegrind-out-file={out}", sys.executable, RUN]
        command += ["--serve", kind, str(rules)]
        server = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=environment(TUNABLES),
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            asyncio.run(handshakes(port, path, status, count))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=120)
        summary = re.search(r"^summary: (\d+)", out.read_text(), re.MULTILINE)
        if summary is None:
            raise RuntimeError(f"no summary in cachegrind's output for {kind}")
        return int(summary.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", nargs="+", default=["raw", "route", "wsroute"])
    parser.add_argument("--handshakes", type=int, default=3000)
    parser.add_argument("--rules", type=int, default=20, help="20 or 1000")
    options = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is missing: apt install valgrind")

    print("| server | handshake (instructions) | ratio | 404 (instructions) | ratio |")
    print("|---|---:|---:|---:|---:|")
    floor: dict[str, float] = {}
    for kind in options.servers:
        cells = [kind]
        for what, (path, status) in PATHS.items():
            # Raw websockets has no routes: its stand-in answers 404 to all.
            server = "raw-404" if kind == "raw" and status == 404 else kind
            idle = instructions(server, options.rules, path, status, 0)
            busy = instructions(server, options.rules, path, status, options.handshakes)
            each = (busy - idle) / options.handshakes
            floor.setdefault(what, each)
            # Fewer instructions is faster: the ratio reads like a rate's.
            cells += [f"{each / 1000:,.0f}k", f"{floor[what] / each:.3f}"]
        print(f"| {' | '.join(cells)} |", flush=True)
    print(
        f"\n{options.handshakes} handshakes to /items/3 and as many requests "
        f"to /nowhere per server, with {options.rules} rules, less a run of "
        "none; in user space only."
    )


if __name__ == "__main__":
    main()
