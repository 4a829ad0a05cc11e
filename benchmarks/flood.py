"""
Measure what a flooding client costs the others, with and without a rate limit.

    .venv/bin/python benchmarks/flood.py [--seconds 3]

A wsroute app echoes on ``/echo`` and ``/probe``. A probe client on
``/probe``, whose route lifts the rate limit, measures its round-trip latency,
first alone, then while another client sends 64-byte messages to ``/echo`` as
fast as it can, reconnecting whenever it's closed. It runs twice: with
wsroute's default limits, which close the flooder with 1008 after its burst,
and with the rate limit lifted, as in bare websockets. Server, flooder and
probe share one process and one event loop, so the figures compare the two
runs with each other, not with another machine.

"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wsroute import App, Connection, Limits
from wsroute.server import create_server


def echo_app(limits: Limits) -> App:
    """An app that echoes on /echo, and on /probe without a rate limit."""
    app = App(limits=limits)

    async def echo(ws: Connection) -> None:
        async for message in ws:
            await ws.send(message)

    app.add_route("/echo", echo)
    # The probe sends as fast as its round trips allow: over the default rate.
    app.add_route("/probe", echo, endpoint="probe", limits=Limits(rate=None))
    return app


async def probe(url: str, seconds: float) -> list[float]:
    """Measure round trips on one connection for ``seconds``; in ms."""
    latencies = []
    async with connect(url) as ws:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sent = time.perf_counter()
            await ws.send("probe")
            await ws.recv()
            latencies.append((time.perf_counter() - sent) * 1000)
    return latencies


async def flood(url: str, stop: asyncio.Event) -> tuple[int, int]:
    """Send as fast as possible until stopped; return messages and closes."""
    sent = closes = 0
    message = "x" * 64
    while not stop.is_set():
        try:
            async with connect(url, max_queue=None) as ws:
                while not stop.is_set():
                    await ws.send(message)
                    sent += 1
                    if sent % 64 == 0:
                        await asyncio.sleep(0)  # let the others run
        except (ConnectionClosed, InvalidStatus, OSError):
            closes += 1
    return sent, closes


def p99(latencies: list[float]) -> float:
    """The 99th percentile."""
    return statistics.quantiles(latencies, n=100)[98]


async def measure(limits: Limits, seconds: float) -> dict[str, float]:
    """Probe alone, then beside a flooder; return both p99s and the flood."""
    async with await create_server(echo_app(limits), "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}"
        alone = await probe(f"{url}/probe", seconds)
        stop = asyncio.Event()
        flooder = asyncio.create_task(flood(f"{url}/echo", stop))
        during = await probe(f"{url}/probe", seconds)
        stop.set()
        sent, closes = await flooder
    return {
        "p99 alone (ms)": p99(alone),
        "p99 during the flood (ms)": p99(during),
        "ratio": p99(during) / p99(alone),
        "flood messages sent": sent,
        "flooder closed": closes,
    }


async def main() -> None:
    """Run both cases; print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--seconds", type=float, default=3.0)
    options = parser.parse_args()
    cases = {
        "default limits (rate 100/s, burst 200)": Limits(),
        "rate limit lifted, as bare websockets": Limits(rate=None),
    }
    results = {
        name: await measure(limits, options.seconds) for name, limits in cases.items()
    }
    figures = list(next(iter(results.values())))
    print("| case | " + " | ".join(figures) + " |")
    print("|---|" + "---:|" * len(figures))
    for name, result in results.items():
        cells = [
            f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
            for value in result.values()
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    asyncio.run(main())
