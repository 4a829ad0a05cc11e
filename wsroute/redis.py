"""
Rooms shared across processes and hosts, through Redis's publish/subscribe.

::

    from wsroute import App
    from wsroute.redis import RedisRooms

    app = App(rooms=RedisRooms("redis://localhost:6379/0"))

or, with nothing changed in the app, ``wsroute run app:app --workers 4
--rooms redis://localhost:6379/0``. It needs the ``redis`` extra:
``pip install 'wsroute[redis]'``, which installs redis-py.

Each process publishes what its handlers publish on the Redis channel of the
room, ``wsroute:ROOM``, and holds one subscription, to ``wsroute:*``, through
which it receives what the other processes publish and sends it to its own
members. Members in the publisher's process get a message at once, without
a round trip through Redis.

Delivery is at most once. While Redis is unreachable, each process goes on
serving its members and the rooms within it, and what's published reaches
only the members of the process that published it: nothing is queued for
later. The outage is logged once, when it starts, and the end of it once;
in between, the process reconnects with exponential backoff.

"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from websockets.typing import Data

from .connection import Connection
from .rooms import Rooms

__all__ = ["RedisRooms"]

logger = logging.getLogger(__name__)

TEXT, BINARY = b"t", b"b"


class RedisRooms(Rooms):
    """
    Rooms whose messages reach members in every process that uses one Redis.

    :meth:`~wsroute.Rooms.members` and
    :meth:`~wsroute.Rooms.rooms_of` tell about this process only.

    Args:
        url: Where Redis listens, such as ``redis://localhost:6379/0``, as
            :func:`redis.asyncio.from_url` reads it.
        prefix: Start of the name of each room's channel.
        max_buffer: As in :class:`~wsroute.Rooms`.
        max_pending: How many messages may wait to be sent to Redis; beyond,
            new ones reach this process's members only.
        max_backoff: Longest wait between two attempts to reconnect, in
            seconds.

    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "wsroute:",
        max_buffer: int = 2**20,
        max_pending: int = 10_000,
        max_backoff: float = 5.0,
    ) -> None:
        super().__init__(max_buffer=max_buffer)
        self.url = url
        self.prefix = prefix
        self.max_pending = max_pending
        self.max_backoff = max_backoff
        #: Marks what this process publishes, so that it ignores its own;
        #: drawn when it starts, in the process that serves, as forked
        #: workers share what their parent made.
        self.origin = b""
        #: Whether the subscription is up, as far as this process knows.
        self.connected = False
        self._servers = 0
        self._client: aioredis.Redis | None = None
        self._pending: asyncio.Queue[tuple[str, bytes]] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return f"RedisRooms({self.url!r})"

    def publish(
        self,
        room: str,
        message: Data,
        *,
        exclude: Connection | None = None,
        text: bool | None = None,
    ) -> None:
        """
        Send a message to each member of a room, in every process.

        Members in this process get it at once; the others through Redis,
        unless it's unreachable or ``max_pending`` messages are waiting.
        ``exclude``, a connection of this process, is left out.

        """
        self.deliver(room, message, exclude=exclude, text=text)
        if not self.connected or self._pending is None:
            return  # at most once: lost for the other processes
        if isinstance(message, str):
            kind = BINARY if text is False else TEXT
            payload = message.encode()
        else:
            kind = TEXT if text is True else BINARY
            payload = bytes(message)
        if self._pending.qsize() >= self.max_pending:
            return
        self._pending.put_nowait((self.prefix + room, self.origin + kind + payload))

    async def start(self) -> None:
        """Connect to Redis, unless another server of this process did."""
        self._servers += 1
        if self._servers > 1:
            return
        self.origin = uuid.uuid4().bytes
        # One retry: it replaces a connection that broke while idle, as when
        # Redis restarted, and lets an outage show, to be logged once.
        client = aioredis.Redis.from_url(
            self.url, retry=Retry(NoBackoff(), 1), socket_connect_timeout=5
        )
        pending: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        tried = asyncio.Event()
        self._client, self._pending = client, pending
        self._tasks = [
            asyncio.create_task(self._subscribe(client, tried)),
            asyncio.create_task(self._send(client, pending)),
        ]
        # Wait for the first attempt to subscribe, so that a server that
        # starts with Redis up doesn't miss the first messages.
        await tried.wait()

    async def stop(self) -> None:
        """Disconnect from Redis, once the last server of this process stops."""
        self._servers -= 1
        if self._servers > 0:
            return
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._pending = None
        self.connected = False
        await cast(aioredis.Redis, self._client).aclose()  # set by start()
        self._client = None

    async def _subscribe(self, client: aioredis.Redis, tried: asyncio.Event) -> None:
        """Receive what other processes publish; reconnect after an outage."""
        backoff = 0.0
        outage_logged = False
        while True:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self.prefix + "*")
                self.connected, backoff = True, 0.0
                tried.set()
                if outage_logged:
                    logger.warning("Redis at %s is back", self.url)
                    outage_logged = False
                # listen() ends only once unsubscribed, which never happens.
                async for message in pubsub.listen():  # pragma: no branch
                    self._deliver(message)
            except (RedisError, OSError) as exc:
                self.connected = False
                if not outage_logged:
                    logger.warning(
                        "Redis at %s is unreachable (%s); rooms reach this process "
                        "only until it's back",
                        self.url,
                        exc,
                    )
                    outage_logged = True
                tried.set()
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            backoff = min(max(backoff * 2, 0.1), self.max_backoff)
            await asyncio.sleep(backoff)

    def _deliver(self, message: dict[str, Any]) -> None:
        """Send a message from another process to this process's members."""
        data: bytes = message["data"]
        origin, kind, payload = data[:16], data[16:17], data[17:]
        if origin == self.origin:
            return  # sent to this process's members when published
        room = message["channel"][len(self.prefix) :].decode(errors="replace")
        self.deliver(room, payload, text=kind == TEXT)

    async def _send(
        self, client: aioredis.Redis, pending: asyncio.Queue[tuple[str, bytes]]
    ) -> None:
        """Send published messages to Redis, one at a time, in order."""
        while True:
            channel, data = await pending.get()
            # At most once: lost in an outage, which the subscription logs.
            with contextlib.suppress(RedisError, OSError):
                await client.publish(channel, data)
