"""
Workers: several processes that serve one app on one port.

``app.run(workers=4)`` or ``wsroute run app:app --workers 4`` forks four
processes once the app is imported. Each one serves the app on the same port,
which it binds with ``SO_REUSEPORT``, so that the kernel spreads connections
among them; the first process only watches over them:

* it passes SIGINT, SIGTERM and SIGUSR1 on, once: each worker is in a
  process group of its own, so that a Ctrl-C in the terminal reaches it
  through the first process only, and shuts down as
  :func:`~wsroute.server.run` does;
* when a worker exits on its own, it stops the others, so that a process
  manager sees the service fail, and restarts it whole.

Workers share no memory: share rooms through Redis (see
:mod:`wsroute.redis`), and anything else through a database.

"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

__all__ = ["run_workers"]

logger = logging.getLogger(__name__)

#: What stops workers: passed on to them, SIGHUP as SIGTERM.
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1}


def run_workers(count: int, serve: Callable[[], None]) -> int:
    """
    Call ``serve`` in ``count`` forked processes; wait until they all exit.

    SIGINT, SIGTERM and SIGUSR1 are passed on to the workers; so is SIGHUP,
    as SIGTERM, since it means that the terminal closed, and the workers,
    which don't get it, would outlive the process otherwise.

    Returns:
        0 if every worker exited cleanly, or was stopped by a signal passed
        on; else the exit status of the worker that failed first, or 128 + N
        if signal N killed it, as a shell reports it. A worker that exits on
        its own, while no signal stopped it, has failed, even with status 0.

    """
    sys.stdout.flush()
    sys.stderr.flush()
    stopping = False
    running: set[int] = set()

    def stop(signum: int, frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        forwarded = signal.SIGTERM if signum == signal.SIGHUP else signum
        for pid in list(running):
            with contextlib.suppress(ProcessLookupError):  # exiting already
                os.kill(pid, forwarded)

    # Hold stop signals until the handlers are in place, in this process
    # and, as the mask is inherited, in each worker until it unblocks them.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    handlers = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    status = 0
    try:
        running.update(fork(serve) for _ in range(count))
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        while running:
            pid, wait_status = os.waitpid(-1, 0)  # resumes after a signal
            if pid not in running:  # pragma: no cover (a child of the app's)
                continue
            running.remove(pid)
            code = os.waitstatus_to_exitcode(wait_status)
            if not stopping:
                logger.error("A worker exited; stopping the others")
                status = status or code or 1
                stop(signal.SIGTERM)
            elif code > 0:  # a failure, not a signal it was stopped with
                status = status or code
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    return 128 - status if status < 0 else status


def fork(serve: Callable[[], None]) -> int:
    """Call ``serve`` in a child process; return its pid."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (in the worker, as below)
        serve_then_exit(serve)
    return pid


# The tests of workers run this, in forked processes that exit with os._exit,
# which keeps coverage from saving what it measured there.
def serve_then_exit(serve: Callable[[], None]) -> NoReturn:  # pragma: no cover
    """In a worker: serve, then exit with a status that tells how it went."""
    code = 1
    try:
        os.setpgid(0, 0)  # signals from the terminal go to the parent only
        # Not the parent's handlers: the server installs its own.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        serve()
        code = 0
    except SystemExit as exc:  # such as sys.exit(3) in a startup hook
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if 0 <= code <= 255 else 1)  # not the parent's cleanup
