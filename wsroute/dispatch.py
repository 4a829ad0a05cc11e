"""
Routing by message: dispatch a connection, or each message, by a key.

Many protocols say what a client wants in its messages rather than in the
URL. wsroute offers two handlers for them, which you serve on a route like
any other:

* :class:`FirstMessageRouter`: the first message picks the handler that
  serves the whole connection, as in a game where a client first says
  whether it creates, joins or watches a game;
* :class:`MessageRouter`: every message picks the handler that serves it,
  and what the handler returns is sent back as the reply, as with events in
  Socket.IO or ``handle_in`` in Phoenix channels.

The key comes from a field of a JSON object, ``"type"`` by default, or from a
function of the message, for protocols that aren't JSON.

"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, Concatenate, TypeAlias, TypeVar, cast

from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request
from websockets.typing import Data

from . import codec
from .exceptions import CloseConnection, InvalidJSON, InvalidMessage, SetupError
from .handshake import loggable_path
from .routing import describe

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["FirstMessageRouter", "MessageHandler", "MessageRouter"]

MessageHandler: TypeAlias = Callable[
    Concatenate["Connection", Any, ...], Awaitable[Any]
]
"""A message handler, a coroutine function taking the connection, the
decoded message, then the rule's parameters as keyword arguments."""

M = TypeVar("M", bound=MessageHandler)


def show(value: Any) -> str:
    """Show a value in a close reason or an error message, as JSON."""
    return json.dumps(
        value, ensure_ascii=False, default=lambda value: f"({type(value).__name__})"
    )


class KeyedRouter:
    """
    What both message routers share: handlers by key, and finding the key.

    Args:
        name: Name of the router, which is the route's endpoint by default.
        key: Name of the field of a JSON object that holds the key, or a
            function that receives the message, text or bytes, and returns
            the key, or :obj:`None` when the message has none.

    """

    def __init__(self, name: str, *, key: str | Callable[[Data], Any] = "type") -> None:
        self.__name__ = name
        self.key = key
        #: Handlers by the type and the value of their key.
        self.handlers: dict[tuple[type, Hashable], MessageHandler] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__!r}>"

    def on(self, value: Hashable) -> Callable[[M], M]:
        """Decorate the handler of messages whose key is ``value``."""

        def decorator(handler: M) -> M:
            self.add(value, handler)
            return handler

        return decorator

    def add(self, value: Hashable, handler: MessageHandler) -> None:
        """
        Serve messages whose key is ``value`` with ``handler``.

        Raises:
            SetupError: If the handler isn't a coroutine function, or the key
                has a handler already.

        """
        if not inspect.iscoroutinefunction(handler):
            raise SetupError(
                f"{self!r}: handler {describe(handler)} for {value!r} must be a "
                f"coroutine function; define it with 'async def'"
            )
        slot = (type(value), value)  # so that True and 1.0 don't find 1
        if slot in self.handlers:
            raise SetupError(
                f"{self!r}: {value!r} is already handled by "
                f"{describe(self.handlers[slot])}"
            )
        self.handlers[slot] = handler

    def decode(self, message: Data) -> tuple[Any, Any]:
        """
        Find the key of a message; return it with the decoded message.

        Raises:
            InvalidMessage: Saying why the message has no key: 1003 for a
                binary message where a JSON text is expected, 1007
                (:exc:`~wsroute.InvalidJSON`) for text that isn't JSON, 1008
                for JSON that isn't an object or lacks the key.

        """
        if callable(self.key):
            key, decoded = self.key(message), message
            if key is None:
                raise InvalidMessage(reason="the message has no key")
        else:
            if not isinstance(message, str):
                raise InvalidMessage(CloseCode.UNSUPPORTED_DATA, "expected text")
            try:
                decoded = codec.decode(message)
            except (ValueError, RecursionError):
                raise InvalidJSON() from None
            if not isinstance(decoded, dict):
                raise InvalidMessage(reason="expected a JSON object")
            if self.key not in decoded:
                raise InvalidMessage(reason=f"missing {show(self.key)}")
            key = decoded[self.key]
        return key, decoded

    def show_key(self, key: Any) -> str:
        """Show the key of a message, such as ``type "join"``."""
        label = "key" if callable(self.key) else self.key
        return f"{label} {show(key)}"

    def find(self, key: Any) -> MessageHandler:
        """
        Find the handler of a key.

        Raises:
            InvalidMessage: 1008 for a key without a handler.

        """
        handler = None
        if isinstance(key, Hashable):
            handler = self.handlers.get((type(key), key))
        if handler is None:
            label = "key" if callable(self.key) else self.key
            raise InvalidMessage(reason=f"unknown {label}: {show(key)}")
        return handler


