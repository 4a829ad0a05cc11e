#!/usr/bin/env python
"""
Announcements: users sign in with a token; some announce, others listen.

The app of the tutorial's second part. Every route authenticates the
handshake with a token in the query string, then a route serves each
connection with the handler that its first message picks::

    ws://localhost:8000/whoami?token=s3cret-alice
        says who the token authenticates
    ws://localhost:8000/announcements?token=s3cret-bob
        {"type": "listen"}     then receive every announcement
        {"type": "announce"}   then each text message is an announcement

"""

from typing import Any

from websockets.frames import CloseCode

from wsroute import App, CloseConnection, Connection, FirstMessageRouter
from wsroute.auth import QueryToken

# Tokens and the users they authenticate. A real app would look tokens up
# where the web app that issued them keeps them, and let them expire.
TOKENS = {"s3cret-alice": "alice", "s3cret-bob": "bob"}


def user_for(token: str) -> str | None:
    """Find the user a token authenticates; None if it's unknown."""
    return TOKENS.get(token)


app = App()
app.add_handshake_hook(QueryToken(user_for))


@app.route("/whoami")
async def whoami(ws: Connection) -> None:
    await ws.send(f"You are {ws.user}.")


announcements = FirstMessageRouter("announcements")


@announcements.on("listen")
async def listen(ws: Connection, message: dict[str, Any]) -> None:
    ws.join("listeners")
    await ws.send("listening")
    await ws.wait_closed()


@announcements.on("announce")
async def announce(ws: Connection, message: dict[str, Any]) -> None:
    async for text in ws:
        if not isinstance(text, str):
            raise CloseConnection(CloseCode.UNSUPPORTED_DATA, "expected text")
        app.rooms.publish("listeners", f"{ws.user}: {text}")


app.add_route("/announcements", announcements)


if __name__ == "__main__":
    app.run()
