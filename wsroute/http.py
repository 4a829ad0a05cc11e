"""
Plain HTTP answers, for the few requests that aren't WebSocket handshakes.

wsroute isn't an HTTP framework, but a load balancer's health check or the
page of a demo shouldn't need a second server. A GET request without
``Upgrade: websocket`` whose path is exactly that of an HTTP route gets the
answer of the route's handler; any other request goes on to the WebSocket
routes, where a path that matches gets 426 Upgrade Required.

"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from websockets.http11 import Request, Response

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["HTTPHandler", "page", "respond", "wants_upgrade"]

HTTPHandler: TypeAlias = Callable[
    ["Connection", Request], Awaitable[Response | str] | Response | str
]
"""An HTTP handler, a function or coroutine function taking the connection
and the request, returning text to answer with 200 in ``text/plain``, or a
response, such as one made with ``ws.respond(status, text)``."""


def wants_upgrade(request: Request) -> bool:
    """Tell whether a request asks for a WebSocket, rather than plain HTTP."""
    return any(
        "websocket" in value.lower() for value in request.headers.get_all("Upgrade")
    )


def respond(
    ws: Connection, status: int, body: str | bytes, content_type: str
) -> Response:
    """
    Make a response with a body of any type; ``ws.respond()`` makes text ones.

    ::

        return respond(ws, 200, "<h1>Hello</h1>", "text/html; charset=utf-8")

    """
    if isinstance(body, str):
        body = body.encode()
    response = ws.respond(status, "")
    response.body = body
    # Headers holds several values per name: replace those respond() set.
    del response.headers["Content-Type"]
    del response.headers["Content-Length"]
    response.headers["Content-Type"] = content_type
    response.headers["Content-Length"] = str(len(body))
    return response


def page(path: str | Path, content_type: str | None = None) -> HTTPHandler:
    """
    Make an HTTP handler that answers with a file, such as an HTML page.

    ::

        app.get("/")(page("static/index.html"))

    The file is read on each request, so edits show at once. Its content type
    comes from its extension unless given.

    """
    path = Path(path)
    if content_type is None:
        guessed, _ = mimetypes.guess_type(path.name)
        content_type = guessed or "application/octet-stream"
    if content_type.startswith("text/") and "charset" not in content_type:
        content_type += "; charset=utf-8"

    def serve_file(ws: Connection, request: Request) -> Response:
        return respond(ws, 200, path.read_bytes(), content_type)

    serve_file.__qualname__ = f"page({str(path)!r})"
    return serve_file
