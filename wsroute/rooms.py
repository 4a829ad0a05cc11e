"""
Rooms: named groups of connections, and publishing to all members at once.

::

    @app.route("/chat/<room>")
    async def chat(ws: Connection, room: str) -> None:
        ws.join(room)
        async for message in ws:
            app.rooms.publish(room, message)

Each app has a :class:`Rooms`, ``app.rooms``, which handlers also reach as
``ws.app.rooms``. A connection joins and leaves rooms; when its handler
returns, and after the app's disconnect hooks, it leaves every room it's in,
whatever the reason the connection closed. Publishing sends one message to
every member with :func:`websockets.asyncio.server.broadcast`: it doesn't
wait, so a publisher is never held back by a slow member.

"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import broadcast
from websockets.protocol import State
from websockets.typing import Data

from . import codec

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Rooms", "rooms_from_url"]


class Rooms:
    """
    The rooms of an app, and their members, in this process.

    Messages are sent with :func:`~websockets.asyncio.server.broadcast`,
    which doesn't wait for a connection to take them, and so applies no
    backpressure. A member whose connection can't keep up, with more bytes
    waiting to be sent than the ``max_buffer`` of its route's
    :class:`~wsroute.Limits`, gets no more messages: it's disconnected, with
    close code 1008 and the reason "too slow to keep up", or, if even that
    can't be sent within a second, by dropping the connection. The others
    receive every message, in order. A member whose connection is closing is
    skipped too.

    """

    def __init__(self) -> None:
        self._members: dict[str, set[Connection]] = {}
        self._rooms_of: dict[Connection, set[str]] = {}

    def join(self, ws: Connection, room: str) -> None:
        """
        Make a connection a member of a room; do nothing if it's one.

        Raises:
            TypeError: If ``room`` isn't a :class:`str`.
            RuntimeError: If the handshake isn't over: join in the handler,
                or a connect hook, so that the server removes the connection
                from its rooms when the handler returns.

        """
        if not isinstance(room, str):
            raise TypeError(f"a room is named by a str, got {type(room).__name__}")
        if ws.state is State.CONNECTING:
            raise RuntimeError(
                "a connection joins rooms once open: join in the handler or a "
                "connect hook, not during the handshake"
            )
        self._members.setdefault(room, set()).add(ws)
        self._rooms_of.setdefault(ws, set()).add(room)

    def leave(self, ws: Connection, room: str) -> None:
        """Remove a connection from a room; do nothing if it isn't a member."""
        members = self._members.get(room)
        if members is None or ws not in members:
            return
        members.discard(ws)
        if not members:
            del self._members[room]
        rooms = self._rooms_of[ws]
        rooms.discard(room)
        if not rooms:
            del self._rooms_of[ws]

    def leave_all(self, ws: Connection) -> None:
        """Remove a connection from every room; the server does it at the end."""
        for room in self._rooms_of.pop(ws, ()):
            members = self._members[room]
            members.discard(ws)
            if not members:
                del self._members[room]

    def members(self, room: str) -> frozenset[Connection]:
        """Give the connections in a room."""
        return frozenset(self._members.get(room, ()))

    def rooms_of(self, ws: Connection) -> frozenset[str]:
        """Give the rooms a connection is in."""
        return frozenset(self._rooms_of.get(ws, ()))

    def __iter__(self) -> Iterator[str]:
        """Iterate over the names of the rooms that have members."""
        return iter(list(self._members))

    def __len__(self) -> int:
        """Count the rooms that have members."""
        return len(self._members)

    async def start(self) -> None:
        """
        Get ready to serve; a server calls it before it listens.

        Rooms in one process need nothing; rooms shared with other processes,
        such as :class:`~wsroute.redis.RedisRooms`, connect to their broker.

        """

    async def stop(self) -> None:
        """Release what :meth:`start` took; a server calls it once stopped."""

    def publish(
        self,
        room: str,
        message: Data,
        *,
        exclude: Connection | None = None,
        text: bool | None = None,
    ) -> None:
        """
        Send a message to each member of a room, without waiting.

        A :class:`str` goes in a text message and :class:`bytes` in a binary
        one, unless ``text`` says otherwise, as with
        :meth:`~websockets.asyncio.connection.Connection.send`.

        Args:
            room: Name of the room.
            message: The message.
            exclude: A member that doesn't get it, such as its sender.
            text: ``True`` to send UTF-8 bytes in a text message,
                ``False`` to send a :class:`str` in a binary one.

        Raises:
            UnicodeEncodeError: If ``message`` is a :class:`str` that UTF-8
                can't encode, such as a lone surrogate that JSON can carry,
                as :meth:`~websockets.asyncio.connection.Connection.send`
                does; nothing is sent then. :meth:`publish_json` escapes such
                characters.

        """
        self.deliver(room, message, exclude=exclude, text=text)

    def deliver(
        self,
        room: str,
        message: Data,
        *,
        exclude: Connection | None = None,
        text: bool | None = None,
    ) -> None:
        """Send a message to the members of a room in this process."""
        members = self._members.get(room)
        if not members:
            return
        recipients = [
            member
            for member in members
            if member is not exclude and not member.over_buffer()
        ]
        broadcast(recipients, message, text=text)

    def publish_json(
        self, room: str, data: Any, *, exclude: Connection | None = None
    ) -> None:
        """
        Send ``data``, encoded once as JSON, to each member of a room.

        Raises:
            TypeError: If ``data`` holds a value that JSON can't represent.
            ValueError: If ``data`` holds NaN or an infinity.

        """
        self.publish(room, codec.encode(data), exclude=exclude, text=True)


def rooms_from_url(url: str) -> Rooms:
    """
    Make the rooms that a URL names.

    ``memory://`` gives rooms in this process, :class:`Rooms`; ``redis://``,
    ``rediss://`` or ``unix://`` gives :class:`~wsroute.redis.RedisRooms`,
    shared through that Redis.

    Raises:
        ValueError: For another scheme.
        ImportError: For Redis, if redis-py isn't installed.

    """
    scheme = url.partition("://")[0]
    if scheme == "memory":
        return Rooms()
    if scheme in {"redis", "rediss", "unix"}:
        from .redis import RedisRooms  # needs the redis extra

        return RedisRooms(url)
    raise ValueError(f"rooms URL {url!r}: use memory:// or redis://HOST:PORT")
