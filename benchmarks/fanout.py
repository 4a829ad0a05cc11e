#!/usr/bin/env python
"""
Fan-out: one message to every member of a room, wsroute's rooms against raw.

    python benchmarks/fanout.py [--members 1000] [--messages 50] [--rounds 3]

The servers keep ``--members`` connections in a room and send each message
that a publisher sends to all of them. The raw one is websockets with a set
of connections and :func:`~websockets.asyncio.server.broadcast`; ``wsroute``
is wsroute with ``ws.join()`` and ``app.rooms.publish()``, in one process;
``wsroute+redis`` is two wsroute processes with half the members each,
sharing the room through a ``redis-server`` that the script starts (it's
left out if there's none on PATH). Servers run pinned to core 0; the members
and the publisher share one process, pinned to core 1. The publisher sends a
message once every member received the previous one. The table gives, for
the median round, the servers' CPU time per published message (Redis's
included), read from /proc (so Linux only), and the time from sending a
message to its arrival at the last member, which includes the members' own
work on one core.

"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import servers
from harness import cpu_seconds, load_output, pin, server_process

HOST = "127.0.0.1"
SERVERS = ["raw", "wsroute", "wsroute+redis"]


async def serve(kind: str) -> None:
    """Serve one kind of server on a free port; print the port."""
    if kind == "raw":
        await servers.raw_fanout(20)
    else:  # wsroute, or redis:URL
        _, _, url = kind.partition(":")
        await servers.wsroute_fanout(20, redis_url=url or None)


async def load(ports: list[int], pids: list[int], members: int, messages: int) -> None:
    """
    Publish messages to members connected to servers on ``ports``.

    Print the median time to deliver a message to all of them, and the CPU
    time that processes ``pids`` spent per message.

    """
    from websockets.asyncio.client import ClientConnection, connect

    received = 0
    everyone = asyncio.Event()

    async def member(ws: ClientConnection) -> None:
        nonlocal received
        async for _ in ws:
            received += 1
            if received == members:
                everyone.set()

    connections = []
    for number in range(members):  # one at a time: no handshake storm
        port = ports[number % len(ports)]
        connections.append(await connect(f"ws://{HOST}:{port}/room", compression=None))
    readers = [asyncio.create_task(member(ws)) for ws in connections]
    delivery = []
    async with connect(
        f"ws://{HOST}:{ports[0]}/publish", compression=None
    ) as publisher:
        await asyncio.sleep(0.5)  # let the server's handlers join the room
        before = sum(map(cpu_seconds, pids))
        for number in range(messages):
            received = 0
            everyone.clear()
            start = time.perf_counter()
            await publisher.send(f"message {number}")
            async with asyncio.timeout(10):
                await everyone.wait()
            delivery.append(time.perf_counter() - start)
        cost = (sum(map(cpu_seconds, pids)) - before) / messages
    for ws in connections:
        await ws.close()
    await asyncio.gather(*readers)
    print(statistics.median(delivery), cost, flush=True)


@contextmanager
def redis_server() -> Iterator[tuple[int, int]]:
    """Run redis-server on a free port, pinned to core 0; yield pid and port."""
    with socket.create_server((HOST, 0)) as probe:
        port = probe.getsockname()[1]
    command = ["taskset", "-c", "0", "redis-server", "--port", str(port)]
    command += ["--bind", HOST, "--save", "", "--appendonly", "no"]
    redis = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                socket.create_connection((HOST, port), 1).close()
                break
            except ConnectionRefusedError:
                time.sleep(0.01)
        yield redis.pid, port
    finally:
        redis.terminate()
        redis.wait()


def measure(kind: str, members: int, messages: int) -> tuple[float, float]:
    """Run one round; return seconds to deliver and server µs per publish."""
    with ExitStack() as stack:
        if kind == "wsroute+redis":
            redis = stack.enter_context(redis_server())
            url = f"redis://{HOST}:{redis[1]}/0"
            servers = [
                stack.enter_context(server_process(__file__, f"redis:{url}"))
                for _ in range(2)
            ]
            pids = [redis[0]] + [pid for pid, _ in servers]
            ports = [port for _, port in servers]
        else:
            pid, port = stack.enter_context(server_process(__file__, kind))
            pids, ports = [pid], [port]
        output = load_output(
            __file__,
            ",".join(map(str, ports)),
            ",".join(map(str, pids)),
            str(members),
            str(messages),
        )
    seconds, cost = output.split()
    return float(seconds), float(cost) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--load", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        pin(0)
        asyncio.run(serve(args.serve))
        return
    if args.load:
        pin(1)
        ports, pids, members, messages = args.load
        asyncio.run(
            load(
                [int(port) for port in ports.split(",")],
                [int(pid) for pid in pids.split(",")],
                int(members),
                int(messages),
            )
        )
        return

    servers = SERVERS if shutil.which("redis-server") else SERVERS[:2]
    times: dict[str, list[float]] = {kind: [] for kind in servers}
    costs: dict[str, list[float]] = {kind: [] for kind in servers}
    for round_number in range(args.rounds):
        for kind in servers:
            seconds, cost = measure(kind, args.members, args.messages)
            times[kind].append(seconds)
            costs[kind].append(cost)
            print(
                f"round {round_number + 1}: {kind:8} "
                f"{seconds * 1e3:6.1f} ms {cost:7.0f} µs",
                file=sys.stderr,
            )
    raw_cost = statistics.median(costs["raw"])
    print(
        "| server | to the last of the members | "
        "server CPU per message | ratio of speed to raw |"
    )
    print("|---|---:|---:|---:|")
    for kind in servers:
        seconds, cost = statistics.median(times[kind]), statistics.median(costs[kind])
        print(
            f"| {kind} | {seconds * 1e3:.1f} ms | {cost:.0f} µs "
            f"| {raw_cost / cost:.3f} |"
        )
    print(
        f"\nmedians of {args.rounds} rounds of {args.messages} messages "
        f"to {args.members} members"
    )


if __name__ == "__main__":
    main()
