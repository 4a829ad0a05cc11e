"""
Limits that keep one client from costing the others.

A WebSocket server lives on the open internet and its connections last for
hours; websockets bounds the size of messages and the time a handshake may
take, and wsroute adds what a server needs against clients that misbehave,
whether out of malice or a bug:

* a client that stops reading can't make the server buffer without bound:
  once ``max_buffer`` bytes wait to be sent to it, it's cut off;
* a client that stops answering can't hold on to its connection, even when
  data waits for it: the keepalive ping times out (see
  :meth:`~wsroute.Connection.keepalive`);
* a client can't send messages faster than ``rate`` per second, beyond a
  ``burst``;
* no more than ``max_connections`` connections are open at a time, and no
  more than ``max_connections_per_client`` from one address.

Each limit has a default that a well-behaved client never meets; set one to
:obj:`None` to lift it. An app's limits apply to every route; a route can
have its own::

    app = App(limits=Limits(rate=20, burst=40))

    @app.route("/upload", limits=Limits(rate=None, max_buffer=2**24))
    async def upload(ws): ...

"""

from __future__ import annotations

import dataclasses
import resource
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from time import monotonic
from typing import TYPE_CHECKING

from websockets.http11 import Response

if TYPE_CHECKING:
    from .connection import Connection
    from .routing import Route

__all__ = ["Admission", "Limits", "TokenBucket"]


def default_max_connections() -> int:
    """
    Leave room below the process's file-descriptor limit.

    Each connection holds a file descriptor; when they run out, the server
    can't accept connections, nor open a file or a connection to a database.
    So it refuses connections with 503 before that: at nine tenths of the
    soft limit of ``RLIMIT_NOFILE``, at most one million.

    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1_000_000
    return max(1, min(soft * 9 // 10, 1_000_000))


@dataclass(frozen=True)
class Limits:
    """
    The limits of an app, or of a route.

    Args:
        max_buffer: How many bytes may wait to be sent to a client, such as
            messages that rooms or tasks send faster than the client reads.
            Beyond that, the connection is closed with 1008 (policy
            violation) and the reason "too slow to keep up", or dropped if
            even the close frame can't be sent within a second. A handler
            that awaits each :meth:`~websockets.asyncio.connection.Connection.send`
            never gets there: ``send()`` waits while the buffer is full.
        rate: How many messages per second a client may send, on average;
            pings count too. Beyond that, and once ``burst`` is spent, the
            connection is closed with 1008 and the reason "too many
            messages". Counted as messages arrive.
        burst: How many messages a client may send at once, above ``rate``.
        max_connections: How many connections may be open at a time, in
            each process that serves the app (each worker). Beyond
            that, handshakes get 503 (Service Unavailable). By default, nine
            tenths of the process's limit of open files.
        max_connections_per_client: How many connections may be open at a
            time from one IP address. Beyond that, handshakes get 429 (Too
            Many Requests). Off by default: behind a proxy, every client
            has the proxy's address.

    A route's limits replace the app's for its connections, except that the
    app's connection counts still apply: a route's ``max_connections``
    counts its own connections, within the app's.

    """

    max_buffer: int | None = 2**20
    rate: float | None = 100
    burst: int = 200
    max_connections: int | None = field(default_factory=default_max_connections)
    max_connections_per_client: int | None = None

    def replace(self, **changes: object) -> Limits:
        """Copy these limits with some changed: ``app.limits.replace(rate=10)``."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


class TokenBucket:
    """
    Allow ``rate`` events per second on average, and ``burst`` at once.

    The bucket holds up to ``burst`` tokens, starts full, and gains ``rate``
    tokens per second; each event takes one.

    """

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = monotonic()

    def take(self) -> bool:
        """Take a token; tell whether there was one."""
        now = monotonic()
        tokens = self.tokens + (now - self.updated) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        self.updated = now
        if tokens < 1:
            self.tokens = tokens
            return False
        self.tokens = tokens - 1
        return True


# A connection counts against these keys: the app's, then its route's if the
# route has its own limits; and its client's in each, where that's limited.
APP = "app"


class Admission:
    """
    Count a server's open connections; refuse those beyond the limits.

    One admission serves one server. A connection is counted from the moment
    its handshake request is admitted until its TCP connection is closed,
    whatever happens in between.

    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.open: Counter[Hashable] = Counter()

    def admit(self, connection: Connection) -> Response | None:
        """Count a new connection, or answer 503 or 429 if the app is full."""
        return self.count(connection, APP, self.limits)

    def admit_route(self, connection: Connection, route: Route) -> Response | None:
        """Count a connection on its route, if the route has its own limits."""
        if route.own_limits is None:
            return None
        return self.count(connection, route.rule, route.own_limits)

    def count(
        self, connection: Connection, scope: Hashable, limits: Limits
    ) -> Response | None:
        """Count a connection in a scope, the app or a route, within its limits."""
        most = limits.max_connections
        if most is not None and self.open[scope] >= most:
            return refuse(connection, 503, "The server is at its connection limit.")
        keys: tuple[Hashable, ...] = (scope,)
        most_per_client = limits.max_connections_per_client
        if (
            most_per_client is not None
            and (client := remote_host(connection)) is not None
        ):
            if self.open[scope, client] >= most_per_client:
                return refuse(
                    connection, 429, "Too many connections from your address."
                )
            keys = (scope, (scope, client))
        for key in keys:
            self.open[key] += 1
        connection.admission = self
        connection.counted += keys
        return None

    def release(self, connection: Connection) -> None:
        """Stop counting a connection, once it's closed."""
        for key in connection.counted:
            self.open[key] -= 1
            if not self.open[key]:
                del self.open[key]
        connection.counted = ()


def apply_limits(connection: Connection, limits: Limits) -> None:
    """Set the limits of a routed connection, on it."""
    connection.max_buffer = limits.max_buffer
    if limits.rate is not None:
        connection.bucket = TokenBucket(limits.rate, limits.burst)


def remote_host(connection: Connection) -> str | None:
    """Give the IP address of a connection's client; None on a Unix socket."""
    address = connection.remote_address
    if not isinstance(address, tuple):
        return None
    host: str = address[0]
    return host


def refuse(connection: Connection, status: int, text: str) -> Response:
    """Answer a handshake that's over a limit; the client may retry later."""
    response = connection.respond(status, f"{text}\n")
    response.headers["Retry-After"] = "1"
    return response
