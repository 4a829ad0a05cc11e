"""
The servers that benchmarks/run.py compares, one function each.

Each function serves the same rules (see :func:`rules`): sections that the
measured paths come after, then ``/echo`` and ``/items/<int:id>``, where a
handler echoes every message back; any other path gets 404. Each one binds
a free port on 127.0.0.1, prints it, and serves until SIGTERM. run.py calls
them in a process of their own, pinned to core 0, on the default asyncio
loop unless the kind ends with ``+uvloop``.

The peers are imported inside their function: they belong to the ``bench``
dependency group, which ``python3 tasks.py test`` doesn't install.

"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from harness import serve_until_terminated
from websockets.asyncio.server import ServerConnection, broadcast, serve
from werkzeug.exceptions import NotFound
from werkzeug.routing import Map, Rule

HOST = "127.0.0.1"


def unreached_limits() -> Any:
    """
    Return wsroute's limits with a message rate no load generator reaches.

    Each connection of the echo workloads sends thousands of messages per
    second, over the default rate of 100: this keeps the rate limit's check
    on every message, and its cost in the figures, without closing anyone.

    """
    from wsroute import Limits

    return Limits(rate=1e9, burst=10**9)


def rules(count: int) -> list[str]:
    """
    Return ``count`` rules, werkzeug's syntax, the measured ones last.

    Every rule but the last two has a parameter, like the last one, so that
    a router which tries rules in order tries them all before the measured
    ones.

    """
    sections = [f"/section{number}/<int:id>" for number in range(count - 2)]
    return [*sections, "/echo", "/items/<int:id>"]


async def echo(ws: ServerConnection, **params: object) -> None:
    """Send back each message: the handler of every rule on websockets."""
    async for message in ws:
        await ws.send(message)


async def raw(count: int) -> None:
    """
    Serve raw websockets: one handler, no routing at all.

    It's the floor that routed servers are measured against: it accepts any
    path, so it can't answer 404; run.py measures 404 answers with
    :func:`raw_not_found` instead.

    """
    await serve_until_terminated(serve(echo, HOST, 0, compression=None))


async def raw_not_found(count: int) -> None:
    """Serve raw websockets that answer 404 to every handshake: that floor."""

    def not_found(ws: ServerConnection, request: object) -> Any:
        return ws.respond(404, "Not Found\n")

    server = serve(echo, HOST, 0, compression=None, process_request=not_found)
    await serve_until_terminated(server)


async def route(count: int) -> None:
    """Serve websockets' own router, ``route()``, on a werkzeug Map."""
    from websockets.asyncio.router import route

    url_map = Map([Rule(rule, endpoint=echo) for rule in rules(count)])
    await serve_until_terminated(route(url_map, HOST, 0, compression=None))


async def wsroute(count: int) -> None:
    """Serve a wsroute app."""
    from wsroute import App

    app = App(limits=unreached_limits())
    for number, rule in enumerate(rules(count)):
        app.add_route(rule, echo, endpoint=f"rule{number}")
    await serve_until_terminated(app.serve(HOST, 0, compression=None))


async def raw_json(count: int) -> None:
    """
    Serve raw websockets with a hand-written JSON dispatch loop.

    It's the floor of routing by message: ``json.loads``, then ``if`` and
    ``elif`` on the message's type, among four types.

    """

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            request = json.loads(message)
            kind = request["type"]
            if kind == "add":
                result = request["a"] + request["b"]
            elif kind == "sub":
                result = request["a"] - request["b"]
            elif kind == "mul":
                result = request["a"] * request["b"]
            elif kind == "neg":
                result = -request["a"]
            else:
                await ws.send(json.dumps({"error": "unknown type"}))
                continue
            await ws.send(json.dumps({"id": request["id"], "result": result}))

    await serve_until_terminated(serve(handler, HOST, 0, compression=None))


async def wsroute_json(count: int) -> None:
    """Serve a wsroute app that routes each message with a MessageRouter."""
    from wsroute import App, Connection, MessageRouter

    rpc = MessageRouter("rpc")

    @rpc.on("add")
    async def add(ws: Connection, request: dict[str, Any]) -> Any:
        return request["a"] + request["b"]

    @rpc.on("sub")
    async def sub(ws: Connection, request: dict[str, Any]) -> Any:
        return request["a"] - request["b"]

    @rpc.on("mul")
    async def mul(ws: Connection, request: dict[str, Any]) -> Any:
        return request["a"] * request["b"]

    @rpc.on("neg")
    async def neg(ws: Connection, request: dict[str, Any]) -> Any:
        return -request["a"]

    app = App(limits=unreached_limits())
    for number, rule in enumerate(rules(count)):
        app.add_route(rule, echo, endpoint=f"rule{number}")
    app.add_route("/rpc", rpc)
    await serve_until_terminated(app.serve(HOST, 0, compression=None))


