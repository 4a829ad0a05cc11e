"""
Serving an app: the one module that talks to :mod:`websockets.asyncio.server`.

A connection travels from the socket to its handler in a few hops:

1. websockets accepts the TCP connection, creates a
   :class:`~wsroute.Connection` and parses the handshake request;
2. ``process_request`` (here, :func:`routed_request` builds it) checks the
   request line and the ``Host`` header, matches the path with the app's
   :class:`~wsroute.routing.Router`, checks the ``Origin`` and runs the
   route's handshake hooks (see :mod:`wsroute.handshake`); a refusal becomes
   an HTTP answer (400, 403, 404, 405, 505, a redirect...) and the WebSocket
   never opens;
3. websockets completes the handshake (answering 426 to a request that
   doesn't ask for an upgrade, for example);
4. :func:`handle` calls the matched handler, inside the error boundary that
   turns a crash into a log line and close code 1011.

In debug mode, :mod:`wsroute.debug` takes the same steps and tells each one.

"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import socket
import ssl as ssl_module
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, cast

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as websockets_serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.protocol import State
from werkzeug.exceptions import (
    HTTPException,
)

from . import malloc
from .auth import cookie_routes_open_to_any_origin
from .connection import Connection
from .debug import trace_answer, traced_handle, traced_request
from .exceptions import CloseConnection
from .handshake import (
    RouteRequest,
    answer,
    check_origin,
    check_request,
    client_address,
    http_answer,
    loggable_path,
    run_hooks,
)
from .http import wants_upgrade
from .lifecycle import ConnectionHook, Lifecycle, call, find_error_handler
from .limits import Admission, apply_limits
from .logs import LoopErrors, RedactingLogger
from .routing import Router, describe
from .workers import run_workers

if TYPE_CHECKING:
    from .app import App

__all__ = ["create_server", "handle", "routed_request", "run", "serve"]

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("wsroute.access")

NO_HOOKS = Lifecycle()

#: The format of the log lines of :func:`run`, when it configures logging.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

ProcessRequest: TypeAlias = Callable[
    [ServerConnection, Request], Awaitable[Response | None] | Response | None
]
ProcessResponse: TypeAlias = Callable[
    [ServerConnection, Request, Response], Awaitable[Response | None] | Response | None
]


@asynccontextmanager
async def serve(
    app: App,
    host: str | None = None,
    port: int | None = None,
    **options: Any,
) -> AsyncIterator[Server]:
    """
    Serve an app for as long as a block runs.

    ::

        async with serve(app, "localhost", 8000) as server:
            port = server.sockets[0].getsockname()[1]  # useful with port=0
            await stop

    On entry, the app's startup hooks run, then the server starts listening.
    On exit, the server closes connections with 1001 (going away) and waits
    for their handlers to return; then the app's shutdown hooks run.

    ``server`` is the :class:`websockets.asyncio.server.Server`, and the
    arguments are those of :func:`create_server`.

    """
    server = create_server(app, host, port, **options)
    async with app_running(app), server:
        yield server


@asynccontextmanager
async def app_running(app: App) -> AsyncIterator[None]:
    """
    Get an app ready to serve while a block runs.

    Start its rooms, then run its startup hooks; on exit, run its shutdown
    hooks, then stop its rooms. If a startup hook raises, the shutdown hooks
    don't run, but the rooms stop.

    """
    try:
        await app.rooms.start()
        for hook in app.startup_hooks:
            await call(hook)
        try:
            yield
        finally:
            for hook in app.shutdown_hooks:
                await call(hook)
    finally:
        await app.rooms.stop()


def create_server(
    app: App,
    host: str | None = None,
    port: int | None = None,
    *,
    server_name: str | None = None,
    ssl: ssl_module.SSLContext | Literal[True] | None = None,
    debug: bool = False,
    **options: Any,
) -> Server:
    """
    Create a websockets server for an app, without the app's server hooks.

    Await it to start it. :func:`serve`, which also runs the app's startup
    and shutdown hooks, is what you want, unless you manage them yourself.

    The app's URL map is compiled, if it wasn't yet, and bound once for this
    server.

    Args:
        app: The app to serve.
        host: Network interfaces to listen on.
        port: TCP port to listen on; 0 picks a free one.
        server_name: Name of the server as clients see it, for the Location
            of redirects and for :meth:`~wsroute.Connection.url_for`. By
            default, the ``Host`` header of the request.
        ssl: An :class:`ssl.SSLContext` to serve over TLS, or ``True``
            when a proxy in front of the server terminates TLS: then URLs use
            the ``wss`` scheme, but the server itself speaks plain TCP.
        debug: Tell each step of each handshake on the ``wsroute.debug``
            logger, and list the app's routes in 404 answers; see
            :mod:`wsroute.debug`. Not for production.
        options: Any other option of :func:`websockets.asyncio.server.serve`,
            such as ``max_size``, ``origins``, ``ping_interval``,
            ``open_timeout``, ``compression`` (off, unlike websockets'
            default: ``compression="deflate"`` turns it on), or ``unix=True`` with
            ``path=...`` for a Unix socket. A ``process_request`` function
            runs after routing succeeded, so it can read ``connection.route``.
            A ``create_connection`` class must subclass
            :class:`~wsroute.Connection`.

    Raises:
        TypeError: If ``create_connection`` isn't a subclass of
            :class:`~wsroute.Connection`.

    """
    create_connection = options.pop("create_connection", Connection)
    if not (
        isinstance(create_connection, type)
        and issubclass(create_connection, Connection)
    ):
        raise TypeError(
            f"create_connection must be a subclass of wsroute.Connection, "
            f"got {create_connection!r}"
        )
    if ssl is not None and ssl is not True:
        options["ssl"] = ssl
    # Compression costs memory and exposes secrets; see topics/reliability.
    options.setdefault("compression", None)
    # websockets' debug log shows credentials; keep them out.
    logger = options.get("logger") or logging.getLogger("websockets.server")
    options["logger"] = RedactingLogger(logger)
    router = Router(
        app.url_map,
        server_name=server_name,
        url_scheme="ws" if ssl is None else "wss",
    )
    for route in cookie_routes_open_to_any_origin(app.rules):
        logger.warning(
            "route %s authenticates with a cookie and accepts any Origin: any web "
            "page can connect as its visitors; allow only your sites' origins",
            route.rule,
        )

    admission = Admission(app.limits)
    if debug:
        logger.warning(
            "Debug mode: each handshake is logged step by step and 404 answers "
            "list the routes; don't use it in production"
        )
        route_request = traced_request(app, router, admission)
    else:
        route_request = routed_request(app, router, admission)

    process_request: ProcessRequest = route_request  # type: ignore[assignment]
    then: ProcessRequest | None = options.pop("process_request", None)
    if then is not None:

        async def route_then_process_request(
            connection: Connection, request: Request
        ) -> Response | None:
            response = route_request(connection, request)
            if isinstance(response, Awaitable):
                response = await response
            if response is not None:
                return response
            result = then(connection, request)
            if isinstance(result, Awaitable):
                result = await result
            return result

        process_request = route_then_process_request  # type: ignore[assignment]

    log_response = log_and_trace_answer if debug else finish_refusal
    process_response: ProcessResponse = log_response
    then_respond: ProcessResponse | None = options.pop("process_response", None)
    if then_respond is not None:

        async def process_then_log_response(
            connection: ServerConnection, request: Request, response: Response
        ) -> Response | None:
            result = then_respond(connection, request, response)
            if isinstance(result, Awaitable):
                result = await result
            log_response(connection, request, response if result is None else result)
            return result

        process_response = process_then_log_response

    lifecycle = Lifecycle(
        connect=tuple(app.connect_hooks),
        disconnect=tuple(app.disconnect_hooks),
        error_handlers=dict(app.error_handlers),
    )
    handler = functools.partial(handle, lifecycle=lifecycle)
    if debug:
        handler = functools.partial(traced_handle, handle=handler)
    return websockets_serve(
        handler,
        host,
        port,
        process_request=process_request,
        process_response=process_response,
        create_connection=create_connection,
        **options,
    )


def routed_request(app: App, router: Router, admission: Admission) -> RouteRequest:
    """
    Build the ``process_request`` that routes each handshake request.

    It counts the connection against the app's connection limits, checks the
    request line and ``Host``, answers plain HTTP requests for the app's HTTP
    routes, matches the path, checks the ``Origin``, counts the connection
    against its route's limits, and runs the route's handshake hooks. A
    refusal becomes an HTTP answer. With ``debug=True``,
    :func:`wsroute.debug.traced_request` takes its place.

    """

    def route_request(
        connection: Connection, request: Request
    ) -> Awaitable[Response | None] | Response | None:
        """Match the request with a route, or answer it over HTTP."""
        connection.started, connection.app = time.monotonic(), app
        refusal = admission.admit(connection)
        if refusal is not None:
            return refusal
        try:
            host = check_request(request)
            if app.http_routes and not wants_upgrade(request):
                path, _, _ = request.path.partition("?")
                if path in app.http_routes:
                    http_handler = app.http_routes[path]
                    return answer(connection, request, http_handler, "HTTP handler")
            route, connection.path_params = router.match(request.path, host)
            check_origin(request, host, route.origins, router.server_name)
        except HTTPException as exc:
            return http_answer(connection, exc)
        refusal = admission.admit_route(connection, route)
        if refusal is not None:
            return refusal
        connection.route, connection.router = route, router
        apply_limits(connection, route.limits)
        if route.handshake_hooks:
            return run_hooks(connection, request, route.handshake_hooks)
        return None

    return route_request


def finish_refusal(
    connection: ServerConnection, request: Request, response: Response
) -> None:
    """
    End a handshake answered otherwise than with 101: log it, close at once.

    After such an answer, websockets waits up to ``close_timeout`` for the
    client to close the TCP connection. A client that doesn't holds one of
    the server's file descriptors meanwhile, and a few hundred such clients
    use up a process's limit, past which nobody can connect, and asyncio logs
    an error for each attempt. So the server closes the connection as soon as
    the answer is written.

    """
    if response.status_code == 101:
        return
    connection.close_timeout = 0
    if access_logger.isEnabledFor(logging.INFO):
        log_access(connection, request, response.status_code, None)


def log_and_trace_answer(
    connection: ServerConnection, request: Request, response: Response
) -> None:
    """In debug mode, tell how a handshake ended, then log it if refused."""
    trace_answer(cast(Connection, connection), response)
    finish_refusal(connection, request, response)


def log_access(
    connection: ServerConnection, request: Request, status: int, close_code: int | None
) -> None:
    """
    Write the access log line of a connection, on the ``wsroute.access`` logger.

    ::

        127.0.0.1:50312 "GET /items/3" 101 1000 0.532s
        127.0.0.1:50313 "GET /nowhere" 404 - 0.001s

    The client's address, the path without its query string (which may hold
    a token), the HTTP status, the close code, and how long the connection
    lasted. The values are also attributes of the log record, for formatters:
    ``client``, ``path``, ``status``, ``close_code`` and ``duration``.

    """
    client = client_address(connection)
    path = loggable_path(request).replace('"', "%22")  # keep the field quoted
    started = getattr(connection, "started", None)
    duration = 0.0 if started is None else time.monotonic() - started
    fields = {
        "client": client,
        "method": request.method,
        "path": path,
        "status": status,
        "close_code": close_code,
        "duration": duration,
    }
    access_logger.info(
        '%s "%s %s" %d %s %.3fs',
        client,
        request.method,
        path,
        status,
        "-" if close_code is None else close_code,
        duration,
        extra=fields,
    )


async def handle(connection: Connection, lifecycle: Lifecycle = NO_HOOKS) -> None:
    """
    Run the matched handler: the error boundary of every connection.

    The app's connect hooks run first, inside the boundary; then the handler.

    * The handler returns: the connection closes with 1000.
    * :exc:`~websockets.exceptions.ConnectionClosed` escapes the handler after
      the connection closed: the client left or the server is shutting down.
      That's a normal end; nothing is logged.
    * :exc:`~wsroute.CloseConnection` escapes the handler: the connection
      closes with its code and reason; nothing is logged.
    * Another exception has an error handler that returns a
      :exc:`~wsroute.CloseConnection`: the connection closes with its code
      and reason; nothing is logged.
    * Any other exception: it's logged at ERROR with its traceback, and the
      connection closes with 1011 (internal error). The client never sees the
      traceback.

    An exception group, as a :class:`asyncio.TaskGroup` raises, is judged by
    the exceptions it holds: it's a normal end if each one is.

    A handler that's cancelled, as :func:`run` does to those still running
    after its ``shutdown_timeout``, ends with 1011 unless the connection was
    closed already. Once the connection is closed, whatever the reason, the
    app's disconnect hooks run; they can read ``ws.close_code`` and
    ``ws.close_reason``, and ``ws.rooms``, the rooms the connection is in
    until it leaves them all, last.

    """
    failed: object = connection.route.handler
    what = "handler"
    try:
        for hook in lifecycle.connect:
            failed, what = hook, "connect hook"
            await call(hook, connection)
        failed, what = connection.route.handler, "handler"
        await connection.route.handler(connection, **connection.path_params)
    except Exception as exc:
        await end(connection, exc, lifecycle, failed, what)
    except asyncio.CancelledError:  # by a bounded shutdown: not a normal end
        await connection.close(CloseCode.INTERNAL_ERROR)
        raise
    finally:
        try:
            # Waiting here for the close, which websockets would do right
            # after, costs about 5% of a handshake: only pay it when needed.
            logging_access = access_logger.isEnabledFor(logging.INFO)
            if lifecycle.disconnect or logging_access:
                await connection.close()
                if lifecycle.disconnect:
                    await disconnect(connection, lifecycle.disconnect)
                if logging_access:
                    request = cast(Request, connection.request)
                    log_access(connection, request, 101, connection.close_code)
        finally:  # even if cancelled while closing
            connection.app.rooms.leave_all(connection)


async def end(
    connection: Connection,
    exc: Exception,
    lifecycle: Lifecycle,
    failed: object,
    what: str,
) -> None:
    """Close a connection after an exception escaped its handler or a hook."""
    errors = list(leaves(exc))
    if all(is_normal_end(error, connection) for error in errors):
        for error in errors:
            if isinstance(error, CloseConnection):
                await connection.close(error.code, error.reason)
                break
        return
    close: object = None
    error_handler = find_error_handler(lifecycle.error_handlers, exc)
    if error_handler is not None:
        try:
            close = await call(error_handler, connection, exc)
        except CloseConnection as raised:
            close = raised
        except Exception as error_handler_exc:
            exc, failed, what = error_handler_exc, error_handler, "error handler"
    if isinstance(close, CloseConnection):
        await connection.close(close.code, close.reason)
        return
    path = loggable_path(cast(Request, connection.request))
    connection.logger.error(
        "%s %s failed on %s", what, describe(failed), path, exc_info=exc
    )
    if close is not None:
        connection.logger.error(
            "error handler %s returned %r; return a CloseConnection or None",
            describe(error_handler),
            close,
        )
    await connection.close(CloseCode.INTERNAL_ERROR)


async def disconnect(connection: Connection, hooks: Sequence[ConnectionHook]) -> None:
    """Run disconnect hooks once the connection is closed; log their crashes."""
    for hook in hooks:
        try:
            await call(hook, connection)
        except Exception:
            connection.logger.error(
                "disconnect hook %s failed", describe(hook), exc_info=True
            )


def leaves(exc: BaseException) -> Iterator[BaseException]:
    """Yield an exception, or the exceptions in an exception group, flattened."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from leaves(inner)
    else:
        yield exc


