r"""
Rooms shared across processes and hosts, through Redis's publish/subscribe.

::

    from wsroute import App
    from wsroute.redis import RedisRooms

    app = App(rooms=RedisRooms("redis://localhost:6379"))

or, with nothing changed in the app, ``wsroute run app:app --workers 4
--rooms redis://localhost:6379``. It needs the ``redis`` extra:
``pip install 'wsroute[redis]'``, which installs redis-py.

Each process publishes what its handlers publish on the Redis channel of the
room, ``wsroute:ROOM``, and holds one subscription, to ``wsroute:*``, through
which it receives what the other processes publish and sends it to its own
members. Members in the publisher's process get a message at once, without
a round trip through Redis. Publish/subscribe ignores Redis's database
numbers: apps that share a Redis need prefixes of their own.

Delivery is at most once. While Redis is unreachable, or doesn't answer,
each process goes on serving its members and the rooms within it, and
what's published reaches only the members of the process that published it:
nothing is kept for later. The outage is logged once, when it starts, and
the end of it once; in between, the process reconnects with exponential
backoff. :attr:`RedisRooms.counts` tells what became of each message, and
:attr:`RedisRooms.connected` whether the process hears the others, for a
health check::

    rooms = RedisRooms("redis://localhost:6379")
    app = App(rooms=rooms)

    @app.get("/health")
    def health(ws, request):
        if not rooms.connected:
            raise ServiceUnavailable("Redis is unreachable")
        return "ok\n"

Messages cross Redis as bytes: 16 bytes that name the process that
published them, one for the type, text or binary, then the message as it
was sent. Nothing is ever unpickled, nor decoded but as UTF-8 text.

"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from websockets.typing import Data

from .connection import Connection
from .rooms import Rooms

__all__ = ["RedisRooms"]

logger = logging.getLogger(__name__)

TEXT, BINARY = b"t", b"b"
ORIGIN_SIZE = 16  # bytes of a UUID


@dataclass
class Counts:
    """
    Messages a process published for the others, and what became of them.

    Counted since the rooms were made, as are the messages received from the
    other processes. Once none is waiting, ``published == sent + dropped``,
    exactly.

    """

    #: Messages published in this process, each counted once.
    published: int = 0
    #: Of those, how many Redis took, for the other processes.
    sent: int = 0
    #: Of those, how many reached this process's members only, as those
    #: published while Redis was unreachable, beyond ``max_pending``, to a
    #: room that no channel can name, or left waiting at shutdown.
    dropped: int = 0
    #: Messages that other processes published, received through Redis.
    received: int = 0

    @property
    def waiting(self) -> int:
        """Messages published and not yet sent to Redis, nor dropped."""
        return self.published - self.sent - self.dropped


class RedisRooms(Rooms):
    """
    Rooms whose messages reach members in every process that uses one Redis.

    :meth:`~wsroute.Rooms.members` and :meth:`~wsroute.Rooms.rooms_of` tell
    about this process only.

    Args:
        url: Where Redis listens, such as ``redis://localhost:6379``, as
            :func:`redis.asyncio.from_url` reads it. A password in it stays
            out of logs.
        prefix: Start of the name of each room's channel.
        max_pending: How many bytes of messages may wait to be sent to Redis;
            beyond, new ones reach this process's members only.
        max_backoff: Longest wait between two attempts to reconnect, in
            seconds.
        timeout: How long Redis may take to answer, in seconds; a process
            also pings Redis when it has heard nothing for that long.

    """

    def __init__(
        self,
        url: str = "redis://localhost:6379",
        *,
        prefix: str = "wsroute:",
        max_pending: int = 16 * 2**20,
        max_backoff: float = 5.0,
        timeout: float = 5.0,
    ) -> None:
        super().__init__()
        self.url = url
        self.prefix = prefix
        self.max_pending = max_pending
        self.max_backoff = max_backoff
        self.timeout = timeout
        #: Marks what this process publishes, so that it ignores its own;
        #: drawn when it starts, in the process that serves, as forked
        #: workers share what their parent made.
        self.origin = b""
        #: What became of the messages published here, and how many came
        #: from the other processes.
        self.counts = Counts()
        self._connected = False
        self._servers = 0
        self._client: aioredis.Redis | None = None
        self._pending: asyncio.Queue[tuple[bytes, bytes] | None] | None = None
        self._pending_bytes = 0
        self._in_flight = 0
        self._tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return f"RedisRooms({redacted(self.url)!r})"

    @property
    def connected(self) -> bool:
        """
        Whether this process hears the others, and they hear it.

        That is, its subscription is up, as far as it knows, and the tasks
        that listen to Redis and send to it run.

        """
        return self._connected and all(not task.done() for task in self._tasks)

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
        unless it's unreachable or ``max_pending`` bytes are waiting already.
        ``exclude``, a connection of this process, is left out.

        Raises:
            UnicodeEncodeError: If ``message`` is a :class:`str` that UTF-8
                can't encode, such as a lone surrogate that JSON can carry;
                nothing is sent then.

        """
        self.deliver(room, message, exclude=exclude, text=text)
        self.counts.published += 1
        if not self.connected or self._pending is None:
            self.counts.dropped += 1  # at most once: lost for the others
            return
        if isinstance(message, str):
            kind = BINARY if text is False else TEXT
            payload = message.encode()  # deliver() checked it
        else:
            kind = TEXT if text is True else BINARY
            payload = bytes(message)
        try:
            channel = (self.prefix + room).encode()
        except UnicodeEncodeError:  # no such channel: this process only
            self.counts.dropped += 1
            return
        data = self.origin + kind + payload
        if self._pending_bytes + len(data) > self.max_pending:
            self.counts.dropped += 1
            return
        self._pending_bytes += len(data)
        self._pending.put_nowait((channel, data))

    async def start(self) -> None:
        """Connect to Redis, unless another server of this process did."""
        self._servers += 1
        if self._servers > 1:
            return
        self.origin = uuid.uuid4().bytes
        # One retry: it replaces a connection that broke while idle, as when
        # Redis restarted, and lets an outage show, to be logged once.
        client = aioredis.Redis.from_url(
            self.url,
            retry=Retry(NoBackoff(), 1),
            socket_connect_timeout=self.timeout,
            socket_timeout=self.timeout,
        )
        pending: asyncio.Queue[tuple[bytes, bytes] | None] = asyncio.Queue()
        tried = asyncio.Event()
        self._client, self._pending, self._pending_bytes = client, pending, 0
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
        # Forget this connection before waiting, for a start() meanwhile.
        tasks, client, pending = self._tasks, self._client, self._pending
        self._tasks, self._client, self._pending = [], None, None
        self._connected = False
        if not tasks or pending is None or client is None:  # start() failed
            return
        subscriber, _ = tasks
        subscriber.cancel()
        # Let the sender finish a round trip, rather than cancel it: redis-py
        # may then take long to give its connection back. Unless Redis is
        # stuck: then cancel it, and asyncio.run() cancels what's left.
        pending.put_nowait(None)
        await asyncio.wait(tasks, timeout=self.timeout)
        for task in tasks:
            task.cancel()  # if it's still running
        # What the sender had in flight, or left waiting, didn't reach Redis.
        self.counts.dropped += self._in_flight
        self._in_flight = 0
        while not pending.empty():
            if pending.get_nowait() is not None:
                self.counts.dropped += 1
        with contextlib.suppress(TimeoutError, RedisError, OSError):
            async with asyncio.timeout(self.timeout):
                await client.aclose()

    async def _subscribe(self, client: aioredis.Redis, tried: asyncio.Event) -> None:
        """Receive what other processes publish; reconnect after an outage."""
        backoff = 0.0
        outage_logged = False
        while True:
            pubsub = client.pubsub()
            try:
                await pubsub.psubscribe(glob_escape(self.prefix) + "*")
                while True:
                    message = await receive(pubsub, self.timeout)
                    if message["type"] == "pmessage":
                        self._deliver(message)
                    elif message["type"] == "psubscribe":  # Redis confirms
                        self._connected, backoff = True, 0.0
                        tried.set()
                        if outage_logged:
                            logger.warning("Redis at %s is back", redacted(self.url))
                            outage_logged = False
            except (RedisError, OSError) as exc:
                self._connected = False
                if not outage_logged:
                    logger.warning(
                        "Redis at %s is unreachable (%s); rooms reach this process "
                        "only until it's back",
                        redacted(self.url),
                        exc,
                    )
                    outage_logged = True
                tried.set()
            # Not when cancelled: then redis-py may take a while to close it,
            # and closing the client in stop() closes it anyway.
            with contextlib.suppress(RedisError, OSError):  # TimeoutError too
                async with asyncio.timeout(self.timeout):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            backoff = min(max(backoff * 2, 0.1), self.max_backoff)
            await asyncio.sleep(backoff)

    def _deliver(self, message: dict[str, Any]) -> None:
        """Send a message from another process to this process's members."""
        data: bytes = message["data"]
        origin, kind = data[:ORIGIN_SIZE], data[ORIGIN_SIZE : ORIGIN_SIZE + 1]
        if origin == self.origin or kind not in (TEXT, BINARY):
            return  # sent to this process's members when published, or not ours
        room = message["channel"][len(self.prefix) :].decode(errors="replace")
        self.counts.received += 1
        self.deliver(room, data[ORIGIN_SIZE + 1 :], text=kind == TEXT)

    async def _send(
        self,
        client: aioredis.Redis,
        pending: asyncio.Queue[tuple[bytes, bytes] | None],
    ) -> None:
        """Send published messages to Redis in order, a batch per round trip."""
        while True:
            batch = [await pending.get()]
            while not pending.empty() and len(batch) < 100:
                batch.append(pending.get_nowait())
            pipeline = client.pipeline(transaction=False)
            for item in batch:
                if item is None:  # stop() asks to stop
                    break
                channel, data = item
                self._pending_bytes -= len(data)
                pipeline.publish(channel, data)
            self._in_flight = len(pipeline)  # stop() counts them if cancelled
            try:
                if self._in_flight:
                    await pipeline.execute()
            # At most once: lost in an outage, which the subscription logs.
            except (RedisError, OSError):
                self.counts.dropped += self._in_flight
            else:
                self.counts.sent += self._in_flight
            self._in_flight = 0
            if None in batch:
                return


async def receive(pubsub: PubSub, patience: float) -> dict[str, Any]:
    """
    Receive what a subscription gets next; ping Redis if it's quiet.

    Raises:
        TimeoutError: If Redis doesn't answer a ping within ``patience``
            seconds, as when it's stopped, or the network in between dropped.

    """
    message = await pubsub.get_message(timeout=patience)
    if message is None:  # quiet: is Redis there?
        await pubsub.ping()
        message = await pubsub.get_message(timeout=patience)
    if message is None:
        raise TimeoutError(f"no answer in {patience:g} seconds")
    return cast(dict[str, Any], message)


def glob_escape(text: str) -> str:
    """Escape the characters that mean something in a Redis glob pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def redacted(url: str) -> str:
    """Hide the password of a URL, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{user.partition(':')[0]}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))
