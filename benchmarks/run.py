#!/usr/bin/env python
"""
Compare wsroute with raw websockets and its peers, side by side, in one run.

    python3 tasks.py bench [--seconds 3] [--rounds 3] [--servers ...]
                           [--workloads ...] [--json FILE]

First, each server is checked: ``/echo`` sends back a text and a binary
message, ``/items/3`` opens, ``/nowhere`` gets 404. Then, for each
workload, the servers take turns (A B C A B C ...) for ``--rounds`` rounds.
In a round, a fresh server process, pinned to core 0, serves the workload's
rules; a load generator process, pinned to core 1, runs ``--warmup``
seconds, then measures for ``--seconds``. Both processes get the same
``GLIBC_TUNABLES``, which fixes glibc's mmap threshold above asyncio's
256 KiB read buffer: otherwise a fresh process may map and unmap that buffer
on every read until glibc's adaptive threshold rises.

The output is a Markdown table of the medians, with their ratio to raw
websockets, and a JSON file with every round.

"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import load
import servers
from harness import cpu_seconds, load_output, pin, server_process

HOST = "127.0.0.1"
SERVERS = ["raw", "route", "wsroute", "starlette", "aiohttp", "picows"]
CHOICES = [*SERVERS, *(f"{kind}+uvloop" for kind in SERVERS)]
TUNABLES = "glibc.malloc.mmap_threshold=266240"  # 260 KiB
PACKAGES = ["websockets", "werkzeug", "wsroute", "uvicorn", "starlette"]
PACKAGES += ["aiohttp", "picows", "aiofastnet", "uvloop"]


@dataclass(frozen=True)
class Workload:
    """A workload: what the load generator does, against how many rules."""

    title: str
    unit: str
    rules: int = 20
    path: str = "/echo"
    connections: int = 50
    payload: bytes = b""
    opcode: int = load.TEXT
    status: int = 0  # for handshake workloads: the status expected
    latency: bool = False  # report p50 and p99 rather than the rate

    async def run(self, port: int, warmup: float, seconds: float) -> load.Result:
        """Load a server on ``port``; return what was measured."""
        if self.status:
            return await load.handshakes(
                port, self.path, self.status, self.connections, warmup, seconds
            )
        frame = load.client_frame(self.opcode, self.payload)
        return await load.echo(
            port, self.path, frame, self.connections, warmup, seconds
        )


TEXT = b"x" * 64
WORKLOADS = {
    "echo-text": Workload(
        "echo, 64 B text, 50 connections", "round-trips/s", 20, payload=TEXT
    ),
    "echo-binary": Workload(
        "echo, 16 KiB binary, 50 connections",
        "round-trips/s",
        payload=bytes(16384),
        opcode=load.BINARY,
    ),
    "latency": Workload(
        "latency, 64 B text, 1 connection",
        "µs",
        connections=1,
        payload=TEXT,
        latency=True,
    ),
    "handshakes-20": Workload(
        "handshakes, /items/3, 20 rules",
        "handshakes/s",
        path="/items/3",
        connections=20,
        status=101,
    ),
    "handshakes-1000": Workload(
        "handshakes, /items/3, 1,000 rules",
        "handshakes/s",
        rules=1000,
        path="/items/3",
        connections=20,
        status=101,
    ),
    "not-found": Workload(
        "404 answers, /nowhere, 20 rules",
        "answers/s",
        path="/nowhere",
        connections=20,
        status=404,
    ),
}


def server_kind(kind: str, workload: Workload) -> str:
    """Return the server that stands for ``kind`` in ``workload``."""
    name, plus, loop = kind.partition("+")
    if name == "raw" and workload.status == 404:
        return f"raw-404{plus}{loop}"  # raw websockets, answering 404 to all
    return kind


def environment(tunables: str) -> dict[str, str]:
    """Return the environment of server and load processes."""
    env = dict(os.environ)
    env.pop("GLIBC_TUNABLES", None)
    if tunables:
        env["GLIBC_TUNABLES"] = tunables
    return env


async def check(kind: str, port: int) -> None:
    """Check that a server answers as every server must; raise if not."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    url = f"ws://{HOST}:{port}"
    async with asyncio.timeout(10):
        if not kind.startswith("raw-404"):
            async with connect(f"{url}/echo", compression=None) as ws:
                messages: list[str | bytes] = ["hello", bytes(range(256)) * 64]
                for message in messages:
                    await ws.send(message)
                    echoed = await ws.recv()
                    if echoed != message:
                        raise AssertionError(f"/echo sent back {echoed[:20]!r}")
            async with connect(f"{url}/items/3", compression=None):
                pass
        if kind.partition("+")[0] != "raw":
            try:
                async with connect(f"{url}/nowhere", compression=None):
                    raise AssertionError("/nowhere opened")
            except InvalidStatus as exc:
                if exc.response.status_code != 404:
                    raise AssertionError(
                        f"/nowhere got {exc.response.status_code}"
                    ) from exc


def check_all(kinds: list[str], env: dict[str, str]) -> None:
    """Check each server; exit with what's wrong if one fails."""
    script = str(Path(__file__))
    for kind in kinds:
        try:
            with server_process(script, kind, "20", env=env) as (_, port):
                asyncio.run(check(kind, int(port)))
        except Exception as exc:
            sys.exit(f"server {kind} failed its check: {exc!r}")
        print(f"checked {kind}", file=sys.stderr)


