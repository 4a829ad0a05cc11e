"""An app served with App.run(), for the tests of signals and shutdown."""

import asyncio
import ctypes
import logging
import socket
import sys
from typing import Any

from examples.app import echo
from wsroute import App, Connection

app = App()
app.add_route("/echo", echo)
app.on_startup(lambda: logging.getLogger("run_app").info("resource opened"))
app.on_shutdown(lambda: logging.getLogger("run_app").info("resource closed"))


@app.route("/loop")
async def loop(ws: Connection) -> None:
    await ws.send(type(asyncio.get_running_loop()).__module__)


@app.route("/malloc")
async def malloc(ws: Connection) -> None:
    await ws.send(allocation_site())


def allocation_site(size: int = 256 * 1024) -> str:
    """Tell where glibc puts a new block of ``size`` bytes: "heap" or "mmap"."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.restype, libc.free.argtypes = None, [ctypes.c_void_p]
    address = libc.malloc(size)
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                if line.rstrip().endswith("[heap]"):
                    bounds = line.split()[0].split("-")
                    start, end = (int(bound, 16) for bound in bounds)
                    if start <= address < end:
                        return "heap"
        return "mmap"
    finally:
        libc.free(address)


@app.route("/loop-errors")
async def loop_errors(ws: Connection) -> None:
    loop = asyncio.get_running_loop()
    for _ in range(10):
        loop.call_soon(fail)  # nothing catches what it raises
    await asyncio.sleep(0)
    await ws.send("failed 10 times")


def fail() -> None:
    raise OSError(24, "Too many open files")


@app.route("/stuck")
async def stuck(ws: Connection) -> None:
    await ws.send("stuck")
    await asyncio.sleep(3600)  # ignores the closing of the connection


@app.route("/stubborn")
async def stubborn(ws: Connection) -> None:
    await ws.send("stubborn")
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        await asyncio.sleep(3600)  # ignores one cancellation, not the next


if __name__ == "__main__":
    options: dict[str, Any] = {"shutdown_timeout": float(sys.argv[1])}
    if "--own-logging" in sys.argv:
        logging.basicConfig(level=logging.INFO, format="own format: %(message)s")
    if "--sock" in sys.argv:
        options["sock"] = socket.create_server(("127.0.0.1", 0))
    if "--behind-proxy" in sys.argv:
        options.update(ssl=True, server_name="public.example")
    port = 0
    if "--no-tune-malloc" in sys.argv:
        options["tune_malloc"] = False
    if "--uvloop" in sys.argv:
        options["loop"] = "uvloop"
    if "--workers" in sys.argv:  # --workers N PORT
        index = sys.argv.index("--workers")
        options["workers"], port = int(sys.argv[index + 1]), int(sys.argv[index + 2])
    app.run("127.0.0.1", port, **options)
