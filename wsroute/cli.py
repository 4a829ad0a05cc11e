"""
The ``wsroute`` command: serve an app, or show its routes.

::

    wsroute run examples.app:app --port 8000
    wsroute run examples.app:app --port 8000 --workers 4
    wsroute run examples.app:app --reload --debug
    wsroute run examples.chat:app --workers 2 --rooms redis://localhost:6379
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
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from . import __version__
from .app import App
from .debug import format_routes
from .rooms import rooms_from_url
from .server import LOG_FORMAT

__all__ = ["load_app", "main"]

logger = logging.getLogger(__name__)


class LoadError(Exception):
    """The name given on the command line doesn't lead to an app."""


def load_app(name: str) -> App:
    """
    Import the app that ``module:attribute`` names.

    Raises:
        LoadError: If the name isn't of that form, the module can't be found,
            it has no such attribute, or the attribute isn't an
            :class:`~wsroute.App`. Other errors in the module, such as a
            syntax error, propagate with their traceback.

    """
    module_name, _, attribute = name.partition(":")
    attribute = attribute or "app"
    if module_name.endswith(".py"):
        raise LoadError(
            f"{name!r} isn't of the form module:attribute; give a module, not a file"
        )
    if not MODULE.fullmatch(module_name) or not attribute.isidentifier():
        raise LoadError(f"{name!r} isn't of the form module:attribute")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # the current directory, as python -m does
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module_name + ".").startswith(exc.name + "."):
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
            f"{module_name}:{attribute} is of type {type(app).__name__}, "
            f"not a wsroute.App"
        )
    return app


# A dotted module name, such as myproject.app.
MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def run_reloading(app_name: str, args: argparse.Namespace) -> int:
    """
    Run ``wsroute run`` in a child process; restart it when a file changes.

    :func:`watchfiles.watch` watches the Python files under the current
    directory. On a change, the child gets SIGUSR1 and shuts down as
    :func:`~wsroute.server.run` does, closing connections with 1012 (service
    restart); then a new child starts. The child is
    in a process group of its own, as workers are, so that a Ctrl-C in the
    terminal reaches it once, through this process. It needs the ``reload``
    extra: ``pip install 'wsroute[reload]'``.

    Returns:
        0 once stopped by Ctrl-C or SIGTERM, or 2 if watchfiles is missing.

    """
    try:
        import watchfiles
    except ImportError:
        print(
            "wsroute: error: --reload needs watchfiles: pip install 'wsroute[reload]'",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT)
    command = serve_command(app_name, args)
    child = subprocess.Popen(command, process_group=0)
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None = None) -> None:
        stopping.set()
        child.send_signal(signum)  # unless it exited

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    for changes in watchfiles.watch(
        ".",
        watch_filter=watchfiles.PythonFilter(),
        stop_event=stopping,
        raise_interrupt=False,
    ):
        paths = sorted({path for _, path in changes})
        logger.info("Restarting: %s changed", ", ".join(paths))
        child.send_signal(signal.SIGUSR1)  # 1012 to clients, unless it exited
        child.wait()  # run() bounds its shutdown
        if stopping.is_set():  # a signal came while the child shut down
            break
        child = subprocess.Popen(command, process_group=0)
    child.wait()
    return 0


def serve_command(app_name: str, args: argparse.Namespace) -> list[str]:
    """Build the ``wsroute run`` command of a worker, or of a reloaded child."""
    command = [sys.executable, "-m", "wsroute", "run", app_name]
    command += ["--host", args.host, "--port", str(args.port)]
    command += ["--log-level", args.log_level]
    if args.no_access_log:
        command.append("--no-access-log")
    if args.debug:
        command.append("--debug")
    if args.rooms:
        command += ["--rooms", args.rooms]
    command += ["--loop", args.loop]
    return command


def positive(text: str) -> int:
    """Parse a positive whole number, for argparse."""
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text} isn't a positive whole number")
    return number


APP_HELP = "the app, as module:attribute, or module for module:app"


def parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(
        prog="wsroute", description="Serve a wsroute app, or show its routes."
    )
    parser.add_argument("--version", action="version", version=f"wsroute {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="serve an app until Ctrl-C or SIGTERM")
    run.add_argument("app", help=APP_HELP)
    run.add_argument(
        "--host", default="localhost", help="interfaces (default: localhost)"
    )
    run.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    run.add_argument(
        "--workers",
        type=positive,
        default=1,
        help="processes sharing the port (default: 1)",
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
    run.add_argument(
        "--debug",
        action="store_true",
        help="log each step of each handshake; list the routes in 404 answers",
    )
    run.add_argument(
        "--loop",
        default="asyncio",
        choices=["asyncio", "uvloop"],
        help="event loop (default: asyncio); uvloop needs wsroute[uvloop]",
    )
    run.add_argument(
        "--rooms",
        metavar="URL",
        help="where rooms live: memory:// (default) or redis://HOST:PORT",
    )
    run.add_argument(
        "--reload",
        action="store_true",
        help="restart when a Python file under the current directory changes",
    )

    routes = commands.add_parser("routes", help="print the route table of an app")
    routes.add_argument("app", help=APP_HELP)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``wsroute`` command; return its exit code."""
    args = parser().parse_args(argv)
    try:
        app = load_app(args.app)
    except LoadError as exc:
        print(f"wsroute: error: {exc}", file=sys.stderr)
        return 2
    if args.command == "routes":
        print(format_routes(app))
        return 0
    if args.rooms:
        try:
            app.rooms = rooms_from_url(args.rooms)
        except ValueError as exc:
            print(f"wsroute: error: {exc}", file=sys.stderr)
            return 2
        except ImportError:
            print(
                "wsroute: error: --rooms redis://... needs redis-py: "
                "pip install 'wsroute[redis]'",
                file=sys.stderr,
            )
            return 2
    if args.workers > 1 and args.reload:
        print("wsroute: error: --reload runs one worker", file=sys.stderr)
        return 2
    if args.workers > 1 and args.port == 0:
        print("wsroute: error: --workers needs a fixed --port", file=sys.stderr)
        return 2
    if args.reload:
        return run_reloading(args.app, args)
    if args.no_access_log:
        logging.getLogger("wsroute.access").disabled = True
    try:
        app.run(
            args.host,
            args.port,
            workers=args.workers,
            loop=args.loop,
            log_level=getattr(logging, args.log_level.upper()),
            debug=args.debug,
        )
    except ImportError as exc:  # uvloop is missing
        print(f"wsroute: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # a worker failed
        return int(exc.code or 0)
    return 0
