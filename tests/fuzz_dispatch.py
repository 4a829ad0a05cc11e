"""
A coverage-guided fuzz run of the message dispatchers, with atheris.

    python tests/fuzz_dispatch.py -runs=20000

Each input becomes a message, bytes, text or a JSON object, given to a
:class:`~wsroute.FirstMessageRouter` and a :class:`~wsroute.MessageRouter`
that find their key in a JSON field, and to one whose key is a function. A
message either finds its handler or raises :exc:`~wsroute.InvalidMessage`
with a documented close code and a reason that fits a close frame; anything
else is a crash, which atheris reports with the input that caused it.

"""

from __future__ import annotations

import json
import sys
from typing import Any

import atheris
import websockets.asyncio.server  # noqa: F401 (imported, not instrumented)
import werkzeug.routing  # noqa: F401

with atheris.instrument_imports():  # wsroute's own modules only
    from wsroute import Connection, FirstMessageRouter, InvalidMessage, MessageRouter
    from wsroute.dispatch import KeyedRouter

DOCUMENTED = {1003, 1007, 1008}


async def handler(ws: Connection, message: Any) -> None:
    """A handler that every router can take."""


def routers() -> list[KeyedRouter]:
    """Routers with handlers for a few keys, found in the ways routers offer."""
    by_field: list[KeyedRouter] = [FirstMessageRouter("first"), MessageRouter("rpc")]
    by_function = MessageRouter("prefix", key=lambda m: m[:1] or None)
    for router in by_field:
        for key in ["add", "", 1, None, True]:
            router.add(key, handler)
    by_function.add("a", handler)
    by_function.add(b"a", handler)
    return [*by_field, by_function]


ROUTERS = routers()


def dispatch(data: bytes) -> None:
    """Dispatch one fuzzed message with every router; raise on a crash."""
    provider = atheris.FuzzedDataProvider(data)
    message: str | bytes
    match provider.ConsumeIntInRange(0, 2):
        case 0:  # bytes
            message = provider.ConsumeBytes(len(data))
        case 1:  # text
            message = provider.ConsumeUnicode(len(data))  # lone surrogates too
        case _:  # a JSON object with a key of any type, a known one or not
            key = provider.PickValueInList(
                ["add", "", 1, None, True, 1.5, [], {}, provider.ConsumeUnicode(8)]
            )
            message = json.dumps({"type": key, "x": provider.ConsumeUnicode(64)})
    for router in ROUTERS:
        try:
            key, _ = router.decode(message)
            router.find(key)
            router.show_key(key)
        except InvalidMessage as exc:
            if exc.code not in DOCUMENTED or len(exc.reason.encode()) > 123:
                raise AssertionError(f"{router!r}: {exc.code} {exc.reason!r}") from exc


if __name__ == "__main__":
    atheris.Setup(sys.argv, dispatch)
    atheris.Fuzz()
