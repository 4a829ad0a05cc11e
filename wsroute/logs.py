"""
Keeping secrets out of websockets' debug log, and repeats out of every log.

At DEBUG level, websockets logs each request line, each header and each
frame. Those carry credentials: a token in the query string, a ``Cookie`` or
``Authorization`` header, a token in ``Sec-WebSocket-Protocol``, a token in a
first message. :class:`RedactingLogger` stands between websockets and the
logger it was given, and replaces them before they're logged; at INFO level
and above, it costs one method call per record.

An error that every connection meets, such as a bug in a handler, or that
repeats by itself, such as asyncio's failures to accept connections once
the process is out of file descriptors, must not fill the disk either:
:class:`RedactingLogger`, and :class:`LoopErrors` for asyncio, log the same
error with its traceback once a minute at most.

"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import time
from typing import Any

from websockets.frames import Frame, Opcode

__all__ = ["LoopErrors", "RedactingLogger", "Repeats"]

SECRET_HEADERS = {
    "authorization",
    "cookie",
    "proxy-authorization",
    "sec-websocket-protocol",
    "set-cookie",
}

DATA = {Opcode.TEXT, Opcode.BINARY, Opcode.CONT}


class RedactingLogger(logging.LoggerAdapter[Any]):
    """
    A logger for websockets that leaves credentials out of its debug lines.

    * ``< GET /path?query HTTP/1.1``: the query is left out;
    * ``< Cookie: ...`` and the other headers that carry credentials, both
      ways: the value is replaced by ``[redacted]``;
    * ``< TEXT '...' [12 bytes]`` and other data frames, both ways: the
      contents are left out, and the opcode and the length stay.

    At DEBUG level, a record with a traceback, such as websockets' ``!
    invalid handshake``, becomes one line that ends with the exception's
    message, since what it tells is a client's fault. At ERROR level, the
    same error, raised on the same line, is logged with its traceback at
    most once every ``repeats_after`` seconds; the next time it's logged
    tells how many times it was left out. Other records, at any level, pass
    unchanged.

    """

    def __init__(
        self,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        repeats_after: float = 60.0,
    ) -> None:
        super().__init__(logger, {})
        self.repeats = Repeats(repeats_after)

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Log a record, once its credentials are left out."""
        if not self.isEnabledFor(level):  # nothing to redact in what isn't shown
            return
        if level <= logging.DEBUG and args:
            args = redact(msg, args)
        if level <= logging.DEBUG and kwargs.get("exc_info"):
            # A client's fault, such as a malformed handshake: one line.
            exc = exception(kwargs.pop("exc_info"))
            msg, args = "%s: %s", (msg % args if args else msg, one_line(exc))
        elif level >= logging.ERROR and kwargs.get("exc_info"):
            exc = exception(kwargs["exc_info"])
            if exc is not None:
                left_out = self.repeats.left_out(msg, exc)
                if left_out is None:
                    return
                if left_out:
                    msg = f"{msg} (and %d times more since its last traceback)"
                    args = (*args, left_out)
        # Records name websockets' line, not this one.
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        self.logger.log(level, msg, *args, **kwargs)


class Repeats:
    """
    Tell when an error repeats too often to log its traceback each time.

    Errors count as the same when they have the same message and type and
    were raised on the same line.

    """

    def __init__(self, repeats_after: float = 60.0) -> None:
        self.repeats_after = repeats_after
        # For each error, by where it was raised: when its traceback was
        # last logged, and how many times it was left out since.
        self.errors: dict[tuple[Any, ...], tuple[float, int]] = {}

    def left_out(self, msg: str, exc: BaseException) -> int | None:
        """
        Tell whether to log an error's traceback, since when it repeats.

        An error, by its message and the line that raised it, is logged with
        its traceback once every ``repeats_after`` seconds at most: a bug
        that every connection meets doesn't fill the logs. Returns None to
        leave it out, or how many times it was left out since it was last
        logged.

        """
        traceback = exc.__traceback__
        while traceback is not None and traceback.tb_next is not None:
            traceback = traceback.tb_next
        where = (
            (None, None)
            if traceback is None
            else (
                traceback.tb_frame.f_code.co_filename,
                traceback.tb_lineno,
            )
        )
        key = (msg, type(exc), *where)
        now = time.monotonic()
        logged, left_out = self.errors.get(key, (-math.inf, 0))
        if now - logged < self.repeats_after:
            self.errors[key] = (logged, left_out + 1)
            return None
        self.errors[key] = (now, 0)
        return left_out


class LoopErrors:
    """
    An exception handler for an event loop that logs each error once a minute.

    asyncio logs what a callback raised with nobody to catch it, with its
    traceback, on the ``asyncio`` logger. Some of those repeat without end:
    a process out of file descriptors fails each ``accept()``, and asyncio
    logs each failure, tens of thousands a second. Like
    :class:`RedactingLogger` for websockets' errors, this handler logs the
    same error, raised on the same line, once every ``repeats_after``
    seconds at most, and the next time says how many times it was left out.
    :func:`wsroute.server.run` sets it on its event loop.

    """

    def __init__(self, repeats_after: float = 60.0) -> None:
        self.repeats = Repeats(repeats_after)

    def __call__(
        self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]
    ) -> None:
        """Log an error that asyncio reports, unless it's logged too often."""
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            message = context.get("message", "Unhandled exception in event loop")
            left_out = self.repeats.left_out(message, exc)
            if left_out is None:
                return
            if left_out:
                more = f"(and {left_out} times more since its last traceback)"
                context = {**context, "message": f"{message} {more}"}
        loop.default_exception_handler(context)


def redact(msg: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Leave credentials out of the arguments of a websockets debug line."""
    if msg == "< %s %s %s":  # the request line
        method, target, protocol = args
        return method, target.partition("?")[0], protocol
    if msg in ("< %s: %s", "> %s: %s") and args[0].lower() in SECRET_HEADERS:
        return args[0], "[redacted]"
    if msg in ("< %s", "> %s") and isinstance(args[0], Frame):
        frame = args[0]
        if frame.opcode in DATA:
            return (f"{frame.opcode.name} [{len(frame.data)} bytes]",)
    return args


def exception(exc_info: Any) -> BaseException | None:
    """Find the exception that a logging call's ``exc_info`` names."""
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple):
        return exc_info[1]  # type: ignore[no-any-return]
    return sys.exc_info()[1]


def one_line(exc: BaseException | None) -> str:
    """Tell an exception, and what caused it, in one line."""
    if exc is None:
        return "no exception"
    parts = [exc] if exc.__cause__ is None else [exc, exc.__cause__]
    return ": ".join(str(part) or type(part).__name__ for part in parts)
