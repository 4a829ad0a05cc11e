"""
Debug mode: the route table, and each handshake told step by step.

``app.run(debug=True)``, ``wsroute run --debug``, or the ``debug=True``
option of :func:`~wsroute.server.serve`, route requests with
:func:`traced_request` rather than the ``process_request`` that
:func:`~wsroute.server.create_server` builds otherwise. It takes the same
steps with the same functions, and says what each one found on the
``wsroute.debug`` logger, at INFO level, each line after the client's
address, such as ``127.0.0.1:50312``::

    GET /items/3 (query: token)
      request: HTTP/1.1 GET, Host 'localhost:8000': fine
      route: '/items/<int:id>' (endpoint 'item') matches: id=3 (int)
      origin: no Origin header, so not a browser: fine
      hook QueryToken(app.user_for): passes, user 'alice'
      answer: 101 Switching Protocols; subprotocol: none; extensions: none
      handler app.item: runs
      closed: 1000 (OK), by the server

Message routers add a line per routed message; a request that no rule
matches gets a 404 whose body, and the log, list the app's routes.

Debug mode is for learning and for development: it costs time on every
handshake, logs what clients send, and tells anyone who asks for a wrong path
what the app's routes are.

"""

from __future__ import annotations

import logging
import reprlib
import textwrap
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeAlias, cast

from websockets.asyncio.server import ServerConnection
from websockets.frames import Close
from websockets.http11 import Request, Response
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import RequestRedirect

from .dispatch import FirstMessageRouter, MessageRouter
from .handshake import (
    RouteRequest,
    answer,
    check_origin,
    check_request,
    client_address,
    http_answer,
    loggable_path,
)
from .http import wants_upgrade
from .limits import Admission, apply_limits
from .routing import Route, Router, describe

if TYPE_CHECKING:
    from .app import App
    from .connection import Connection

__all__ = [
    "Trace",
    "format_routes",
    "route_table",
    "trace_answer",
    "traced_handle",
    "traced_request",
]

logger = logging.getLogger(__name__)

Handle: TypeAlias = Callable[["Connection"], Awaitable[None]]


class Trace:
    """
    Tell the steps of one connection, on the ``wsroute.debug`` logger.

    Each line starts with the client's address, so that the steps of
    connections that open at the same time can be told apart.

    """

    def __init__(self, connection: ServerConnection) -> None:
        self.client = client_address(connection)

    def __call__(self, step: str, *args: object) -> None:
        """Log a step: ``step % args``, indented under the request line."""
        logger.info("%s   %s", self.client, step % args)


def traced_request(app: App, router: Router, admission: Admission) -> RouteRequest:
    """
    Build a ``process_request`` that routes a request and tells each step.

    It makes the same checks, in the same order, as the one that
    :func:`~wsroute.server.create_server` builds when not in debug mode.

    """

    async def route_request(
        connection: Connection, request: Request
    ) -> Response | None:
        connection.started, connection.app = time.monotonic(), app
        trace = connection.trace = Trace(connection)
        path = loggable_path(request)
        _, _, query = request.path.partition("?")
        logger.info("%s %s %s%s", trace.client, request.method, path, query_keys(query))

        refusal = admission.admit(connection)
        if refusal is not None:
            trace("limits: the app is full: answers %d", refusal.status_code)
            return refusal

        try:
            host = check_request(request)
        except HTTPException as exc:
            return refuse(trace, connection, "request", exc)
        trace("request: %s %s, Host %r: fine", request.protocol, request.method, host)

        if app.http_routes and not wants_upgrade(request):
            raw_path, _, _ = request.path.partition("?")
            if raw_path in app.http_routes:
                http_handler = app.http_routes[raw_path]
                trace("plain HTTP: served by %s", describe(http_handler))
                return await answer(connection, request, http_handler, "HTTP handler")

        try:
            route, connection.path_params = router.match(request.path, host)
        except NotFound:
            trace("route: no rule matches %s", path)
            return list_routes(trace, connection, app, path)
        except HTTPException as exc:
            return refuse(trace, connection, "route", exc)
        params = ", ".join(
            f"{name}={value!r} ({type(value).__name__})"
            for name, value in connection.path_params.items()
        )
        trace(
            "route: %r (endpoint %r) matches%s",
            route.rule,
            route.endpoint,
            f": {params}" if params else "",
        )

        try:
            verdict = check_origin(request, host, route.origins, router.server_name)
        except HTTPException as exc:
            return refuse(trace, connection, "origin", exc)
        trace("origin: %s: fine", verdict)

        refusal = admission.admit_route(connection, route)
        if refusal is not None:
            trace("limits: the route is full: answers %d", refusal.status_code)
            return refusal
        connection.route, connection.router = route, router
        apply_limits(connection, route.limits)
        for hook in route.handshake_hooks:
            response = await answer(connection, request, hook, "handshake hook")
            if response is not None:
                trace("hook %s: answers %d", describe(hook), response.status_code)
                return response
            user = "" if connection.user is None else f", user {show(connection.user)}"
            trace("hook %s: passes%s", describe(hook), user)
        return None

    return route_request


