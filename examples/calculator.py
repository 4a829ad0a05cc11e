#!/usr/bin/env python
"""
A calculator that answers each message: routing by message, with replies.

::

    ws://localhost:8000/    {"type": "add", "id": 1, "a": 2, "b": 3}
                            gets {"id": 1, "result": 5}

A message that can't be served gets an error message, and the connection
lives on: ``{"type": "divide", "a": 1, "b": 0}`` gets an internal error.

"""

from typing import Any

from wsroute import App, Connection, MessageRouter

app = App()
calculator = MessageRouter("calculator")


@calculator.on("add")
async def add(ws: Connection, message: dict[str, Any]) -> Any:
    return message["a"] + message["b"]


@calculator.on("divide")
async def divide(ws: Connection, message: dict[str, Any]) -> Any:
    return message["a"] / message["b"]


app.add_route("/", calculator)


if __name__ == "__main__":
    app.run()
