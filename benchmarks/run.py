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
seconds, then measures for ``--seconds``; it runs on uvloop, so that it
does less per message than any server. Both processes get the same
``GLIBC_TUNABLES``, which set glibc's mmap threshold above asyncio's
256 KiB read buffer and its trim threshold at twice that, as
:func:`wsroute.server.run` does: otherwise, every read of a socket maps and
unmaps that buffer, or grows and shrinks the heap by it.

Some workloads replace a server with a stand-in: raw websockets, which has
no routes, answers 404 to every request in ``not-found``; in ``json``, raw
websockets with a hand-written dispatch loop and wsroute with a
MessageRouter answer JSON messages, and the other servers sit it out. In
``memory``, the load generator opens 5,000 connections and reads the
server's resident memory before and after, from /proc. In ``fanout``, raw
websockets' ``broadcast()`` to a set of connections and wsroute's rooms
send each message a publisher sends to 1,000 members; the other servers sit
it out.

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
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import load
import servers
from harness import cpu_seconds, load_output, pin, server_process

HOST = "127.0.0.1"
KINDS = ["raw", "route", "wsroute", "starlette", "aiohttp", "picows"]
CHOICES = [*KINDS, *(f"{kind}+uvloop" for kind in KINDS)]
SERVERS = [*KINDS, "wsroute+uvloop"]  # by default
# 260 KiB and 520 KiB, as wsroute.malloc sets them.
TUNABLES = "glibc.malloc.mmap_threshold=266240:glibc.malloc.trim_threshold=532480"
PACKAGES = ["websockets", "werkzeug", "wsroute", "uvicorn", "starlette"]
PACKAGES += ["aiohttp", "picows", "aiofastnet", "uvloop"]


@dataclass(frozen=True)
class Workload:
    """
    What the load generator does, against how many rules, and what it reports.

    ``figures`` names the fields of :class:`load.Result` that the table
    shows. ``stand_ins`` maps a server to the one that replaces it in this
    workload; with ``only_stand_ins``, the other servers sit it out.

    """

    title: str
    unit: str
    load: Callable[[load.Target], Coroutine[Any, Any, load.Result]]
    rules: int = 20
    figures: tuple[str, ...] = ("rate",)
    stand_ins: Mapping[str, str] = field(default_factory=dict)
    only_stand_ins: bool = False

    def server(self, kind: str) -> str | None:
        """Return the server that stands for ``kind``, or None to skip it."""
        name, plus, loop = kind.partition("+")
        if name in self.stand_ins:
            return f"{self.stand_ins[name]}{plus}{loop}"
        return None if self.only_stand_ins else kind


TEXT = load.client_frame(load.TEXT, b"x" * 64)
BINARY = load.client_frame(load.BINARY, bytes(16384))
JSON = load.client_frame(load.TEXT, b'{"type": "add", "id": 1, "a": 1, "b": 2}')
WORKLOADS = {
    "echo-text": Workload(
        "echo, 64 B text, 50 connections",
        "round-trips/s",
        partial(load.echo, path="/echo", frame=TEXT, connections=50),
    ),
    "echo-binary": Workload(
        "echo, 16 KiB binary, 50 connections",
        "round-trips/s",
        partial(load.echo, path="/echo", frame=BINARY, connections=50),
    ),
    "latency": Workload(
        "latency, 64 B text, 1 connection",
        "µs",
        partial(load.echo, path="/echo", frame=TEXT, connections=1),
        figures=("p50", "p99"),
    ),
    "handshakes-20": Workload(
        "handshakes, /items/3, 20 rules",
        "handshakes/s",
        partial(load.handshakes, path="/items/3", status=101, in_flight=20),
    ),
    "handshakes-1000": Workload(
        "handshakes, /items/3, 1,000 rules",
        "handshakes/s",
        partial(load.handshakes, path="/items/3", status=101, in_flight=20),
        rules=1000,
    ),
    "not-found": Workload(
        "404 answers, /nowhere, 20 rules",
        "answers/s",
        partial(load.handshakes, path="/nowhere", status=404, in_flight=20),
        stand_ins={"raw": "raw-404"},  # raw websockets, answering 404 to all
    ),
    "json": Workload(
        "routed JSON messages, 50 connections",
        "round-trips/s",
        partial(load.echo, path="/rpc", frame=JSON, connections=50),
        stand_ins={"raw": "raw-json", "wsroute": "wsroute-json"},
        only_stand_ins=True,  # hand-written dispatch against MessageRouter
    ),
    "fanout": Workload(
        "fan-out to 1,000 members, to the last one",
        "µs",
        partial(load.fanout, members=1000),
        figures=("p50",),
        stand_ins={"raw": "raw-fanout", "wsroute": "wsroute-fanout"},
        only_stand_ins=True,  # broadcast() to a set against wsroute's rooms
    ),
    "memory": Workload(
        "memory, 5,000 idle connections",
        "KiB each",
        partial(load.idle, path="/items/3", connections=5000),
        figures=("memory",),
    ),
}