class FirstMessageRouter(KeyedRouter):
    """
    Serve each connection with the handler that its first message picks.

    ::

        game = FirstMessageRouter("game")

        @game.on("join")
        async def join(ws, message):
            ...  # message is {"type": "join", "game": ...}

        app.add_route("/game", game)

    The handler receives the connection, the first message (decoded from
    JSON, unless ``key`` is a function), then the rule's parameters.

    A connection whose first message can't be dispatched closes with a
    documented code and reason, and nothing is logged: 1003 (binary instead
    of text), 1007 (not JSON), 1008 (not an object, no key, an unknown key,
    or no first message within ``timeout``), or 1009 when the message is over
    the server's ``max_size``, as for any message.

    Args:
        name: Name of the router, which is the route's endpoint by default.
        key: As in :class:`MessageRouter`.
        timeout: How long to wait for the first message, in seconds.

    """

    def __init__(
        self,
        name: str,
        *,
        key: str | Callable[[Data], Any] = "type",
        timeout: float = 10,
    ) -> None:
        super().__init__(name, key=key)
        self.timeout = timeout

    async def __call__(self, ws: Connection, **params: Any) -> None:
        """Receive the first message, then hand the connection over."""
        try:
            async with asyncio.timeout(self.timeout):
                message = await ws.recv()
        except TimeoutError:
            raise CloseConnection(reason="no first message in time") from None
        key, decoded = self.decode(message)
        handler = self.find(key)
        if ws.trace is not None:
            ws.trace("first message: %s, so %s", self.show_key(key), describe(handler))
        await handler(ws, decoded, **params)


class MessageRouter(KeyedRouter):
    r"""
    Serve each message of a connection with the handler that its key picks.

    ::

        rpc = MessageRouter("rpc")

        @rpc.on("add")
        async def add(ws, message):
            return message["a"] + message["b"]

        app.add_route("/rpc", rpc)

    A client sends ``{"type": "add", "id": 1, "a": 2, "b": 3}`` and receives
    ``{"id": 1, "result": 5}``. Handlers run one at a time, in the order the
    messages come, so what a handler stores in ``ws.context`` is there for
    the next one.

    What a handler returns, unless :obj:`None`, is sent back as JSON: the
    reply. When a message can't be served, the client gets an error message
    and the connection lives on. Both carry the ``id`` of the message, if it
    had one (it must be a JSON object)::

        {"id": 1, "result": 5}
        {"id": 1, "error": {"code": "invalid_message",
                            "message": "unknown type: \"mul\""}}
        {"id": 1, "error": {"code": "internal_error",
                            "message": "internal error"}}

    ``invalid_message`` covers what closes a connection in
    :class:`FirstMessageRouter`: binary instead of text, not JSON, not an
    object, no key, an unknown key. ``internal_error`` means that the handler
    raised; the exception is logged and its text stays on the server. A
    handler that raises :exc:`~wsroute.CloseConnection` closes the connection.

    Args:
        name: Name of the router, which is the route's endpoint by default.
        key: Name of the field of a JSON object that holds the key, or a
            function that receives the message and returns the key; then the
            handler receives the message as it came.

    """

    async def __call__(self, ws: Connection, **params: Any) -> None:
        """Serve messages until the connection closes."""
        async for message in ws:
            await self.serve(ws, message, params)

    async def serve(
        self, ws: Connection, message: Data, params: dict[str, Any]
    ) -> None:
        """Serve one message, and send its reply or an error message."""
        decoded: Any = None
        failing: object = self.key  # until the handler is known
        try:
            key, decoded = self.decode(message)
            handler = failing = self.find(key)
            if ws.trace is not None:
                ws.trace("message: %s, so %s", self.show_key(key), describe(handler))
            result = await handler(ws, decoded, **params)
        except InvalidMessage as exc:
            if ws.trace is not None:
                ws.trace("message: answered invalid_message, %s", exc.reason)
            reply: dict[str, Any] = error("invalid_message", exc.reason)
        except (CloseConnection, ConnectionClosed):
            raise
        except Exception:
            log_failure(ws, failing, "failed")
            reply = error("internal_error", "internal error")
        else:
            if result is None:
                return
            reply = {"result": result}
        if isinstance(decoded, dict) and "id" in decoded:
            reply = {"id": decoded["id"], **reply}
        try:
            payload = codec.encode(reply)
        except (TypeError, ValueError):
            log_failure(ws, failing, "returned a value that JSON can't encode")
            reply["error"] = error("internal_error", "internal error")["error"]
            del reply["result"]
            payload = codec.encode(reply)
        await ws.send(payload, text=True)


def error(code: str, message: str) -> dict[str, Any]:
    """Make the body of an error message."""
    return {"error": {"code": code, "message": message}}


def log_failure(ws: Connection, function: object, what: str) -> None:
    """Log that a message handler, or a key function, failed."""
    path = loggable_path(cast(Request, ws.request))
    ws.logger.error(
        "message handler %s %s on %s", describe(function), what, path, exc_info=True
    )