def is_normal_end(exc: BaseException, connection: Connection) -> bool:
    """Tell a deliberate close, or the end of a closed connection, from a crash."""
    if isinstance(exc, CloseConnection):
        return True
    # ConnectionClosed from another connection, while this one is open, is a bug.
    return isinstance(exc, ConnectionClosed) and connection.state is not State.OPEN


#: The signals that stop :func:`run`, and the code that each one closes with.
STOP_SIGNALS = {
    signal.SIGINT: CloseCode.GOING_AWAY,
    signal.SIGTERM: CloseCode.GOING_AWAY,
    signal.SIGUSR1: CloseCode.SERVICE_RESTART,
}


def run(
    app: App,
    host: str | None = "localhost",
    port: int | None = 8000,
    *,
    workers: int = 1,
    loop: Literal["asyncio", "uvloop"] = "asyncio",
    shutdown_timeout: float = 10,
    log_level: int | str = logging.INFO,
    tune_malloc: bool = True,
    **options: Any,
) -> None:
    """
    Serve an app until the process receives SIGINT (Ctrl-C) or SIGTERM.

    :func:`run` is meant for the entry point of a program: it blocks, runs its
    own event loop, and logs where it's listening, such as ``Running on
    ws://localhost:8000``, then a line per connection on the
    ``wsroute.access`` logger (see :func:`log_access`). Unless the program
    configured :mod:`logging` already, it logs to standard error at
    ``log_level``, and websockets' own per-connection lines, which the access
    log replaces, only at DEBUG level.

    On SIGINT or SIGTERM, the server stops accepting connections, closes open
    ones with 1001 (going away), and waits up to ``shutdown_timeout`` seconds
    for handlers to return; then it cancels those still running. A second
    signal cancels them at once. SIGUSR1 stops the server the same way, but
    closes connections with 1012 (service restart), which tells clients to
    reconnect soon: send it when the server will start again, as
    ``wsroute run --reload`` does on a change. A handler that suppresses
    :exc:`asyncio.CancelledError` keeps the process alive: let it propagate.

    Signals are caught on Unix; elsewhere, Ctrl-C interrupts the server.
    The same error of the event loop, such as a failure to accept a
    connection when the process is out of file descriptors, is logged once
    a minute at most (see :class:`~wsroute.logs.LoopErrors`).

    Args:
        app: The app to serve.
        host: Network interfaces to listen on; ignored with ``sock=...``.
        port: TCP port to listen on, 0 for a free one; ignored with ``sock=...``.
        workers: How many processes serve the app, sharing the port; see
            :mod:`wsroute.workers`. When one of them fails, :func:`run`
            raises :exc:`SystemExit` with its exit status.
        loop: The event loop: asyncio's own, or ``"uvloop"``, which needs the
            ``uvloop`` extra: ``pip install 'wsroute[uvloop]'``.
        shutdown_timeout: How long to wait for handlers when stopping, then
            again for cancelled handlers to finish.
        log_level: Level of the logging set up for the program, if any.
        tune_malloc: Whether to set glibc's memory allocator for asyncio's
            reads, which saves system calls on every read: see
            :mod:`wsroute.malloc`.
        options: Any option of :func:`serve`, such as ``debug=True`` to
            see each step of each handshake (see :mod:`wsroute.debug`).

    Raises:
        ImportError: If ``loop`` is ``"uvloop"`` and uvloop isn't installed.
        ValueError: For another ``loop``, fewer than one worker, or several
            workers on port 0 or an existing socket.

    """
    loop_factory = event_loop_factory(loop)
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, not {workers}")
    if workers > 1 and (not port or options.get("sock") is not None):
        raise ValueError("workers share a port: give one, not 0 nor a socket")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=log_level, format=LOG_FORMAT)
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            # wsroute's access log says what websockets' INFO lines say.
            logging.getLogger("websockets").setLevel(logging.WARNING)
    if tune_malloc:
        malloc.tune()

    def serve() -> None:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve_until_stopped(app, host, port, shutdown_timeout, options))

    if workers == 1:
        serve()
        return
    options["reuse_port"] = True
    status = run_workers(workers, serve)
    if status != 0:
        raise SystemExit(status)


