"""
Keeping secrets out of websockets' debug log.

At DEBUG level, websockets logs each request line, each header and each
frame. Those carry credentials: a token in the query string, a ``Cookie`` or
``Authorization`` header, a token in ``Sec-WebSocket-Protocol``, a token in a
first message. :class:`RedactingLogger` stands between websockets and the
logger it was given, and replaces them before they're logged; at INFO level
and above, it costs one method call per record.

"""

from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any

from websockets.frames import Frame, Opcode

__all__ = ["RedactingLogger"]

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
        self.repeats_after = repeats_after
        # For each error, by where it was raised: when its traceback was
        # last logged, and how many times it was left out since.
        self.errors: dict[tuple[Any, ...], tuple[float, int]] = {}

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
                left_out = self.left_out(msg, exc)
                if left_out is None:
                    return
                if left_out:
                    msg = f"{msg} (and %d times more since its last traceback)"
                    args = (*args, left_out)
        # Records name websockets' line, not this one.
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        self.logger.log(level, msg, *args, **kwargs)

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
