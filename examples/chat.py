#!/usr/bin/env python
"""
Chat rooms: each message goes to everyone in the room.

A client joins a room, under a name, on the room's path::

    ws://localhost:8000/chat/lobby?name=alice

Then each text message it sends goes to everyone in the room, itself
included, with who sent it. Everyone also hears who comes and who goes::

    {"type": "join", "user": "alice"}
    {"type": "message", "user": "alice", "text": "Hello!"}
    {"type": "leave", "user": "alice"}

A name is 1 to 20 printable characters, else the connection closes with 1008
and a reason that says so. A message is 1 to 500 characters once stripped of
surrounding blanks, else the client gets an error, and can go on::

    {"type": "error", "message": "A message is text of 1 to 500 characters."}

A room's name is 1 to 40 characters, without a slash: other paths get 404.

Rooms are the app's: ``ws.join(room)`` makes the connection a member, and
``app.rooms.publish_json(room, event)`` sends an event to every member
without waiting, skipping any member too slow to keep up (see
:class:`wsroute.Rooms`).

Open http://localhost:8000/ in a browser for a page that chats, from the
same server. With several processes, share the rooms through Redis::

    wsroute run examples.chat:app --workers 2 --rooms redis://localhost:6379

"""

from __future__ import annotations

from pathlib import Path

from wsroute import App, CloseConnection, Connection
from wsroute.http import page

MAX_NAME = 20  # characters
MAX_TEXT = 500  # characters
# Bytes in a message, as websockets counts them: a client that sends more is
# disconnected with 1009 before the message is read. Give it to the server:
# app.run(max_size=MAX_SIZE), or wsroute.testing.TestServer(app, max_size=...).
MAX_SIZE = 4 * MAX_TEXT  # a character takes up to 4 bytes in UTF-8


def name_of(ws: Connection) -> str:
    """
    Read the name that a client gives in the query string.

    Raises:
        CloseConnection: 1008 if the name is missing, too long or not printable.

    """
    name = ws.query.get("name", "").strip()
    if not (1 <= len(name) <= MAX_NAME and name.isprintable()):
        raise CloseConnection(reason=f"a name is 1 to {MAX_NAME} printable characters")
    return name


def text_of(message: str | bytes) -> str | None:
    """Return the text of a message, stripped; None if it isn't one to send."""
    if not isinstance(message, str):
        return None
    text = message.strip()
    return text if 1 <= len(text) <= MAX_TEXT else None


def create_app() -> App:
    """Create the app, with rooms of its own."""
    app = App()

    @app.route("/chat/<string(maxlength=40):room>")
    async def chat(ws: Connection, room: str) -> None:
        """Relay a client's messages to its room, until it leaves."""
        name = name_of(ws)
        ws.join(room)
        app.rooms.publish_json(room, {"type": "join", "user": name})
        try:
            async for message in ws:
                text = text_of(message)
                if text is None:
                    error = f"A message is text of 1 to {MAX_TEXT} characters."
                    await ws.send_json({"type": "error", "message": error})
                    continue
                event = {"type": "message", "user": name, "text": text}
                app.rooms.publish_json(room, event)
        finally:
            ws.leave(room)
            app.rooms.publish_json(room, {"type": "leave", "user": name})

    app.get("/")(page(Path(__file__).with_name("pages") / "chat.html"))
    return app


app = create_app()


if __name__ == "__main__":
    app.run(max_size=MAX_SIZE)