def environment(tunables: str) -> dict[str, str]:
    """Return the environment of server and load processes."""
    env = dict(os.environ)
    env.pop("GLIBC_TUNABLES", None)
    if tunables:
        env["GLIBC_TUNABLES"] = tunables
    return env


async def check(kind: str, port: int) -> None:
    """Check that a server answers as it must; raise AssertionError if not."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    url, name = f"ws://{HOST}:{port}", kind.partition("+")[0]
    async with asyncio.timeout(10):
        if name.endswith("-fanout"):
            async with (
                connect(f"{url}/room", compression=None) as member,
                connect(f"{url}/publish", compression=None) as publisher,
            ):
                await asyncio.sleep(0.1)  # let the member's handler join
                await publisher.send("hello")
                received = await member.recv()
                if received != "hello":
                    raise AssertionError(f"/room got {received!r}")
            return
        if name.endswith("-json"):
            async with connect(f"{url}/rpc", compression=None) as ws:
                await ws.send('{"type": "add", "id": 1, "a": 1, "b": 2}')
                reply = json.loads(await ws.recv())
                if reply != {"id": 1, "result": 3}:
                    raise AssertionError(f"/rpc replied {reply!r}")
            return
        if name != "raw-404":
            async with connect(f"{url}/echo", compression=None) as ws:
                messages: list[str | bytes] = ["hello", bytes(range(256)) * 64]
                for message in messages:
                    await ws.send(message)
                    echoed = await ws.recv()
                    if echoed != message:
                        raise AssertionError(f"/echo sent back {echoed[:20]!r}")
            async with connect(f"{url}/items/3", compression=None):
                pass
        if name != "raw":  # it answers any path
            try:
                async with connect(f"{url}/nowhere", compression=None):
                    raise AssertionError("/nowhere opened")
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status != 404:
                    raise AssertionError(f"/nowhere got {status}") from exc


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
    script = str(Path(__file__))
    timing = [str(options.warmup), str(options.seconds)]
    rules = str(WORKLOADS[name].rules)
    with server_process(script, kind, rules, env=env) as (pid, port):
        before, start = cpu_seconds(pid), time.perf_counter()
        try:
            output = load_output(
                script,
                name,
                port,
                str(pid),
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


def cells(values: dict[str, float], kinds: list[str], spec: str) -> str:
    """
    Return the cells of a row: each value, and its ratio to the first one.

    A server that sat a workload out gets n/a, and without the first
    server's value there is no ratio.

    """
    reference = values.get(kinds[0])
    texts = []
    for kind in kinds:
        if kind not in values:
            texts.append("n/a")
        elif reference is None:
            texts.append(format(values[kind], spec))
        else:
            ratio = values[kind] / reference
            texts.append(f"{values[kind]:{spec}} ({ratio:.2f})")
    return " | ".join(texts)


def table(results: Results, kinds: list[str]) -> list[str]:
    """
    Return the lines of a Markdown table of medians and ratios.

    Each cell has a median and, in parentheses, its ratio to the first
    server's. Two rows follow: the highest CPU use of the load generator
    against each server, while it measured a rate or a latency, and each
    server's handshake rate with 1,000 rules as a ratio of its rate with 20.

    """
    lines = [f"| workload | {' | '.join(kinds)} |", f"|---|{'---:|' * len(kinds)}"]
    for name, by_kind in results.items():
        workload = WORKLOADS[name]
        for key in workload.figures:
            values = {kind: median(rounds, key) for kind, rounds in by_kind.items()}
            title = workload.title
            if len(workload.figures) > 1:
                title += f", {key}"
            row = cells(values, kinds, ".1f" if key == "memory" else ",.0f")
            lines.append(f"| {title} ({workload.unit}) | {row} |")
    busiest: dict[str, float] = {}
    for name, by_kind in results.items():
        if WORKLOADS[name].figures == ("memory",):
            continue  # idle connections: opening them isn't what's measured
        for kind, rounds in by_kind.items():
            highest = max(result["cpu"] for result in rounds)
            busiest[kind] = max(highest, busiest.get(kind, 0))
    row = " | ".join(
        f"{busiest[kind]:.0%}" if kind in busiest else "n/a" for kind in kinds
    )
    lines.append(f"| load generator CPU, highest (of a core) | {row} |")
    if "handshakes-20" in results and "handshakes-1000" in results:
        few, many = results["handshakes-20"], results["handshakes-1000"]
        ratios = [
            f"{median(many[kind], 'rate') / median(few[kind], 'rate'):.2f}"
            for kind in kinds
        ]
        lines.append(f"| handshakes, 1,000 rules / 20 rules | {' | '.join(ratios)} |")
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
    parser.add_argument("--load", nargs=5, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        pin(0)
        kind, rules = options.serve
        servers.run(kind, int(rules))
        return
    if options.load:
        pin(1)
        name, port, pid, warmup, seconds = options.load
        target = load.Target(int(port), int(pid), float(warmup), float(seconds))
        # On uvloop, whose transports are written in C, the load generator
        # does less per message than any server it loads.
        import uvloop

        measured = uvloop.run(WORKLOADS[name].load(target))
        print(json.dumps(dataclasses.asdict(measured)), flush=True)
        return

    env = environment(options.glibc_tunables)
    kinds: list[str] = options.servers
    # Each workload's servers: the stand-in of each kind, when it has one.
    plan = {
        name: {
            kind: server
            for kind in kinds
            if (server := WORKLOADS[name].server(kind)) is not None
        }
        for name in options.workloads
    }
    check_all(
        list(dict.fromkeys(s for row in plan.values() for s in row.values())), env
    )
    results: Results = {}
    for name, servers_of in plan.items():
        results[name] = {kind: [] for kind in servers_of}
        for round_number in range(1, options.rounds + 1):
            for kind, server in servers_of.items():
                result = measure(server, name, options, env)
                results[name][kind].append(result)
                print(
                    f"{name} round {round_number}: {server:16} "
                    f"{result['rate']:9.0f}/s  load CPU {result['cpu']:4.0%}  "
                    f"server CPU {result['server_cpu']:4.0%}",
                    file=sys.stderr,
                )

    report = {
        "command": sys.argv,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine(),
        "rounds": options.rounds,
        "seconds": options.seconds,
        "warmup": options.warmup,
        "glibc_tunables": options.glibc_tunables,
        "servers": plan,
        "results": results,
    }
    options.json.write_text(json.dumps(report, indent=2) + "\n")
    lines = table(results, kinds)
    lines += [
        "",
        f"Medians of {options.rounds} round(s) of {options.seconds:g} s, after "
        f"{options.warmup:g} s of warm-up; in parentheses, the ratio to "
        f"{kinds[0]} (for latency, fan-out and memory, lower is better).",
        f"GLIBC_TUNABLES={options.glibc_tunables or '(unset)'} for every process.",
    ]
    for name, servers_of in plan.items():
        stand_ins = [f"{s} for {kind}" for kind, s in servers_of.items() if s != kind]
        if len(servers_of) < len(kinds):
            stand_ins.append("the others sit it out")
        if stand_ins:
            lines.append(f"{name}: {'; '.join(stand_ins)}.")
    print("\n".join(lines))
    print(f"\nEvery round: {options.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
