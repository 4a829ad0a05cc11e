"""
The ``wsroute`` command: serve an app, or show its routes.

::

    wsroute run examples.app:app --port 8000
    wsroute run examples.app:app --port 8000 --workers 4
    wsroute routes examples.app:app
    python -m wsroute --version

The app is named ``module:attribute``, or just ``module`` for an attribute
named ``app``, and imported from the current directory first. A name that
doesn't lead to an :class:`~wsroute.App` gets one line of explanation and
exit code 2.

"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType

from . import __version__
from .app import App
from .dispatch import FirstMessageRouter, MessageRouter
from .routing import Route, describe

__all__ = ["load_app", "main", "route_table"]


class LoadError(Exception):
    """The name given on the command line doesn't lead to an app."""


def load_app(name: str) -> App:
    """
    Import the app that ``module:attribute`` names.

    Raises:
        LoadError: If the module can't be found, it has no such attribute, or
            the attribute isn't an :class:`~wsroute.App`. Other errors in the
            module, such as a syntax error, propagate with their traceback.

    """
    module_name, _, attribute = name.partition(":")
    attribute = attribute or "app"
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # the current directory, as python -m does
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise  # the module exists, and one of its imports fails
        raise LoadError(
            f"can't import {module_name!r}: no module named {exc.name!r}"
        ) from None
    try:
        app = getattr(module, attribute)
    except AttributeError:
        raise LoadError(
            f"module {module_name!r} has no attribute {attribute!r}"
        ) from None
    if not isinstance(app, App):
        raise LoadError(
            f"{module_name}:{attribute} is a {type(app).__name__}, not a wsroute.App"
        )
    return app


def route_table(app: App) -> list[tuple[str, str, str, str, str]]:
    """
    Describe an app's routes: rule, endpoint, handler, hooks and dispatch.

    The app's setup finishes, so that the hooks of each route are known.

    """
    app.url_map  # noqa: B018 (settle each route's hooks)
    rows = []
    for path, http_handler in app.http_routes.items():
        rows.append((path, "", describe(http_handler), "", "HTTP GET"))
    for rule in app.rules:
        if isinstance(rule, Route):
            handler, hooks = (
                rule.handler,
                ", ".join(map(describe, rule.handshake_hooks)),
            )
            if isinstance(handler, FirstMessageRouter):
                dispatch = f"first message, by {describe_key(handler.key)}"
            elif isinstance(handler, MessageRouter):
                dispatch = f"each message, by {describe_key(handler.key)}"
            else:
                dispatch = "connection"
            rows.append(
                (rule.rule, str(rule.endpoint), describe(handler), hooks, dispatch)
            )
        else:
            target = rule.redirect_to if isinstance(rule.redirect_to, str) else "..."
            rows.append(
                (rule.rule, str(rule.endpoint or ""), "", "", f"redirect to {target}")
            )
    return rows


def describe_key(key: object) -> str:
    """Describe how a message router finds the key of a message."""
    return repr(key) if isinstance(key, str) else describe(key)


def print_routes(app: App) -> None:
    """Print the route table, with aligned columns."""
    header = ("rule", "endpoint", "handler", "hooks", "dispatch")
    rows = [header, *route_table(app)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    for row in rows:
        print(
            "  ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )


def run_workers(argv: Sequence[str], workers: int) -> int:
    """
    Run ``workers`` processes that share the port, until SIGINT or SIGTERM.

    Each worker is ``wsroute run`` with the same arguments and one worker,
    binding the port with ``SO_REUSEPORT`` so that the kernel spreads
    connections among them. Signals reach every worker, which shuts down as
    :func:`~wsroute.server.run` does.

    """
    command = [sys.executable, "-m", "wsroute", *argv, "--workers", "1", "--reuse-port"]
    processes = [subprocess.Popen(command) for _ in range(workers)]

    def forward(signum: int, frame: FrameType | None) -> None:
        for process in processes:
            process.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    return max(process.wait() for process in processes)


def parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(
        prog="wsroute", description="Serve a wsroute app, or show its routes."
    )
    parser.add_argument("--version", action="version", version=f"wsroute {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="serve an app until Ctrl-C or SIGTERM")
    run.add_argument("app", help="the app, as module:attribute")
    run.add_argument(
        "--host", default="localhost", help="interfaces (default: localhost)"
    )
    run.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    run.add_argument(
        "--workers", type=int, default=1, help="processes sharing the port (default: 1)"
    )
    run.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="level of the log on standard error (default: info)",
    )
    run.add_argument(
        "--no-access-log", action="store_true", help="don't log each connection"
    )
    run.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)

    routes = commands.add_parser("routes", help="print the route table of an app")
    routes.add_argument("app", help="the app, as module:attribute")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``wsroute`` command; return its exit code."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(arguments)
    try:
        app = load_app(args.app)
    except LoadError as exc:
        print(f"wsroute: error: {exc}", file=sys.stderr)
        return 2
    if args.command == "run" and args.workers > 1:
        if args.port == 0:
            print("wsroute: error: --workers needs a fixed --port", file=sys.stderr)
            return 2
        return run_workers(arguments, args.workers)
    if args.command == "routes":
        print_routes(app)
    else:
        options = {"reuse_port": True} if args.reuse_port else {}
        log_level = getattr(logging, args.log_level.upper())
        if args.no_access_log:
            logging.getLogger("wsroute.access").disabled = True
        app.run(args.host, args.port, log_level=log_level, **options)
    return 0
