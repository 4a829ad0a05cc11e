"""
Lifecycle hooks: around a server, around each connection, and on errors.

An app declares them; :func:`wsroute.server.serve` calls them:

* startup hooks, before the server listens, and shutdown hooks, after it
  closed, to open and close a resource once per server;
* connect hooks, after the handshake and before the handler, and disconnect
  hooks, after the connection closed, when ``ws.close_code`` is known;
* error handlers, which turn an exception that escaped a handler into a close
  code and a reason.

Each hook may be a function or a coroutine function.

"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from .exceptions import CloseConnection

if TYPE_CHECKING:
    from .connection import Connection

__all__ = [
    "ConnectionHook",
    "ErrorHandler",
    "Lifecycle",
    "ServerHook",
    "call",
    "find_error_handler",
]

ServerHook: TypeAlias = Callable[[], Awaitable[None] | None]
"""A startup or shutdown hook, which takes no argument."""

ConnectionHook: TypeAlias = Callable[["Connection"], Awaitable[None] | None]
"""A connect or disconnect hook, which takes the connection."""

ErrorHandler: TypeAlias = Callable[
    ["Connection", Any], Awaitable[CloseConnection | None] | CloseConnection | None
]
"""An error handler, which takes the connection and the exception, and returns a
:exc:`~wsroute.CloseConnection` saying how to close, or :obj:`None` to treat
the exception as a crash after all."""


async def call(function: Callable[..., Any], *args: Any) -> Any:
    """Call a function or a coroutine function; return its result."""
    result = function(*args)
    if isinstance(result, Awaitable):
        result = await result
    return result


def find_error_handler(
    handlers: Mapping[type[BaseException], ErrorHandler], exc: BaseException
) -> ErrorHandler | None:
    """Find the handler of the most specific class of ``exc`` that has one."""
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None


@dataclass(frozen=True)
class Lifecycle:
    """The connection-level hooks of an app, as a server uses them."""

    connect: tuple[ConnectionHook, ...] = ()
    disconnect: tuple[ConnectionHook, ...] = ()
    error_handlers: Mapping[type[BaseException], ErrorHandler] = field(
        default_factory=dict
    )
