"""
The connection that handlers receive.

:class:`Connection` *is* a websockets
:class:`~websockets.asyncio.server.ServerConnection`: the server creates it
through websockets' ``create_connection`` option. Every websockets method
(``send``, ``recv``, ``ping``, iteration, ``close``...) is the original, at
full speed; this class only adds what routing learned during the handshake and
a few conveniences.

"""

from __future__ import annotations

from functools import cached_property
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request
from werkzeug.datastructures import MultiDict

from . import codec
from .exceptions import InvalidJSON
from .routing import build_url

if TYPE_CHECKING:
    from .app import App
    from .debug import Trace
    from .routing import Route, Router

__all__ = ["Connection"]


class Connection(ServerConnection):
    """
    A WebSocket server connection, with what routing found out about it.

    ::

        @app.route("/items/<int:id>")
        async def item(ws: Connection, id: int) -> None:
            assert ws.path_params == {"id": id}
            await ws.send_json({"id": id, "tags": ws.query.getlist("tag")})

    The attributes below are set before the handler runs. Per-connection data
    of your own goes in :attr:`context`: don't set attributes on the
    connection, whose names websockets may use (``state`` is the protocol
    state, for one).

    Attributes:
        app: The :class:`~wsroute.App` that serves the connection.
        route: The matched :class:`~wsroute.routing.Route`.
        path_params: The rule's parameters, converted, defaults included;
            the handler also receives them as keyword arguments.
        router: The :class:`~wsroute.routing.Router` that matched the request.

    """

    app: App
    route: Route
    path_params: dict[str, Any]
    router: Router
    started: float  # time.monotonic() when the handshake request was routed

    #: The authenticated user, set by an authentication hook (see
    #: :mod:`wsroute.auth`), or by your own hooks; :obj:`None` until then.
    user: Any = None

    #: In debug mode, the :class:`~wsroute.debug.Trace` that tells the steps
    #: of this connection; :obj:`None` otherwise.
    trace: Trace | None = None

    @property
    def endpoint(self) -> str:
        """Name of the matched route, such as ``"item"`` or ``"api.item"``."""
        return cast(str, self.route.endpoint)

    @cached_property
    def query(self) -> MultiDict[str, str]:
        """
        Query arguments of the request URL, decoded.

        A :class:`werkzeug.datastructures.MultiDict`: ``ws.query["tag"]``
        gives the first value, ``ws.query.getlist("tag")`` all of them.

        """
        request = cast(Request, self.request)  # handlers run after the handshake
        _, _, query = request.path.partition("?")
        return MultiDict(parse_qsl(query, keep_blank_values=True))

    @cached_property
    def context(self) -> SimpleNamespace:
        """
        A namespace for per-connection data, empty at first.

        Hooks and handlers store what belongs to this connection here, for
        example ``ws.context.user``.

        """
        return SimpleNamespace()

    async def send_json(self, data: Any) -> None:
        r"""
        Send ``data`` encoded as compact JSON in a text message.

        Strings that UTF-8 can't encode, such as a lone surrogate that a
        client sent as ``"\ud800"``, go out as ``\u`` escapes, so the
        message is always valid JSON in valid UTF-8.

        Raises:
            TypeError: If ``data`` holds a value that JSON can't represent.
            ValueError: If ``data`` holds NaN or an infinity, which JSON
                doesn't allow.
            websockets.exceptions.ConnectionClosed: If the connection is
                closed.

        """
        payload = codec.encode(data)
        await self.send(payload, text=True)

    async def recv_json(self) -> Any:
        """
        Receive a message and decode it from JSON.

        Text and binary messages are both accepted; a binary one holds JSON
        in UTF-8 (or UTF-16 or UTF-32, which :func:`json.loads` detects).
        Only standard JSON is accepted: not ``NaN`` nor ``Infinity``.

        Raises:
            InvalidJSON: If the message isn't JSON, or nests too deeply to
                decode. Unless the handler catches it, the connection closes
                with code 1007.
            websockets.exceptions.ConnectionClosed: If the connection is
                closed.

        """
        message = await self.recv()
        try:
            return codec.decode(message)
        except (ValueError, RecursionError):  # ValueError: bad JSON or UTF-8
            raise InvalidJSON() from None

    def join(self, room: str) -> None:
        """
        Join a room of the app, to receive what's published to it.

        The connection leaves its rooms when its handler returns. See
        :class:`~wsroute.rooms.Rooms`.

        """
        self.app.rooms.join(self, room)

    def leave(self, room: str) -> None:
        """Leave a room; do nothing if the connection isn't in it."""
        self.app.rooms.leave(self, room)

    @property
    def rooms(self) -> frozenset[str]:
        """The rooms this connection is in."""
        return self.app.rooms.rooms_of(self)

    def url_for(self, endpoint: str, /, **values: Any) -> str:
        """
        Build the absolute URL of an endpoint, on the host the client used.

        ::

            ws.url_for("item", id=3)  # "ws://localhost:8000/items/3"

        The host is the server's ``server_name`` if set, else the request's
        ``Host`` header; the scheme is ``wss`` when the server uses TLS.

        Raises:
            werkzeug.routing.BuildError: If no rule of the endpoint accepts
                these values.

        """
        request = cast(Request, self.request)  # handlers run after the handshake
        host = self.router.server_name or request.headers["Host"]
        return build_url(
            self.router.url_map,
            endpoint,
            values,
            host=host,
            scheme=self.router.url_scheme,
        )
