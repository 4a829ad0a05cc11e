#!/usr/bin/env python
"""The app of the README: an echo route and a route with a parameter."""

from wsroute import App, Connection

app = App()


@app.route("/echo")
async def echo(ws: Connection) -> None:
    """Send every message back."""
    async for message in ws:
        await ws.send(message)


@app.route("/items/<int:id>")
async def item(ws: Connection, id: int) -> None:
    """Describe an item: its id and the tags given in the query string."""
    await ws.send_json({"id": id, "tags": ws.query.getlist("tag")})


if __name__ == "__main__":
    app.run()
