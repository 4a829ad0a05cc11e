"""
wsroute: a decorator-based WebSocket framework.

wsroute routes WebSocket connections to handlers by URL, with werkzeug's
routing, and serves them with websockets::

    from wsroute import App

    app = App()

    @app.route("/items/<int:id>")
    async def item(ws, id):
        await ws.send_json({"id": id})

    app.run()

"""

from .app import App
from .blueprints import Blueprint
from .connection import Connection
from .dispatch import FirstMessageRouter, MessageRouter
from .exceptions import (
    CloseConnection,
    InvalidJSON,
    InvalidMessage,
    SetupError,
    WsrouteError,
)
from .limits import Limits
from .rooms import Rooms
from .routing import Handler, HandshakeHook, Route

__all__ = [
    "App",
    "Blueprint",
    "CloseConnection",
    "Connection",
    "FirstMessageRouter",
    "Handler",
    "HandshakeHook",
    "InvalidJSON",
    "InvalidMessage",
    "Limits",
    "MessageRouter",
    "Rooms",
    "Route",
    "SetupError",
    "WsrouteError",
    "__version__",
]

__version__ = "0.1.0"
