"""
Exceptions raised by wsroute.

Every exception that wsroute defines derives from :exc:`WsrouteError`::

    WsrouteError
     ├── SetupError              a mistake in how the app is put together
     └── CloseConnection         raised in a handler: close with this code and reason
          └── InvalidMessage     a message that the route can't use
               └── InvalidJSON   a message that is not JSON

wsroute also lets exceptions of its two foundations through unchanged:
:exc:`websockets.exceptions.ConnectionClosed` when the peer goes away, and
:exc:`werkzeug.routing.BuildError` when :meth:`~wsroute.App.url_for` cannot
build a URL.

"""

from __future__ import annotations

from websockets.exceptions import ProtocolError
from websockets.frames import Close, CloseCode

__all__ = [
    "CloseConnection",
    "InvalidJSON",
    "InvalidMessage",
    "SetupError",
    "WsrouteError",
]


class WsrouteError(Exception):
    """Base class for all exceptions defined by wsroute."""


class SetupError(WsrouteError):
    """
    Raised when an app or a blueprint is put together wrongly.

    wsroute checks routes when they are registered, so these errors surface
    when the module that defines the app is imported, not when a client
    connects. The message names the rule and the handler at fault.

    """


class CloseConnection(WsrouteError):
    """
    Raise in a handler to close the connection with a given code and reason.

    The server closes the connection with ``code`` and ``reason`` and logs
    nothing: this is a deliberate end, not a crash. ::

        @app.route("/game/<int:id>")
        async def game(ws, id):
            if id not in games:
                raise CloseConnection(CloseCode.POLICY_VIOLATION, "no such game")

    Args:
        code: WebSocket close code; 1008 (policy violation) by default. Codes
            4000 to 4999 are free for applications to use.
        reason: Text sent to the client in the close frame. It's cut to the
            123 bytes of UTF-8 that a close frame holds, between characters.

    Raises:
        ValueError: If ``code`` can't be sent in a close frame.

    """

    def __init__(
        self,
        code: int = CloseCode.POLICY_VIOLATION,
        reason: str = "",
    ) -> None:
        try:
            Close(code, reason).check()
        except ProtocolError:
            raise ValueError(
                f"close code {code} can't be sent; use 1000-1003, 1007-1014 "
                f"or 3000-4999 (4000-4999 are for applications)"
            ) from None
        # A close frame holds 123 bytes of reason; cut between characters.
        reason = reason.encode(errors="replace")[:123].decode(errors="ignore")
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.code} {self.reason}".rstrip()


class InvalidMessage(CloseConnection):
    """
    Raised for a message that a route can't use; 1008 by default.

    :class:`~wsroute.dispatch.FirstMessageRouter` raises it for a first
    message it can't dispatch, closing the connection; in
    :class:`~wsroute.dispatch.MessageRouter`, it becomes an error message and
    the connection lives on.

    """


class InvalidJSON(InvalidMessage):
    """
    Raised by :meth:`~wsroute.Connection.recv_json` for a message that isn't JSON.

    Unless the handler catches it, the connection closes with code 1007
    (invalid frame payload data) and the reason ``"invalid JSON"``: the client
    sent bad data, so nothing is logged as an error.

    """

    def __init__(self, reason: str = "invalid JSON") -> None:
        super().__init__(CloseCode.INVALID_DATA, reason)
