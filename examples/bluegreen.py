#!/usr/bin/env python
"""
Blue or green: one service, routed by path or by the first message.

::

    ws://localhost:8000/blue     served by blue
    ws://localhost:8000/green    served by green
    ws://localhost:8000/         the first message, "blue" or "green", decides

Each handler says which color served the connection, then echoes messages.

"""

from websockets.typing import Data

from wsroute import App, Connection, FirstMessageRouter

app = App()


async def serve_in(color: str, ws: Connection) -> None:
    """Say which color serves this connection, then echo its messages."""
    await ws.send(f"served by {color}")
    async for message in ws:
        await ws.send(message)


@app.route("/blue")
async def blue(ws: Connection) -> None:
    await serve_in("blue", ws)


@app.route("/green")
async def green(ws: Connection) -> None:
    await serve_in("green", ws)


def color_of(message: Data) -> str | None:
    """Read the color that a first message names, in plain text, not JSON."""
    return message.strip() if isinstance(message, str) else None


by_first_message = FirstMessageRouter("by_first_message", key=color_of)


@by_first_message.on("blue")
async def first_blue(ws: Connection, message: str) -> None:
    await serve_in("blue", ws)


@by_first_message.on("green")
async def first_green(ws: Connection, message: str) -> None:
    await serve_in("green", ws)


app.add_route("/", by_first_message)


if __name__ == "__main__":
    app.run()
