#!/usr/bin/env python
"""
Per-message dispatch: wsroute's MessageRouter against a hand-written loop.

    python benchmarks/messages.py [--messages 20000] [--rounds 5]

Both servers answer ``{"type": "add", "id": n, "a": 1, "b": 2}`` with
``{"id": n, "result": 3}``, among four message types. The hand-written one is
raw websockets with ``json.loads`` and ``if``/``elif``; the other is wsroute
with a :class:`~wsroute.MessageRouter`: those of servers.py, which run.py's
``json`` workload measures too, where this script gives CPU time. Each runs
in its own process, pinned to core 0; the client, pinned to core 1, keeps 20
messages in flight on each of 10 connections. The table gives, for the
median round, the server's CPU time per message, read from /proc (so Linux
only), and messages per second.

"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

import servers
from harness import cpu_seconds, load_output, pin, server_process

HOST = "127.0.0.1"
SERVERS = ["raw", "wsroute"]
CONNECTIONS = 10
WINDOW = 20


async def serve(kind: str) -> None:
    """Serve one kind of server on a free port; print the port."""
    await servers.SERVERS[f"{kind}-json"](20)


async def load(port: int, messages: int) -> None:
    """Send messages on several connections; print messages per second."""
    from websockets.asyncio.client import connect

    per_connection = messages // CONNECTIONS

    async def client() -> None:
        async with connect(f"ws://{HOST}:{port}/rpc", compression=None) as ws:
            request = {"type": "add", "a": 1, "b": 2}
            for number in range(WINDOW):
                await ws.send(json.dumps({**request, "id": number}))
            for number in range(WINDOW, per_connection):
                await ws.recv()
                await ws.send(json.dumps({**request, "id": number}))
            for _ in range(WINDOW):
                await ws.recv()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONNECTIONS)))
    print(per_connection * CONNECTIONS / (time.perf_counter() - start), flush=True)


def measure(kind: str, messages: int) -> tuple[float, float]:
    """Run one round; return messages per second and server µs per message."""
    with server_process(__file__, kind) as (pid, port):
        before = cpu_seconds(pid)
        output = load_output(__file__, port, str(messages))
        cost = (cpu_seconds(pid) - before) / messages * 1e6
    return float(output), cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--load", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        pin(0)
        asyncio.run(serve(args.serve))
        return
    if args.load:
        pin(1)
        asyncio.run(load(int(args.load[0]), int(args.load[1])))
        return

    rates: dict[str, list[float]] = {kind: [] for kind in SERVERS}
    costs: dict[str, list[float]] = {kind: [] for kind in SERVERS}
    for round_number in range(args.rounds):
        for kind in SERVERS:
            rate, cost = measure(kind, args.messages)
            rates[kind].append(rate)
            costs[kind].append(cost)
            print(
                f"round {round_number + 1}: {kind:8} {rate:7.0f}/s {cost:5.1f} µs",
                file=sys.stderr,
            )
    raw_cost = statistics.median(costs["raw"])
    print("| server | messages/s | server CPU per message | ratio of speed to raw |")
    print("|---|---:|---:|---:|")
    for kind in SERVERS:
        rate, cost = statistics.median(rates[kind]), statistics.median(costs[kind])
        print(f"| {kind} | {rate:.0f} | {cost:.1f} µs | {raw_cost / cost:.3f} |")
    print(f"\nmedians of {args.rounds} rounds of {args.messages} messages")


if __name__ == "__main__":
    main()
