"""
The checks of a handshake request, between reading it and accepting it.

:func:`check_request` refuses what websockets leaves to the HTTP layer (the
request line and the ``Host`` header); then the router matches the path; then
:func:`check_origin` applies the route's Origin policy and :func:`run_hooks`
runs its handshake hooks. Each refusal is a werkzeug HTTP exception, which
:func:`http_answer` turns into the HTTP response that ends the handshake.

"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    HTTPVersionNotSupported,
    InternalServerError,
    MethodNotAllowed,
)
from werkzeug.routing import RequestRedirect

from .http import HTTPHandler
from .routing import HandshakeHook, describe

if TYPE_CHECKING:
    from .connection import Connection

__all__ = [
    "RouteRequest",
    "answer",
    "check_origin",
    "check_request",
    "client_address",
    "http_answer",
    "loggable_path",
    "run_hooks",
]

RouteRequest: TypeAlias = Callable[
    ["Connection", Request], Awaitable[Response | None] | Response | None
]
"""What routes a handshake request: a ``process_request`` for websockets."""

# A Host header: a DNS name or an IPv4 address, or an IPv6 address in
# brackets, then an optional port. Labels are 1 to 63 characters long, which
# werkzeug needs to build redirects and URLs on that host.
HOST = re.compile(
    r"(?:[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*\.?|\[[0-9A-Fa-f:.]+\])"
    r"(?::[0-9]{1,5})?"
)


def check_request(request: Request) -> str:
    """
    Check what websockets leaves to the HTTP layer: request line and Host.

    Returns:
        The value of the ``Host`` header.

    Raises:
        werkzeug.exceptions.HTTPException: 505 for another HTTP version than
            1.1, 405 for another method than GET, 400 for a missing, repeated
            or malformed ``Host`` header.

    """
    if request.protocol != "HTTP/1.1":
        raise HTTPVersionNotSupported("WebSocket requires HTTP/1.1.")
    if request.method != "GET":
        raise MethodNotAllowed(["GET"], "A WebSocket handshake uses GET.")
    hosts = request.headers.get_all("Host")
    if len(hosts) != 1:
        raise BadRequest(
            "The request has no Host header."
            if not hosts
            else "The request has several Host headers."
        )
    if not HOST.fullmatch(hosts[0]):
        raise BadRequest("The Host header isn't a valid host.")
    return hosts[0]


def check_origin(
    request: Request,
    host: str,
    allowed: Sequence[str | re.Pattern[str]],
    server_name: str | None = None,
) -> str:
    """
    Refuse a browser's handshake from a page of another origin.

    Browsers send the ``Origin`` of the page that opens a WebSocket, and let
    any page open one to any server, with the user's cookies. Unless the
    server checks the origin, a page of any site can act as the user on it:
    that's Cross-Site WebSocket Hijacking. So a handshake is accepted when:

    * it has no ``Origin`` header: the client isn't a browser;
    * its origin is an ``http`` or ``https`` one whose host and port are
      those of the request's ``Host``, or of ``server_name`` behind a proxy:
      the page and the WebSocket are served by the same server;
    * its origin is allowed: equal to a string, or matched in whole by a
      regular expression.

    Returns:
        Why the handshake is accepted, for debug mode, such as
        ``"no Origin header, so not a browser"``.

    Raises:
        werkzeug.exceptions.Forbidden: 403 for any other origin, or several.

    """
    origins = request.headers.get_all("Origin")
    if not origins:
        return "no Origin header, so not a browser"
    if len(origins) == 1:
        origin = origins[0]
        if same_origin(origin, host) or (
            server_name is not None and same_origin(origin, server_name)
        ):
            return f"{origin} is the server's own"
        for pattern in allowed:
            if (
                origin == pattern
                if isinstance(pattern, str)
                else pattern.fullmatch(origin)
            ):
                return f"{origin} is allowed by the route"
    raise Forbidden("The Origin of the request isn't allowed.")


DEFAULT_PORTS = {"http": 80, "https": 443}


def same_origin(origin: str, host: str) -> bool:
    """
    Tell whether a page's origin is served by the server a Host header names.

    The page's scheme must be ``http`` or ``https``, and its host the same;
    its port must be the Host's port, or, when the Host has none, the default
    port of the page's scheme.

    """
    try:
        page, server = urlsplit(origin), urlsplit(f"//{host}")
        page_port, server_port = page.port, server.port
    except ValueError:  # such as http://[::1 or a port out of range
        return False
    if page.scheme not in DEFAULT_PORTS or page.hostname != server.hostname:
        return False
    default = DEFAULT_PORTS[page.scheme]
    return (page_port or default) == (server_port or default)


async def run_hooks(
    connection: Connection, request: Request, hooks: Sequence[HandshakeHook]
) -> Response | None:
    """
    Run handshake hooks in order until one answers the request.

    Returns:
        The first response a hook returns or raises, or :obj:`None` when all
        of them let the handshake go on.

    """
    for hook in hooks:
        response = await answer(connection, request, hook, "handshake hook")
        if response is not None:
            return response
    return None


async def answer(
    connection: Connection,
    request: Request,
    function: HandshakeHook | HTTPHandler,
    kind: str,
) -> Response | None:
    """
    Call a handshake hook or an HTTP handler; make its outcome a response.

    A werkzeug HTTP exception becomes its answer; text becomes a 200 answer
    in ``text/plain``. Any other exception is logged, without the query
    string, and the answer is 500.

    """
    try:
        result = function(connection, request)
        if isinstance(result, Awaitable):
            result = await result
    except HTTPException as exc:
        return http_answer(connection, exc)
    except Exception:
        connection.logger.error(
            "%s %s failed on %s",
            kind,
            describe(function),
            loggable_path(request),
            exc_info=True,
        )
        return http_answer(connection, InternalServerError())
    if result is None and kind == "handshake hook":
        return None
    if isinstance(result, Response):
        return result
    if isinstance(result, str) and kind == "HTTP handler":
        return connection.respond(200, result)
    path = loggable_path(request)
    connection.logger.error(
        "%s %s returned %r on %s; return %s",
        kind,
        describe(function),
        result,
        path,
        "None or a response" if kind == "handshake hook" else "text or a response",
    )
    return http_answer(connection, InternalServerError())


def loggable_path(request: Request) -> str:
    """
    Give the path of a request, for logs.

    Without the query, which may hold a token, nor the user information of an
    absolute target, which may hold a password.

    """
    target = request.path
    if not target.startswith("/"):  # ws://user:password@host/path?query
        try:
            return urlsplit(target).path or "/"
        except ValueError:
            return "-"
    path, _, _ = target.partition("?")
    return path


def client_address(connection: ServerConnection) -> str:
    """
    Give the address of a connection's client, for logs.

    Such as ``127.0.0.1:50312`` or ``[::1]:50312``; ``-`` on a Unix socket.

    """
    address = connection.remote_address
    if not isinstance(address, tuple):  # a Unix socket
        return "-"
    host = f"[{address[0]}]" if ":" in address[0] else address[0]
    return f"{host}:{address[1]}"


def http_answer(connection: ServerConnection, exc: HTTPException) -> Response:
    """Turn a werkzeug HTTP exception into the answer to a handshake request."""
    response = connection.respond(exc.code or 500, f"{exc.description}\n")
    for name, value in exc.get_headers():
        if name != "Content-Type":  # respond() sets text/plain
            response.headers[name] = value
    if isinstance(exc, RequestRedirect):
        response.headers["Location"] = exc.new_url
    return response