def measure(
    kind: str, name: str, options: argparse.Namespace, env: dict[str, str]
) -> dict[str, Any]:
    """Run one round of a workload against a fresh server; return the figures."""
    workload = WORKLOADS[name]
    script = str(Path(__file__))
    kind = server_kind(kind, workload)
    timing = [str(options.warmup), str(options.seconds)]
    with server_process(script, kind, str(workload.rules), env=env) as (pid, port):
        before, start = cpu_seconds(pid), time.perf_counter()
        try:
            output = load_output(
                script,
                name,
                port,
                *timing,
                env=env,
                timeout=60 + 2 * (options.warmup + options.seconds),
            )
        except subprocess.CalledProcessError as exc:
            sys.exit(f"load generator failed against {kind}:\n{exc.stderr}")
        server_cpu = (cpu_seconds(pid) - before) / (time.perf_counter() - start)
    return {**json.loads(output), "server_cpu": server_cpu}


Results = dict[str, dict[str, list[dict[str, Any]]]]  # workload, server, rounds


def median(rounds: list[dict[str, Any]], key: str) -> float:
    """Return the median of one figure over rounds."""
    return statistics.median(float(result[key]) for result in rounds)


def table(results: Results, kinds: list[str]) -> list[str]:
    """
    Return the lines of a Markdown table of medians and ratios.

    Each cell has a median and, in parentheses, its ratio to the first
    server's. Two rows follow: the highest CPU use of the load generator
    against each server, and each server's handshake rate with 1,000 rules as
    a ratio of its rate with 20.

    """
    lines = [f"| workload | {' | '.join(kinds)} |", f"|---|{'---:|' * len(kinds)}"]
    for name, by_kind in results.items():
        workload = WORKLOADS[name]
        for key in ["p50", "p99"] if workload.latency else ["rate"]:
            values = [median(by_kind[kind], key) for kind in kinds]
            title = f"{workload.title}, {key}" if workload.latency else workload.title
            cells = [f"{value:,.0f} ({value / values[0]:.2f})" for value in values]
            lines.append(f"| {title} ({workload.unit}) | {' | '.join(cells)} |")
    busiest = [
        max(result["cpu"] for rounds in results.values() for result in rounds[kind])
        for kind in kinds
    ]
    cells = [f"{cpu:.0%}" for cpu in busiest]
    lines.append(f"| load generator CPU, highest (of a core) | {' | '.join(cells)} |")
    if "handshakes-20" in results and "handshakes-1000" in results:
        few, many = results["handshakes-20"], results["handshakes-1000"]
        ratios = [
            median(many[kind], "rate") / median(few[kind], "rate") for kind in kinds
        ]
        cells = [f"{ratio:.2f}" for ratio in ratios]
        lines.append(f"| handshakes, 1,000 rules / 20 rules | {' | '.join(cells)} |")
    return lines


def machine() -> dict[str, Any]:
    """Describe this machine and the versions of what runs on it."""
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "packages": versions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3, help="per round")
    parser.add_argument("--warmup", type=float, default=1, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--servers",
        nargs="+",
        default=SERVERS,
        choices=CHOICES,
        metavar="SERVER",
        help=f"servers to compare, the first one is the reference of ratios; "
        f"add +uvloop to any (default: {' '.join(SERVERS)})",
    )
    parser.add_argument(
        "--workloads",
        nargs="+",
        default=list(WORKLOADS),
        choices=list(WORKLOADS),
        metavar="WORKLOAD",
        help=f"workloads to run (default: {' '.join(WORKLOADS)})",
    )
    parser.add_argument(
        "--glibc-tunables",
        default=TUNABLES,
        help=f"GLIBC_TUNABLES of every process (default: {TUNABLES}); "
        "'' for glibc's adaptive threshold",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=Path(__file__).parent / "results.json",
        help="where to write every round's figures (default: %(default)s)",
    )
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--load", nargs=4, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        pin(0)
        kind, rules = options.serve
        servers.run(kind, int(rules))
        return
    if options.load:
        pin(1)
        name, port, warmup, seconds = options.load
        measured = asyncio.run(
            WORKLOADS[name].run(int(port), float(warmup), float(seconds))
        )
        print(json.dumps(dataclasses.asdict(measured)), flush=True)
        return

    env = environment(options.glibc_tunables)
    kinds: list[str] = options.servers
    check_all(kinds + ["raw-404"] * ("raw" in kinds), env)
    results: Results = {}
    for name in options.workloads:
        results[name] = {kind: [] for kind in kinds}
        for round_number in range(1, options.rounds + 1):
            for kind in kinds:
                result = measure(kind, name, options, env)
                results[name][kind].append(result)
                print(
                    f"{name} round {round_number}: {kind:16} "
                    f"{result['rate']:9.0f}/s  load CPU {result['cpu']:4.0%}  "
                    f"server CPU {result['server_cpu']:4.0%}",
                    file=sys.stderr,
                )

    lines = table(results, kinds)
    lines += [
        "",
        f"Medians of {options.rounds} rounds of {options.seconds:g} s, after "
        f"{options.warmup:g} s of warm-up; in parentheses, the ratio to "
        f"{kinds[0]} (for latency, lower is better).",
        f"GLIBC_TUNABLES={options.glibc_tunables or '(unset)'} for every process.",
    ]
    print("\n".join(lines))
    report = {
        "command": sys.argv,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine(),
        "rounds": options.rounds,
        "seconds": options.seconds,
        "warmup": options.warmup,
        "glibc_tunables": options.glibc_tunables,
        "table": lines,
        "results": results,
    }
    options.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nEvery round: {options.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
