#!/usr/bin/env python
"""
Handshakes per second: raw websockets, websockets' route(), and wsroute.

    python benchmarks/handshakes.py [--seconds 5] [--rounds 3] [--in-flight 20]

Each server runs in its own process, pinned to core 0; the load generator
runs in another, pinned to core 1. It opens a TCP connection, sends a
handshake request for ``/items/3``, reads the 101 answer, sends a close frame
and reads until the server closes the connection, with ``--in-flight``
connections at a time. Servers take turns (A B C A B C ...) and the table
gives the median of the rounds, as a ratio to raw websockets, with the CPU
time the server spent per handshake (read from /proc, so Linux only).

Raw websockets serves one handler; route() and wsroute serve 21 rules: 19
with a parameter, then ``/echo``, then ``/items/<int:id>``. ``--path`` picks
the path requested.

"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from harness import (
    cpu_seconds,
    load_output,
    pin,
    serve_until_terminated,
    server_process,
)

HOST = "127.0.0.1"
SERVERS = ["raw", "route", "wsroute"]
# Servers that isolate one cost each, for --servers.
DIAGNOSTIC = ["raw+subclass", "raw+process_request", "wsroute-1-rule"]
REQUEST = (
    b"GET %s HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)
# A masked close frame with code 1000.
CLOSE = bytes([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xE8 ^ 2])


async def serve(kind: str) -> None:
    """Serve one kind of server on a free port; print the port."""
    from websockets.asyncio.router import route
    from websockets.asyncio.server import ServerConnection, serve
    from werkzeug.routing import Map, Rule

    from wsroute import App, Connection

    async def echo(ws: ServerConnection, **params: object) -> None:
        async for message in ws:
            await ws.send(message)

    rules = [f"/section{i}/<int:id>" for i in range(19)] + ["/echo", "/items/<int:id>"]
    if kind == "wsroute-1-rule":
        kind, rules = "wsroute", rules[-1:]
    if kind == "raw":
        server = serve(echo, HOST, 0, compression=None)
    elif kind == "raw+subclass":
        server = serve(echo, HOST, 0, compression=None, create_connection=Connection)
    elif kind == "raw+process_request":

        def process_request(connection: ServerConnection, request: object) -> None:
            return None

        server = serve(echo, HOST, 0, compression=None, process_request=process_request)
    elif kind == "route":
        url_map = Map([Rule(rule, endpoint=echo) for rule in rules])
        server = route(url_map, HOST, 0, compression=None)
    else:
        app = App()
        for number, rule in enumerate(rules):
            app.add_route(rule, echo, endpoint=f"e{number}")
        server = app.serve(HOST, 0, compression=None)  # type: ignore[assignment]
    await serve_until_terminated(server)


async def load(port: int, seconds: float, in_flight: int, path: str) -> None:
    """Open and close connections for a while; print count and CPU seconds."""
    count = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal count
        while time.monotonic() < deadline:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(REQUEST % path.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 101 "):
                raise RuntimeError(f"unexpected answer: {head!r}")
            writer.write(CLOSE)
            await reader.read()  # the server's close frame, then EOF
            writer.close()
            count += 1

    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    print(count / seconds, time.process_time() - start, flush=True)


def measure(
    kind: str, seconds: float, in_flight: int, path: str
) -> tuple[float, float, float]:
    """
    Start a server, load it, stop it.

    Returns handshakes per second, the server's CPU time per handshake in
    microseconds, and the share of a core the load generator used.

    """
    with server_process(__file__, kind) as (pid, port):
        before = cpu_seconds(pid)
        output = load_output(__file__, port, str(seconds), str(in_flight), path)
        server_cpu = cpu_seconds(pid) - before
    rate, client_cpu = map(float, output.split())
    return rate, server_cpu / (rate * seconds) * 1e6, client_cpu / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=20)
    parser.add_argument(
        "--servers",
        nargs="+",
        default=SERVERS,
        choices=SERVERS + DIAGNOSTIC,
        help="servers to compare; the first is the reference of ratios",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--load", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument(
        "--path",
        default="/items/3",
        help="path to request: /items/3 (a rule with a parameter) or /echo",
    )
    args = parser.parse_args()
    if args.serve:
        pin(0)
        asyncio.run(serve(args.serve))
        return
    if args.load:
        pin(1)
        port, seconds, in_flight, path = args.load
        asyncio.run(load(int(port), float(seconds), int(in_flight), path))
        return

    servers = args.servers
    rates: dict[str, list[float]] = {kind: [] for kind in servers}
    costs: dict[str, list[float]] = {kind: [] for kind in servers}
    loads: list[float] = []
    for round_number in range(args.rounds):
        for kind in servers:
            rate, cost, load_cpu = measure(
                kind, args.seconds, args.in_flight, args.path
            )
            rates[kind].append(rate)
            costs[kind].append(cost)
            loads.append(load_cpu)
            print(
                f"round {round_number + 1}: {kind:20} {rate:6.0f}/s {cost:6.1f} µs",
                file=sys.stderr,
            )
    reference = statistics.median(rates[servers[0]])
    reference_cost = statistics.median(costs[servers[0]])
    print(
        f"| server | handshakes/s | ratio to {servers[0]} "
        f"| server CPU per handshake | extra CPU |"
    )
    print("|---|---:|---:|---:|---:|")
    for kind in servers:
        rate, cost = statistics.median(rates[kind]), statistics.median(costs[kind])
        print(
            f"| {kind} | {rate:.0f} | {rate / reference:.3f} "
            f"| {cost:.1f} µs | {cost - reference_cost:+.1f} µs |"
        )
    print(f"\n{args.path}: medians of {args.rounds} rounds of {args.seconds:g} s")
    print(f"load generator CPU use: {max(loads):.0%} of a core at most")


if __name__ == "__main__":
    main()
