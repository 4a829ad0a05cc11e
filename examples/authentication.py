#!/usr/bin/env python
"""
Every way to authenticate a WebSocket connection, one route each.

Browsers can't set headers on a WebSocket handshake, so a page gets a token
from the web app that served it, then sends it in one of these ways::

    ws://localhost:8000/first-message    as the first message: {"token": ...}
    ws://localhost:8000/query?token=...  in the query string
    ws://localhost:8000/cookie           in a cookie named "token"
    ws://alice:<token>@localhost:8000/user-info
                                         as the user information of the URL,
                                         which browsers send as HTTP Basic
    ws://localhost:8000/subprotocol      in Sec-WebSocket-Protocol, beside
                                         the "chat" subprotocol

Programs that aren't browsers can send ``Authorization: Bearer <token>``::

    ws://localhost:8000/bearer

Each route greets the user, then waits for a goodbye. Tokens live for a
minute; ``python examples/authentication.py`` prints one for alice.

Open http://localhost:8000/ in a browser for a page that tries each way. A
plain GET for a route's path, such as http://localhost:8000/query?user=bob,
gets the page of that way, with a fresh token for the user; the page then
opens a WebSocket on the same path. The pages are in ``examples/pages``.

"""

import asyncio
import hmac
import re
import secrets
from pathlib import Path

from websockets.http11 import Request, Response
from werkzeug.exceptions import BadRequest

from wsroute import App, Connection
from wsroute.auth import (
    BasicAuth,
    BearerToken,
    CookieToken,
    FirstMessageToken,
    QueryToken,
    SubprotocolToken,
)
from wsroute.http import page, respond

# Tokens and the users they authenticate, as a web app would issue them.
TOKENS: dict[str, str] = {}


def issue_token(user: str, lifetime: float = 60) -> str:
    """Issue a token for a user, forgotten after ``lifetime`` seconds."""
    token = secrets.token_urlsafe(16)
    TOKENS[token] = user
    asyncio.get_running_loop().call_later(lifetime, TOKENS.pop, token, None)
    return token


def user_for(token: str) -> str | None:
    """Find the user a token authenticates; None if it's unknown or expired."""
    return TOKENS.get(token)


def user_for_credentials(username: str, password: str) -> str | None:
    """Check user information: the password is the user's token."""
    user = TOKENS.get(password)
    if user is None or not hmac.compare_digest(user, username):
        return None
    return user


app = App()


async def greet(ws: Connection) -> None:
    """Greet the authenticated user, then wait for a goodbye."""
    await ws.send(f"Hello {ws.user}!")
    async for message in ws:
        if message == f"Goodbye {ws.user}.":
            break


@app.route("/first-message")
async def first_message(ws: Connection) -> None:
    await FirstMessageToken(user_for)(ws)
    await greet(ws)


app.add_route("/query", greet, endpoint="query", hooks=[QueryToken(user_for)])
app.add_route(
    "/cookie", greet, endpoint="cookie", hooks=[CookieToken(user_for, name="token")]
)
app.add_route(
    "/user-info",
    greet,
    endpoint="user_info",
    hooks=[BasicAuth(user_for_credentials, realm="examples")],
)
app.add_route(
    "/subprotocol",
    greet,
    endpoint="subprotocol",
    hooks=[SubprotocolToken(user_for, subprotocol="chat")],
)
app.add_route("/bearer", greet, endpoint="bearer", hooks=[BearerToken(user_for)])


# The pages that try each way, served to plain GETs.

PAGES = Path(__file__).with_name("pages")


def serve_page(ws: Connection, request: Request) -> Response:
    """
    Serve the page of a path, with the user and a fresh token filled in.

    A real web app would issue tokens to users who logged in; this example
    issues one to whoever asks, for the name they give.

    """
    user = ws.query.get("user", "alice")
    if not re.fullmatch(r"[a-z]{1,20}", user):
        raise BadRequest("A user name is 1 to 20 lowercase letters.")
    path, _, _ = request.path.partition("?")
    name = "index" if path == "/" else path.strip("/")
    html = (PAGES / f"{name}.html").read_text()
    html = html.replace("USER", user)
    if "TOKEN" in html:
        html = html.replace("TOKEN", issue_token(user))
    return respond(ws, 200, html, "text/html; charset=utf-8")


PAGE_PATHS = [
    "/",
    "/first-message",
    "/query",
    "/cookie",
    "/cookie-iframe",
    "/user-info",
    "/subprotocol",
]
for path in PAGE_PATHS:
    app.add_http_route(path, serve_page)
app.get("/session.js")(page(PAGES / "session.js"))


@app.on_startup
def print_a_token() -> None:
    print(f"A token for alice, for a minute: {issue_token('alice')}", flush=True)


if __name__ == "__main__":
    app.run()