def query_keys(query: str) -> str:
    """
    Name the arguments of a query string, without their values.

    An argument without ``=`` may be a value alone, such as a token: it's
    shown as ``?``. Names are cut to 32 characters.

    """
    if not query:
        return ""
    names = dict.fromkeys(
        name[:32] if has_value else "?"
        for name, has_value, _ in (pair.partition("=") for pair in query.split("&"))
    )
    return f" (query: {', '.join(names)})"


def show(value: object) -> str:
    """Show a value in a trace, on one line, even if its ``repr()`` fails."""
    text = reprlib.repr(value)  # <Type instance at 0x...> if repr() raises
    return text.replace("\r", "\\r").replace("\n", "\\n")


def refuse(
    trace: Trace, connection: Connection, step: str, exc: HTTPException
) -> Response:
    """Tell why a step refused a request; answer it."""
    if isinstance(exc, RequestRedirect):
        trace("%s: redirects to %s", step, exc.new_url)
    else:
        trace("%s: refused, %d %s: %s", step, exc.code, exc.name, exc.description)
    return http_answer(connection, exc)


def list_routes(trace: Trace, connection: Connection, app: App, path: str) -> Response:
    """Answer 404 with the app's routes, and log them."""
    routes = format_routes(app)
    trace("the app's routes are:\n%s", textwrap.indent(routes, "    "))
    return connection.respond(
        404, f"No route matches {path}. The app's routes are:\n\n{routes}\n"
    )


def trace_answer(connection: Connection, response: Response) -> None:
    """Tell how the handshake ended: the status, and what was negotiated."""
    trace = connection.trace or Trace(connection)
    if response.status_code == 101:
        extensions = ", ".join(
            extension.name for extension in connection.protocol.extensions
        )
        trace(
            "answer: 101 Switching Protocols; subprotocol: %s; extensions: %s",
            connection.subprotocol or "none",
            extensions or "none",
        )
    else:
        # websockets says in the body why it refused a handshake itself.
        body = response.body.decode(errors="replace").partition("\n")[0]
        trace("answer: %d %s: %s", response.status_code, response.reason_phrase, body)


async def traced_handle(connection: Connection, handle: Handle) -> None:
    """Run :func:`~wsroute.server.handle`; tell when it starts and how it ends."""
    trace = cast(Trace, connection.trace)  # set by traced_request
    trace("handler %s: runs", describe(connection.route.handler))
    try:
        await handle(connection)
    finally:
        await connection.close()  # returns at once if the handler closed it
        code, reason = cast(int, connection.close_code), connection.close_reason
        closer = connection.protocol.close_rcvd_then_sent
        by = {True: "the client", False: "the server", None: "nobody: TCP dropped"}
        close = str(Close(code, ""))  # the code and its meaning: 1000 (OK)
        if reason:  # the client's text: shown quoted, on one line
            close += f" {reason!r}"
        trace("closed: %s, by %s", close, by[closer])


def route_table(app: App) -> list[tuple[str, str, str, str, str]]:
    """
    Describe an app's routes: rule, endpoint, handler, hooks and dispatch.

    The app's setup finishes, so that the hooks of each route are known.

    """
    app.url_map  # noqa: B018 (settle each route's hooks)
    rows = []
    for path, http_handler in app.http_routes.items():
        rows.append((path, "", describe(http_handler), "", "HTTP GET"))
    for rule in app.rules:
        if isinstance(rule, Route):
            handler, hooks = (
                rule.handler,
                ", ".join(map(describe, rule.handshake_hooks)),
            )
            if isinstance(handler, FirstMessageRouter):
                dispatch = f"first message, by {describe_key(handler.key)}"
            elif isinstance(handler, MessageRouter):
                dispatch = f"each message, by {describe_key(handler.key)}"
            else:
                dispatch = "connection"
            rows.append(
                (rule.rule, str(rule.endpoint), describe(handler), hooks, dispatch)
            )
        else:
            target = rule.redirect_to if isinstance(rule.redirect_to, str) else "..."
            rows.append(
                (rule.rule, str(rule.endpoint or ""), "", "", f"redirect to {target}")
            )
    return rows


def describe_key(key: object) -> str:
    """Describe how a message router finds the key of a message."""
    return repr(key) if isinstance(key, str) else describe(key)


def format_routes(app: App) -> str:
    """Format the route table, with a header and aligned columns."""
    header = ("rule", "endpoint", "handler", "hooks", "dispatch")
    rows: list[tuple[str, ...]] = [header, *route_table(app)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in rows
    )
