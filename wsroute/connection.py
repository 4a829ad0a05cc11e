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

import asyncio
from collections.abc import Hashable
from functools import cached_property
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import BINARY, PING, TEXT, CloseCode, Frame
from websockets.http11 import Request
from websockets.protocol import Event
from werkzeug.datastructures import MultiDict

from . import codec
from .exceptions import InvalidJSON
from .routing import build_url

if TYPE_CHECKING:
    from .app import App
    from .debug import Trace
    from .limits import Admission, TokenBucket
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

    # The route's limits (see wsroute.limits), set when the request is routed.
    max_buffer: int | None = None
    bucket: TokenBucket | None = None
    # What counts this connection, and under which keys, until it's closed.
    admission: Admission | None = None
    counted: tuple[Hashable, ...] = ()
    # The timer that watches the send buffer while it's full, and the task
    # that closes a connection that can't keep up.
    watching: asyncio.TimerHandle | None = None
    cutting_off: asyncio.Task[None] | None = None

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

    def process_event(self, event: Event) -> None:
        """
        Count each message and ping from the client against the route's rate.

        A client that sends messages or pings faster than the ``rate`` of its
        route's :class:`~wsroute.Limits` allows, once their ``burst`` is
        spent, is disconnected with 1008 (policy violation) and the reason
        "too many messages". Messages are counted as they arrive, by their
        first frame, whether the handler reads them or not.

        """
        super().process_event(event)
        bucket = self.bucket
        if bucket is None or not isinstance(event, Frame):
            return
        # Tests of identity, since hashing an Opcode runs Python code: the
        # first frame of a message, or a ping, counts.
        opcode = event.opcode
        if (opcode is TEXT or opcode is BINARY or opcode is PING) and (
            not bucket.take()
        ):
            self.cut_off(CloseCode.POLICY_VIOLATION, "too many messages")

    def data_received(self, data: bytes) -> None:
        """
        Close the connection at once if its handshake request is malformed.

        websockets answers a request that it can't parse, such as one with a
        line over 8 KiB, with 400 or the like, then waits up to
        ``open_timeout`` for the client to close the connection, which holds
        one of the server's file descriptors meanwhile. As with the other
        refusals (see :func:`wsroute.server.finish_refusal`), the server
        closes it as soon as the answer is written.

        """
        super().data_received(data)
        if self.request is None and self.protocol.handshake_exc is not None:
            self.transport.close()

    async def keepalive(self) -> None:
        """
        Ping the client every ``ping_interval``; drop it if it doesn't answer.

        websockets starts waiting for the pong once the ping is written to the
        socket, which waits behind the data queued for the client: one that
        stops reading would never time out. Here, the wait starts when the
        ping is due. A client that doesn't answer within ``ping_timeout``
        is closed with 1011 (internal error) and the reason "keepalive ping
        timeout", as in websockets, or dropped if it can't take that either
        within a second.

        """
        assert self.ping_interval is not None  # websockets runs it only then
        latency = 0.0
        while True:
            await asyncio.sleep(self.ping_interval - latency)
            try:
                async with asyncio.timeout(self.ping_timeout):
                    latency = await (await self.ping())
            except TimeoutError:
                self.cut_off(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
                return
            except ConnectionClosed:  # pragma: no cover
                # connection_lost() cancels this task before ping() can raise.
                return

    def pause_writing(self) -> None:
        """Watch the send buffer while it's over its high-water mark."""
        super().pause_writing()
        if self.max_buffer is not None and self.watching is None:
            self.watching = self.loop.call_later(WATCH_INTERVAL, self.watch_buffer)

    def resume_writing(self) -> None:
        """Stop watching the send buffer, now under its low-water mark."""
        super().resume_writing()
        self.stop_watching()

    def stop_watching(self) -> None:
        """Cancel the next watch of the send buffer, if one is due."""
        if self.watching is not None:
            self.watching.cancel()
            self.watching = None

    def watch_buffer(self) -> None:
        """Check the send buffer now, and again later while it's within limits."""
        self.watching = None
        if not self.over_buffer():
            self.watching = self.loop.call_later(WATCH_INTERVAL, self.watch_buffer)

    def over_buffer(self) -> bool:
        """Cut off the connection if its send buffer is over ``max_buffer``."""
        if self.max_buffer is None:
            return False
        if self.transport.get_write_buffer_size() <= self.max_buffer:
            return False
        self.cut_off(CloseCode.POLICY_VIOLATION, "too slow to keep up")
        return True

    def cut_off(self, code: int, reason: str) -> None:
        """
        Close a connection that can't keep up, or drop it.

        The close frame waits behind what's queued for the client: if the
        connection isn't closed within a second, it's dropped.

        """
        if self.cutting_off is not None:
            return

        async def close() -> None:
            try:
                async with asyncio.timeout(CUT_OFF_TIMEOUT):
                    await self.close(code, reason)
            except TimeoutError:
                self.transport.abort()

        self.cutting_off = self.loop.create_task(close())

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop watching and counting the connection, once it's closed."""
        super().connection_lost(exc)
        self.stop_watching()
        if self.admission is not None:
            self.admission.release(self)

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


# How often a full send buffer is checked against max_buffer, in seconds.
WATCH_INTERVAL = 0.25
# How long a connection that can't keep up has to take its close frame.
CUT_OFF_TIMEOUT = 1.0