async def raw_fanout(count: int) -> None:
    """
    Serve raw websockets that send each published message to every member.

    It's the floor of fan-out: a set of connections and websockets'
    ``broadcast()``. Members connect to ``/room``, the publisher to
    ``/publish``.

    """
    members: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        if ws.request.path == "/room":
            members.add(ws)
            try:
                await ws.wait_closed()
            finally:
                members.discard(ws)
        else:
            async for message in ws:
                broadcast(members, message)

    await serve_until_terminated(serve(handler, HOST, 0, compression=None))


async def wsroute_fanout(count: int, redis_url: str | None = None) -> None:
    """
    Serve a wsroute app that publishes each message to a room's members.

    With ``redis_url``, rooms are shared through that Redis, as fanout.py
    measures with two such servers.

    """
    from wsroute import App, Connection, Rooms

    rooms = Rooms()
    if redis_url is not None:
        from wsroute.redis import RedisRooms  # needs the redis extra

        rooms = RedisRooms(redis_url)
    app = App(rooms=rooms, limits=unreached_limits())

    @app.route("/room")
    async def room(ws: Connection) -> None:
        ws.join("room")
        await ws.wait_closed()

    @app.route("/publish")
    async def publish(ws: Connection) -> None:
        async for message in ws:
            app.rooms.publish("room", message)

    await serve_until_terminated(app.serve(HOST, 0, compression=None))


async def starlette(count: int) -> None:
    """
    Serve a Starlette app on uvicorn, with the protocols uvicorn picks.

    Starlette closes a WebSocket without a route before accepting it, which
    uvicorn answers with 403: a last rule that matches any path sends 404
    instead, as a denial response. uvicorn 0.54 then logs "ASGI callable
    returned without completing handshake" at ERROR, although it sent the
    answer: the log level is CRITICAL not to measure that line's output.

    """
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])

    async def not_found(websocket: WebSocket) -> None:
        response = PlainTextResponse("Not Found\n", status_code=404)
        await websocket.send_denial_response(response)

    paths = [rule.replace("<int:id>", "{id:int}") for rule in rules(count)]
    routes = [WebSocketRoute(path, echo) for path in paths]
    routes.append(WebSocketRoute("/{path:path}", not_found))
    app = Starlette(routes=routes)
    config = uvicorn.Config(app, loop="none", log_level="critical", access_log=False)
    listening = socket.create_server((HOST, 0))
    print(listening.getsockname()[1], flush=True)
    # uvicorn stops on SIGTERM by itself.
    await uvicorn.Server(config).serve(sockets=[listening])


async def aiohttp(count: int) -> None:
    """Serve an aiohttp app, which answers 404 by itself."""
    from aiohttp import WSMsgType, web

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        return ws

    app = web.Application()
    for rule in rules(count):
        app.router.add_get(rule.replace("<int:id>", r"{id:\d+}"), echo)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await terminated()
    await runner.cleanup()


async def picows(count: int) -> None:
    """
    Serve picows, the fastest WebSocket server for asyncio that we know.

    picows has no router: its listener factory sees each request and picks a
    listener, or None for 404. The closest honest thing is what a user would
    write there: match the path against the same rules with a werkzeug Map,
    bound once. picows handles frames, not messages; the load generator
    sends each message in one frame. picows uses aiofastnet, its faster
    transport on the same asyncio loop, as it does by default when installed.

    """
    from picows import (
        WSFrame,
        WSListener,
        WSMsgType,
        WSTransport,
        WSUpgradeRequest,
        ws_create_server,
    )

    class Echo(WSListener):
        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()
            elif frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
                transport.send(frame.msg_type, frame.get_payload_as_bytes())

    adapter = Map([Rule(rule, endpoint="echo") for rule in rules(count)]).bind("")

    def listener(request: WSUpgradeRequest) -> WSListener | None:
        try:
            adapter.match(request.path.decode())
        except NotFound:
            return None
        return Echo()

    await serve_until_terminated(await ws_create_server(listener, HOST, 0))


async def terminated() -> None:
    """Return when this process receives SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


SERVERS: dict[str, Callable[[int], Coroutine[Any, Any, None]]] = {
    "raw": raw,
    "raw-404": raw_not_found,
    "raw-json": raw_json,
    "raw-fanout": raw_fanout,
    "route": route,
    "wsroute": wsroute,
    "wsroute-json": wsroute_json,
    "wsroute-fanout": wsroute_fanout,
    "starlette": starlette,
    "aiohttp": aiohttp,
    "picows": picows,
}


def run(kind: str, count: int) -> None:
    """Serve one kind of server with ``count`` rules until SIGTERM."""
    name, _, loop = kind.partition("+")
    if loop == "uvloop":
        import uvloop

        uvloop.run(SERVERS[name](count))
    else:
        asyncio.run(SERVERS[name](count))
