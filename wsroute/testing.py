"""
Testing: serve an app for the duration of a test, and connect real clients.

In an async test (with an async plugin such as pytest-asyncio)::

    async def test_echo():
        async with TestServer(app) as server:
            async with server.connect("/echo") as ws:
                await ws.send("hello")
                assert await ws.recv() == "hello"

In a plain test::

    def test_echo():
        with TestClient(app) as client:
            with client.connect("/echo") as ws:
                ws.send("hello")
                assert ws.recv() == "hello"

The server listens on a free port of 127.0.0.1 and the clients are
websockets' own, so the test goes through the real handshake, hooks and all.
When a handler or a hook crashes, the server logs it and closes the
connection with 1011 as usual; the test server also keeps the exception and
raises it when the ``with`` block ends, so that a bug fails the test instead
of hiding in a log. Pass ``raise_server_exceptions=False`` to test crashes.

"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from traceback import format_exception
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import connect as async_connect
from websockets.asyncio.server import Server
from websockets.sync.client import ClientConnection as SyncClientConnection
from websockets.sync.client import connect as sync_connect
from websockets.typing import Origin, Subprotocol
from werkzeug.http import dump_cookie

from .app import App
from .server import shut_down

__all__ = ["TestClient", "TestServer"]


class ErrorCollector(logging.Handler):
    """Keep the exceptions that the server logs at ERROR."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.exceptions: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.exceptions.append(record.exc_info[1])


class TestServer:
    """
    Serve an app on a free loopback port while an ``async with`` block runs.

    Args:
        app: The app to serve.
        raise_server_exceptions: Raise, when the block ends, the first
            exception that the server logged: a crash of a handler, a hook,
            or an error handler. When the test itself failed, its exception
            gets the server's as notes instead.
        shutdown_timeout: How long to wait for handlers when the block
            ends, before cancelling them.
        options: Options of :func:`wsroute.server.serve`, such as
            ``max_size`` or ``server_name``.

    Attributes:
        server: The websockets :class:`~websockets.asyncio.server.Server`.
        port: The port it listens on.
        url: Its base URL, such as ``ws://127.0.0.1:54321``.

    """

    __test__ = False  # not a test class, despite its name

    server: Server
    port: int
    url: str

    def __init__(
        self,
        app: App,
        *,
        raise_server_exceptions: bool = True,
        shutdown_timeout: float = 2,
        **options: Any,
    ) -> None:
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.shutdown_timeout = shutdown_timeout
        self.collector = ErrorCollector()
        # A logger of its own, outside logging's registry, that passes
        # records on to the server's usual logger.
        self.parent = options.pop("logger", None) or logging.getLogger(
            "websockets.server"
        )
        self.logger = logging.Logger(self.parent.name)
        self.logger.parent = self.parent
        self.logger.addHandler(self.collector)
        self.options = options

    @property
    def exceptions(self) -> list[BaseException]:
        """The exceptions that the server logged so far."""
        return self.collector.exceptions

    async def __aenter__(self) -> TestServer:
        # Catch crashes even where logging is set to show less than errors.
        self.logger.setLevel(min(self.parent.getEffectiveLevel(), logging.ERROR))
        options = {"logger": self.logger, **self.options}
        self.serving = self.app.serve("127.0.0.1", 0, **options)
        self.server = await self.serving.__aenter__()
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Don't let a handler that never ends hang the test.
        await shut_down(self.server, self.shutdown_timeout, asyncio.Event())
        await self.serving.__aexit__(exc_type, exc_value, traceback)
        if not (self.raise_server_exceptions and self.exceptions):
            return
        if exc_value is None:
            raise self.exceptions[0]
        for exception in self.exceptions:  # often, the cause of the failure
            exc_value.add_note(
                "The server also logged:\n" + "".join(format_exception(exception))
            )

    def connect(
        self,
        path: str = "/",
        *,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        subprotocols: Sequence[str] | None = None,
        origin: str | None = None,
        **options: Any,
    ) -> async_connect:
        """
        Connect a websockets client to a path of the app.

        Use it as ``async with server.connect(...) as ws:``, or await it.

        Args:
            path: The path, such as ``"/items/3"``.
            query: Query arguments; a list value repeats the argument.
            headers: Headers to add to the handshake request.
            cookies: Cookies to send, by name.
            subprotocols: Subprotocols to offer.
            origin: The ``Origin`` to send, as a browser would.
            options: Options of :func:`websockets.asyncio.client.connect`.

        """
        uri, client_options = handshake(
            self.url, path, query, headers, cookies, subprotocols, origin
        )
        return async_connect(uri, **client_options, **options)


class TestClient:
    """
    Serve an app on a free loopback port while a ``with`` block runs.

    The synchronous twin of :class:`TestServer`, for tests that aren't
    asynchronous: the server runs in an event loop of its own, in a thread,
    and the clients are websockets' synchronous ones. It takes the same
    arguments, and raises the server's first exception the same way.

    """

    __test__ = False  # not a test class, despite its name

    def __init__(
        self, app: App, *, raise_server_exceptions: bool = True, **options: Any
    ) -> None:
        self.test_server = TestServer(
            app, raise_server_exceptions=raise_server_exceptions, **options
        )

    @property
    def url(self) -> str:
        """The server's base URL, such as ``ws://127.0.0.1:54321``."""
        return self.test_server.url

    def __enter__(self) -> TestClient:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        try:
            asyncio.run_coroutine_threadsafe(
                self.test_server.__aenter__(), self.loop
            ).result()
        except BaseException:
            self.stop_loop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            asyncio.run_coroutine_threadsafe(
                self.test_server.__aexit__(exc_type, exc_value, traceback), self.loop
            ).result()
        finally:
            self.stop_loop()

    def stop_loop(self) -> None:
        """Stop the server's event loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()

    def connect(
        self,
        path: str = "/",
        *,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        subprotocols: Sequence[str] | None = None,
        origin: str | None = None,
        **options: Any,
    ) -> SyncClientConnection:
        """
        Connect a websockets client to a path of the app.

        Use it as ``with client.connect(...) as ws:``. The arguments are those
        of :meth:`TestServer.connect`, and the options those of
        :func:`websockets.sync.client.connect`.

        """
        uri, client_options = handshake(
            self.url, path, query, headers, cookies, subprotocols, origin
        )
        connection: SyncClientConnection = sync_connect(
            uri, **client_options, **options
        )
        return connection


def handshake(
    url: str,
    path: str,
    query: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None,
    cookies: Mapping[str, str] | None,
    subprotocols: Sequence[str] | None,
    origin: str | None,
) -> tuple[str, dict[str, Any]]:
    """Turn the arguments of ``connect()`` into a URI and client options."""
    uri = url + path
    if query:
        uri += ("&" if "?" in path else "?") + urlencode(query, doseq=True)
    additional_headers = dict(headers or {})
    if cookies:  # quoted as werkzeug does, when a value needs it
        additional_headers["Cookie"] = "; ".join(
            dump_cookie(name, value, path=None) for name, value in cookies.items()
        )
    options: dict[str, Any] = {"additional_headers": additional_headers}
    if subprotocols is not None:
        options["subprotocols"] = [Subprotocol(value) for value in subprotocols]
    if origin is not None:
        options["origin"] = Origin(origin)
    return uri, options