def event_loop_factory(
    name: str,
) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """
    Find how to make the event loop that ``name`` names, for :func:`run`.

    Returns:
        :obj:`None` for asyncio's default loop, else a function that makes
        a loop, such as :func:`uvloop.new_event_loop`.

    Raises:
        ImportError: If uvloop is named and not installed.
        ValueError: For another name.

    """
    if name == "asyncio":
        return None
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            raise ImportError(
                "loop='uvloop' needs uvloop: pip install 'wsroute[uvloop]'"
            ) from None
        return uvloop.new_event_loop
    raise ValueError(f"loop must be 'asyncio' or 'uvloop', not {name!r}")


async def serve_until_stopped(
    app: App,
    host: str | None,
    port: int | None,
    shutdown_timeout: float,
    options: dict[str, Any],
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down within a bounded time."""
    loop = asyncio.get_running_loop()
    stop, hurry = asyncio.Event(), asyncio.Event()
    close_code = CloseCode.GOING_AWAY

    def on_signal(code: CloseCode) -> None:
        nonlocal close_code
        if stop.is_set():
            hurry.set()
        else:
            close_code = code
        stop.set()

    for signum, code in STOP_SIGNALS.items():
        with contextlib.suppress(NotImplementedError):  # signals on Windows
            loop.add_signal_handler(signum, on_signal, code)
    loop.set_exception_handler(LoopErrors())

    if options.get("sock") is not None:
        host = port = None
    async with app_running(app):
        server = await create_server(app, host, port, **options)
        scheme = (
            "wss" if isinstance(options.get("ssl"), ssl_module.SSLContext) else "ws"
        )
        logger.info(
            "Running on %s (press CTRL+C to quit)", address(server, host, scheme)
        )
        await stop.wait()
        restart = " for a restart" if close_code is CloseCode.SERVICE_RESTART else ""
        logger.info("Shutting down%s; press CTRL+C again to stop at once", restart)
        await shut_down(server, shutdown_timeout, hurry, close_code)
    logger.info("Stopped")


async def shut_down(
    server: Server,
    grace: float,
    hurry: asyncio.Event,
    code: CloseCode = CloseCode.GOING_AWAY,
) -> None:
    """
    Close a server; give handlers ``grace`` seconds, unless in a hurry.

    Open connections are closed with ``code``: 1001 (going away), or 1012
    (service restart). Then cancel handlers still running and connections
    still opening, and give them ``grace`` seconds again.

    """
    server.close(code=code)  # 503 to opening connections, code to open ones
    closed = asyncio.ensure_future(server.wait_closed())
    hurried = asyncio.ensure_future(hurry.wait())
    await asyncio.wait(
        [closed, hurried], timeout=grace, return_when=asyncio.FIRST_COMPLETED
    )
    hurried.cancel()
    if closed.done():
        return
    pending = [task for task in server.handler_tasks if not task.done()]
    running = len(server.all_connections)  # connections whose handler runs
    logger.warning(
        "Cancelling what's left: %d running handlers, %d opening connections",
        running,
        len(pending) - running,
    )
    for task in pending:
        task.cancel()
    try:
        async with asyncio.timeout(grace):
            await closed
    except TimeoutError:
        logger.error("Some handlers ignore cancellation; they keep the process alive")


def address(server: Server, host: str | None, scheme: str) -> str:
    """Describe where a server listens, such as ``ws://localhost:8000``."""
    sock = server.sockets[0]
    if sock.family == socket.AF_UNIX:
        return f"unix:{sock.getsockname()}"
    bound, port = sock.getsockname()[:2]
    name = host or bound
    if ":" in name:
        name = f"[{name}]"
    return f"{scheme}://{name}:{port}"
