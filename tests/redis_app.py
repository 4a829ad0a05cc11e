"""An app for tests with several processes: each client learns its process."""

import os

from wsroute import App, Connection

app = App()


@app.route("/room/<name>")
async def room(ws: Connection, name: str) -> None:
    """Join a room, say which process serves it, then publish each message."""
    ws.join(name)
    await ws.send(f"joined {os.getpid()}")
    async for message in ws:
        app.rooms.publish(name, message)
