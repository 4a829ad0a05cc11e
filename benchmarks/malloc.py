#!/usr/bin/env python
"""
glibc's thresholds: the cost of asyncio's 256 KiB read buffer, per message.

    python benchmarks/malloc.py [--servers raw wsroute] [--workloads echo-text]
                                [--seconds 3] [--rounds 5]

Runs run.py's workloads against fresh server processes, taking turns between
three settings of ``GLIBC_TUNABLES`` for both server and load generator:

- ``default``: glibc's own; every read maps, shrinks and unmaps the buffer;
- ``mmap``: the mmap threshold above the buffer; every read grows and trims
  the heap instead;
- ``mmap+trim``: both thresholds, as :func:`wsroute.malloc.tune` sets them
  in :func:`wsroute.server.run`; no system call but the read.

The table gives, for each server and setting, the median rate and the
server's CPU time per round-trip, read from /proc (so Linux only), and the
ratio of each rate to the default's.

"""

from __future__ import annotations

import argparse
import statistics

import run

MMAP = "glibc.malloc.mmap_threshold=266240"
SETTINGS = {"default": "", "mmap": MMAP, "mmap+trim": run.TUNABLES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", nargs="+", default=["raw", "wsroute"])
    parser.add_argument("--workloads", nargs="+", default=["echo-text"])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()

    print("| server | workload | setting | rate (/s) | server CPU (µs each) | ratio |")
    print("|---|---|---|---:|---:|---:|")
    for kind in options.servers:
        for name in options.workloads:
            rates: dict[str, list[float]] = {setting: [] for setting in SETTINGS}
            costs: dict[str, list[float]] = {setting: [] for setting in SETTINGS}
            for _ in range(options.rounds):
                for setting, tunables in SETTINGS.items():
                    env = run.environment(tunables)
                    result = run.measure(kind, name, options, env)
                    rates[setting].append(result["rate"])
                    costs[setting].append(result["server_cpu"] / result["rate"])
            default = statistics.median(rates["default"])
            for setting in SETTINGS:
                rate = statistics.median(rates[setting])
                cost = statistics.median(costs[setting]) * 1e6
                print(
                    f"| {kind} | {name} | {setting} | {rate:,.0f} | {cost:.1f} "
                    f"| {rate / default:.2f} |"
                )
    print(
        f"\nMedians of {options.rounds} rounds of {options.seconds:g} s, after "
        f"{options.warmup:g} s of warm-up. mmap: GLIBC_TUNABLES={MMAP}; "
        f"mmap+trim: GLIBC_TUNABLES={run.TUNABLES}."
    )


if __name__ == "__main__":
    main()
