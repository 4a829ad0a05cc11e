"""
The application: routes and blueprints collected into one URL map.

:class:`App` only collects. Matching lives in :mod:`wsroute.routing` and
serving in :mod:`wsroute.server`; :meth:`App.serve` and :meth:`App.run` are
shortcuts to the latter.

"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from werkzeug.routing import BaseConverter, Map, Rule

from . import server
from .blueprints import Blueprint
from .exceptions import SetupError
from .http import HTTPHandler
from .lifecycle import ConnectionHook, ErrorHandler, ServerHook
from .limits import Limits
from .rooms import Rooms
from .routing import Route, build_url, check_rule, describe
from .scaffold import Scaffold

if TYPE_CHECKING:
    from websockets.asyncio.server import Server

__all__ = ["App"]

S = TypeVar("S", bound=ServerHook)
C = TypeVar("C", bound=ConnectionHook)
E = TypeVar("E", bound=ErrorHandler)
G = TypeVar("G", bound=HTTPHandler)


class App(Scaffold):
    """
    A WebSocket application: handlers routed by URL.

    ::

        app = App()

        @app.route("/echo")
        async def echo(ws):
            async for message in ws:
                await ws.send(message)

        app.run()

    Routes are checked as they are declared, and compiled into a werkzeug
    :class:`~werkzeug.routing.Map` once, when the app starts serving (or first
    builds a URL). From then on, the app's setup is finished: declaring more
    routes raises :exc:`~wsroute.SetupError`.

    Args:
        converters: Custom werkzeug converters by name, in addition to
            werkzeug's ``string``, ``int``, ``float``, ``path``, ``uuid`` and
            ``any``. Also available, until setup finishes, as
            :attr:`converters`.
        strict_slashes: Default of the routes' ``strict_slashes`` option.
        merge_slashes: Default of the routes' ``merge_slashes`` option.
        origins: Origins allowed to connect, beyond the server's own: strings
            such as ``"https://example.com"``, or compiled regular expressions
            that must match a whole ``Origin``. A browser's handshake whose
            ``Origin`` is neither the server's own nor allowed is refused with
            403; clients that send no ``Origin`` aren't browsers and are let
            through. Routes can allow more with their own ``origins``.
        rooms: The app's :class:`~wsroute.rooms.Rooms`; by default, rooms
            in this process. Also available as :attr:`rooms`.
        limits: The :class:`~wsroute.Limits` of the app's connections; by
            default, ``Limits()``. Routes can have their own. Also available
            as :attr:`limits`.

    Attributes:
        converters: The custom converters by name; add to it before the routes
            that use them.
        origins: The origins allowed beyond the server's own, as a list.
        rules: Every rule, in the order it was added; a blueprint's when the
            blueprint is registered.
        handshake_hooks: The app's handshake hooks, in the order they run.

    """

    def __init__(
        self,
        *,
        converters: Mapping[str, type[BaseConverter]] | None = None,
        strict_slashes: bool = True,
        merge_slashes: bool = True,
        origins: Sequence[str | re.Pattern[str]] = (),
        rooms: Rooms | None = None,
        limits: Limits | None = None,
    ) -> None:
        super().__init__()
        self.rooms = Rooms() if rooms is None else rooms
        self.limits = Limits() if limits is None else limits
        self.converters: dict[str, type[BaseConverter]] = dict(converters or {})
        self.origins = list(origins)
        self.startup_hooks: list[ServerHook] = []
        self.shutdown_hooks: list[ServerHook] = []
        self.connect_hooks: list[ConnectionHook] = []
        self.disconnect_hooks: list[ConnectionHook] = []
        self.error_handlers: dict[type[BaseException], ErrorHandler] = {}
        self.http_routes: dict[str, HTTPHandler] = {}
        self.strict_slashes = strict_slashes
        self.merge_slashes = merge_slashes
        #: Registered blueprints by the name their endpoints carry.
        self.blueprints: dict[str, Blueprint] = {}
        self._endpoints: dict[str, object] = {}
        self._url_map: Map | None = None

    def __repr__(self) -> str:
        return f"<App rules={len(self.rules)}>"

    def _record(self, rule: Rule) -> None:
        check_rule(rule, self.converters)
        if rule.endpoint is not None:
            # A handler, or for a redirect the rule itself, owns the endpoint.
            owner = rule.handler if isinstance(rule, Route) else rule
            known = self._endpoints.setdefault(rule.endpoint, owner)
            if known != owner:  # == also matches two accesses of one method
                raise SetupError(
                    f"rule {rule.rule!r}: endpoint {rule.endpoint!r} is already "
                    f"taken by {describe(known)}; choose another with endpoint=..."
                )
        self.rules.append(rule)

    def _check_setup(self, method: str) -> None:
        if self._url_map is not None:
            raise SetupError(
                f"can't call {method}: the app's URL map is already built, "
                f"because the app is serving or url_for() was called; declare "
                f"every route and blueprint before that"
            )

    def register_blueprint(
        self,
        blueprint: Blueprint,
        *,
        url_prefix: str | None = None,
        name: str | None = None,
    ) -> None:
        """
        Serve a blueprint's routes on this app.

        Each rule is copied under the URL prefix and its endpoint named
        ``name.endpoint``; then it's checked like a route declared on the app.

        Args:
            blueprint: The blueprint to register.
            url_prefix: Overrides the blueprint's own ``url_prefix``.
            name: Overrides the blueprint's name in endpoints, to register the
                same blueprint twice.

        Raises:
            SetupError: If a blueprint is already registered with that name, or
                if one of its routes is wrong for this app.

        """
        name = name or blueprint.name
        self._check_setup(f"register_blueprint({name!r})")
        if name in self.blueprints:
            raise SetupError(
                f"a blueprint named {name!r} is already registered; "
                f"pass name=... to register it again under another name"
            )
        prefix = blueprint.url_prefix if url_prefix is None else url_prefix
        count, endpoints = len(self.rules), dict(self._endpoints)
        try:
            for rule in blueprint.mounted(prefix, name):
                self._record(rule)
        except SetupError:
            # Leave the app as it was: all of the blueprint's rules, or none.
            del self.rules[count:]
            self._endpoints = endpoints
            raise
        self.blueprints[name] = blueprint

    def on_startup(self, hook: S) -> S:
        """
        Run ``hook()`` when a server of the app starts, before it listens.

        Use it as a decorator, or call it. Startup and shutdown hooks open and
        close what the app needs once per server, such as a database pool::

            @app.on_startup
            async def connect() -> None:
                db.pool = await create_pool()

        If a startup hook raises, the server doesn't start.

        """
        self._check_setup(f"on_startup({describe(hook)})")
        self.startup_hooks.append(hook)
        return hook

    def on_shutdown(self, hook: S) -> S:
        """Run ``hook()`` when a server of the app has closed; see on_startup()."""
        self._check_setup(f"on_shutdown({describe(hook)})")
        self.shutdown_hooks.append(hook)
        return hook

    def on_connect(self, hook: C) -> C:
        """
        Run ``hook(ws)`` when a connection opens, before its handler.

        Use it as a decorator, or call it. The hook runs inside the handler's
        error boundary: raising :exc:`~wsroute.CloseConnection` closes the
        connection with its code, and the handler doesn't run.

        """
        self._check_setup(f"on_connect({describe(hook)})")
        self.connect_hooks.append(hook)
        return hook

    def on_disconnect(self, hook: C) -> C:
        """
        Run ``hook(ws)`` when a connection has closed, whatever the reason.

        ``ws.close_code`` and ``ws.close_reason`` tell how it closed. An
        exception in the hook is logged.

        """
        self._check_setup(f"on_disconnect({describe(hook)})")
        self.disconnect_hooks.append(hook)
        return hook

    def error_handler(self, exc_type: type[BaseException]) -> Callable[[E], E]:
        """
        Decorate a function that says how to close on an exception.

        ::

            @app.error_handler(PermissionError)
            def forbidden(ws, exc):
                return CloseConnection(4003, "forbidden")

        When an exception escapes a handler, the error handler registered for
        its class, or for the nearest of its base classes, receives the
        connection and the exception. It returns a
        :exc:`~wsroute.CloseConnection` to close with that code and reason,
        and the exception isn't logged; or :obj:`None`, to treat it as a crash:
        logged, and 1011.

        """

        def decorator(handler: E) -> E:
            self.add_error_handler(exc_type, handler)
            return handler

        return decorator

    def add_error_handler(
        self, exc_type: type[BaseException], handler: ErrorHandler
    ) -> None:
        """Register an error handler; see :meth:`error_handler`."""
        self._check_setup(f"add_error_handler({exc_type.__name__})")
        self.error_handlers[exc_type] = handler

    def get(self, path: str) -> Callable[[G], G]:
        r"""
        Decorate a handler that answers plain HTTP GET requests for ``path``.

        ::

            @app.get("/health")
            def health(ws, request):
                return "ok\n"

        For a load balancer's health check, or the page of a demo; wsroute
        isn't an HTTP framework. The path is matched exactly, without
        converters, and only by requests that don't ask for a WebSocket. The
        handler, a function or a coroutine function, receives the connection
        and the request; it returns text, answered with 200 in
        ``text/plain``, or a response: see :func:`wsroute.http.page` for a
        file. It may raise a werkzeug HTTP exception; any other exception is
        logged and answered with 500. Handshake hooks and the Origin check
        don't apply: don't serve secrets this way.

        """

        def decorator(handler: G) -> G:
            self.add_http_route(path, handler)
            return handler

        return decorator

    def add_http_route(self, path: str, handler: HTTPHandler) -> None:
        """
        Answer plain HTTP GET requests for ``path``; see :meth:`get`.

        Raises:
            SetupError: If the path isn't a plain path starting with a slash,
                or already has a handler.

        """
        self._check_setup(f"add_http_route({path!r})")
        if not path.startswith("/") or any(char in path for char in "<>?#"):
            raise SetupError(
                f"HTTP route {path!r} of {describe(handler)}: give a plain path "
                f"starting with '/', without converters or query"
            )
        if path in self.http_routes:
            raise SetupError(
                f"HTTP route {path!r} of {describe(handler)}: it's already served "
                f"by {describe(self.http_routes[path])}"
            )
        self.http_routes[path] = handler

    @property
    def url_map(self) -> Map:
        """The app's werkzeug map, compiled on first use; setup finishes then."""
        if self._url_map is None:
            for rule in self.rules:
                if isinstance(rule, Route):
                    rule.inherit(self.handshake_hooks, self.origins, self.limits)
            self._url_map = Map(
                self.rules,
                converters=self.converters,
                strict_slashes=self.strict_slashes,
                merge_slashes=self.merge_slashes,
            )
        return self._url_map

    def url_for(
        self,
        endpoint: str,
        /,
        *,
        _external: bool = False,
        _host: str | None = None,
        _scheme: str = "ws",
        **values: Any,
    ) -> str:
        """
        Build the URL of an endpoint.

        ::

            app.url_for("item", id=3)                # "/items/3"
            app.url_for("item", id=3, tag="new")     # "/items/3?tag=new"
            app.url_for("item", id=3, _external=True, _host="localhost:8000")
            # "ws://localhost:8000/items/3"

        In a handler, :meth:`Connection.url_for() <wsroute.Connection.url_for>`
        builds absolute URLs on the host the client connected to.

        Args:
            endpoint: Name of the route; ``blueprint.name`` for a blueprint's.
            _external: Build an absolute URL on ``_host``.
            _host: Host, and port if not the default, for an absolute URL.
            _scheme: Scheme of an absolute URL, ``"ws"`` or ``"wss"``.
            values: Values of the rule's parameters; others become query
                arguments.

        Raises:
            ValueError: If ``_external`` is set without ``_host``.
            werkzeug.routing.BuildError: If no rule of the endpoint accepts
                these values.

        """
        if _external and not _host:
            raise ValueError(
                "url_for(..., _external=True) needs the host clients connect to, "
                "such as _host='example.com:8000'; in a handler, ws.url_for() "
                "uses the host of the request"
            )
        host = _host if _external else None
        return build_url(self.url_map, endpoint, values, host=host, scheme=_scheme)

    def serve(
        self, host: str | None = None, port: int | None = None, **options: Any
    ) -> AbstractAsyncContextManager[Server]:
        """
        Serve this app while a block runs; see :func:`wsroute.server.serve`.

        ::

            async with app.serve("localhost", 8000) as server:
                await stop

        """
        return server.serve(self, host, port, **options)

    def run(
        self, host: str | None = "localhost", port: int | None = 8000, **options: Any
    ) -> None:
        """Serve this app until SIGINT or SIGTERM; see :func:`wsroute.server.run`."""
        server.run(self, host, port, **options)
