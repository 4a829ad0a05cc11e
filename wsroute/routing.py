"""
Routing: from a request target to a handler, on werkzeug.

:class:`Route` is a :class:`werkzeug.routing.Rule` that also carries its
handler. An app records routes as they are declared; when it starts serving,
it compiles them into one :class:`~werkzeug.routing.Map`, and each server binds
that map once. :meth:`Router.match` then turns the target of each handshake
request into the matched route and its converted parameters, or raises one of
werkzeug's HTTP exceptions (404, a redirect, 400), which the server answers
before the WebSocket opens.

This module does no I/O: it can be used and tested without a socket.

"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, TypeAlias, cast
from urllib.parse import unquote, urlsplit, urlunsplit

from websockets.http11 import Request, Response
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import BaseConverter, Map, RequestRedirect, Rule

from .exceptions import SetupError
from .limits import Limits

if TYPE_CHECKING:
    from .connection import Connection

__all__ = [
    "Handler",
    "HandshakeHook",
    "Route",
    "Router",
    "build_url",
    "check_rule",
    "make_rule",
]

Handler: TypeAlias = Callable[Concatenate["Connection", ...], Awaitable[None]]
"""A connection handler, a coroutine function taking the connection first,
then the rule's parameters as keyword arguments."""

HandshakeHook: TypeAlias = Callable[
    ["Connection", Request], Awaitable[Response | None] | Response | None
]
"""A handshake hook, a function or coroutine function taking the connection
and the handshake request, returning :obj:`None` to let the handshake go on,
or a response to answer instead."""

Converters: TypeAlias = Mapping[str, type[BaseConverter]]


class Route(Rule):
    """
    A werkzeug :class:`~werkzeug.routing.Rule` that knows its handler.

    Apps and blueprints create routes in :meth:`~wsroute.App.add_route`; you
    rarely build one yourself. Every keyword argument of
    :class:`~werkzeug.routing.Rule` is accepted, and ``websocket`` is always
    true.

    Args:
        string: The rule, such as ``"/items/<int:id>"``.
        handler: The coroutine function serving connections on this rule.
        hooks: Handshake hooks of this route only, run last.
        skip_hooks: Hooks of the app or the blueprint this route opts out of.
        origins: Origins allowed on this route, beyond the app's.
        limits: This route's :class:`~wsroute.Limits`, instead of the app's.
        inherited_hooks: Handshake hooks of the blueprint the route belongs
            to, set when the blueprint is registered.
        options: Any other argument of :class:`~werkzeug.routing.Rule`.

    Attributes:
        handshake_hooks: Every handshake hook of the route, in the order they
            run: the app's, the blueprint's, then the route's own, less those
            it skips. Set when the app's setup finishes.
        origins: Origins allowed on the route: the app's and its own. Set when
            the app's setup finishes.
        limits: The route's limits: its own, or else the app's. Set when the
            app's setup finishes.

    """

    def __init__(
        self,
        string: str,
        handler: Handler,
        *,
        hooks: Sequence[HandshakeHook] = (),
        skip_hooks: Sequence[HandshakeHook] = (),
        origins: Sequence[str | re.Pattern[str]] = (),
        limits: Limits | None = None,
        inherited_hooks: Sequence[HandshakeHook] = (),
        **options: Any,
    ) -> None:
        super().__init__(string, websocket=True, **options)
        self.handler = handler
        self.hooks = tuple(hooks)
        self.skip_hooks = tuple(skip_hooks)
        self.own_origins = tuple(origins)
        self.inherited_hooks = tuple(inherited_hooks)
        kept = [hook for hook in self.inherited_hooks if hook not in self.skip_hooks]
        self.handshake_hooks: tuple[HandshakeHook, ...] = (*kept, *self.hooks)
        self.origins: tuple[str | re.Pattern[str], ...] = self.own_origins
        self.own_limits = limits
        self.limits = Limits() if limits is None else limits

    def inherit(
        self,
        app_hooks: Sequence[HandshakeHook],
        app_origins: Sequence[str | re.Pattern[str]],
        app_limits: Limits,
    ) -> None:
        """
        Settle the route's hooks, origins and limits, given the app's.

        Raises:
            SetupError: If the route skips a hook that it doesn't inherit.

        """
        inherited = (*app_hooks, *self.inherited_hooks)
        unknown = [hook for hook in self.skip_hooks if hook not in inherited]
        if unknown:
            raise SetupError(
                f"rule {self.rule!r} of {describe(self.handler)}: skip_hooks "
                f"names {', '.join(map(describe, unknown))}, which neither the "
                f"app nor the blueprint runs"
            )
        kept = [hook for hook in inherited if hook not in self.skip_hooks]
        self.handshake_hooks = (*kept, *self.hooks)
        self.origins = (*app_origins, *self.own_origins)
        self.limits = app_limits if self.own_limits is None else self.own_limits


def make_rule(string: str, handler: Handler | None, **options: Any) -> Rule:
    """
    Create a :class:`Route` for a handler, or a plain rule that redirects.

    Raises:
        SetupError: If werkzeug refuses the rule, such as one that doesn't
            start with a slash.

    """
    try:
        if handler is None:
            return Rule(string, websocket=True, **options)
        return Route(string, handler, **options)
    except ValueError as exc:
        where = f"rule {string!r}" + (f" of {describe(handler)}" if handler else "")
        raise SetupError(f"{where}: {exc}") from None


def describe(handler: object) -> str:
    """
    Name a handler in error messages and logs: ``module.qualname``.

    An object without a qualified name is shown by its ``repr()``, except a
    :func:`functools.partial`, whose arguments may be secrets: it's shown as
    ``partial(module.qualname)``.

    """
    if isinstance(handler, functools.partial):
        return f"partial({describe(handler.func)})"
    name = getattr(handler, "__qualname__", None)
    if name is None:
        return repr(handler)
    return f"{getattr(handler, '__module__', '?')}.{name}"


def check_rule(rule: Rule, converters: Converters) -> None:
    """
    Check a rule before it joins an app: well-formed, and served or redirected.

    The rule is compiled in a scratch map with the app's converters, which
    catches malformed rules, unknown converters and bad converter arguments.
    Then, for a route, the handler's signature is bound to the connection and
    the rule's parameters, which catches a handler that misses one or doesn't
    expect one; for a redirect to a rule such as ``"/items/<id>"``, every
    parameter of the target must be one of the rule's.

    Raises:
        SetupError: Naming the rule and the handler at fault.

    """
    probe = Rule(rule.rule, defaults=rule.defaults)
    handler = rule.handler if isinstance(rule, Route) else None
    where = f"rule {rule.rule!r}" + (f" of {describe(handler)}" if handler else "")
    try:
        Map([probe], converters=converters)
    except LookupError as exc:
        raise SetupError(
            f"{where}: {exc}; register custom converters with "
            f"App(converters=...) before adding the routes that use them"
        ) from None
    except Exception as exc:  # ValueError, TypeError, SyntaxError...
        raise SetupError(f"{where}: {exc}") from None
    arguments = sorted(probe.arguments)

    if isinstance(rule.redirect_to, str):
        missing = set(REDIRECT_PARAMETER.findall(rule.redirect_to)) - probe.arguments
        if missing:
            raise SetupError(
                f"{where}: redirect_to={rule.redirect_to!r} uses "
                f"{', '.join(sorted(missing))}, which the rule doesn't capture; "
                f"it captures: {', '.join(arguments) or 'nothing'}"
            )
    if handler is None:
        return

    signature = inspect.signature(handler)
    try:
        signature.bind(None, **dict.fromkeys(arguments))
    except TypeError as exc:
        raise SetupError(
            f"{where}: the handler can't be called with the rule's parameters "
            f"({exc}): it takes {parameters(signature)} but receives "
            f"({', '.join(['ws', *arguments])})"
        ) from None


# The parameters of a redirect_to target, as werkzeug fills them in.
REDIRECT_PARAMETER = re.compile(r"<([^>]+)>")

# Where the Host header of the request goes in redirects, if no server_name.
UNKNOWN_HOST = "host.invalid"


def parameters(signature: inspect.Signature) -> str:
    """Show a signature without annotations and defaults: ``(ws, id, *args)``."""
    bare = [
        parameter.replace(annotation=parameter.empty, default=parameter.empty)
        for parameter in signature.parameters.values()
    ]
    return str(signature.replace(parameters=bare, return_annotation=signature.empty))


class Router:
    """
    Match handshake requests against a compiled URL map.

    One router serves one server: it binds the map once, here, rather than on
    every handshake.

    Args:
        url_map: The app's compiled map.
        server_name: Name of the server as seen by clients, used in redirects.
            If :obj:`None`, redirects use the request's ``Host`` header.
        url_scheme: ``"ws"``, or ``"wss"`` when clients connect over TLS.

    """

    def __init__(
        self,
        url_map: Map,
        *,
        server_name: str | None = None,
        url_scheme: str = "ws",
    ) -> None:
        self.url_map = url_map
        self.server_name = server_name
        self.url_scheme = url_scheme
        self.adapter = url_map.bind(server_name or UNKNOWN_HOST, url_scheme=url_scheme)
        # Rules without parameters, by path: werkzeug always answers the same
        # for the same path, so its answer for these is looked up in a dict.
        self.static: dict[str, Route] = {}
        for rule in url_map.iter_rules():
            if isinstance(rule, Route) and not rule.arguments:
                with contextlib.suppress(HTTPException):  # such as a redirect
                    if self.adapter.match(rule.rule, return_rule=True)[0] is rule:
                        self.static[rule.rule] = rule

    def match(self, target: str, host: str) -> tuple[Route, dict[str, Any]]:
        """
        Find the route for a request target such as ``/items/3?tag=new``.

        The path is percent-decoded exactly once before matching, so handlers
        receive ``été`` for ``%C3%A9t%C3%A9``. A path that doesn't decode to
        UTF-8, or that contains a NUL or a ``..`` segment, is refused.

        Args:
            target: The request target, as on the request line: a path, or an
                absolute URL as proxies send.
            host: The request's ``Host`` header, for the Location of redirects.

        Returns:
            The route and its parameters, converted and with defaults applied.

        Raises:
            werkzeug.exceptions.HTTPException: ``BadRequest`` (400) for an
                unsafe path, ``NotFound`` (404) when nothing matches,
                ``RequestRedirect`` (308) for a redirect.

        """
        path, _, query = target.partition("?")
        if not path.startswith("/"):
            # The absolute form, ws://host/path, which proxies may send.
            try:
                parts = urlsplit(target)
            except ValueError:  # such as http://[::1/x
                parts = urlsplit("")
            if not (parts.scheme and parts.netloc):
                raise BadRequest("The request target must be a path or a URL.")
            path, query = parts.path or "/", parts.query
        try:
            path = unquote(path, errors="strict")
        except UnicodeDecodeError:
            raise BadRequest("The path isn't valid UTF-8 once decoded.") from None
        if "\x00" in path:
            raise BadRequest("The path contains a NUL character.")
        if ".." in path and ".." in path.split("/"):
            raise BadRequest("The path contains a '..' segment.")

        if path in self.static:
            return self.static[path], {}
        try:
            rule, params = self.adapter.match(path, query_args=query, return_rule=True)
        except RequestRedirect as redirect:
            if self.server_name is None:
                raise RequestRedirect(on_host(redirect.new_url, host)) from None
            raise
        # A rule without a handler has redirect_to set, so it never gets here.
        return cast(Route, rule), dict(params)


def on_host(url: str, host: str) -> str:
    """Put the host of a request in a URL that werkzeug built on UNKNOWN_HOST."""
    parts = urlsplit(url)
    if parts.netloc != UNKNOWN_HOST:  # an absolute redirect_to elsewhere
        return url
    return urlunsplit(parts._replace(netloc=host.lower()))


def build_url(
    url_map: Map,
    endpoint: str,
    values: Mapping[str, Any],
    *,
    host: str | None = None,
    scheme: str = "ws",
) -> str:
    """
    Build the URL of an endpoint: a path, or an absolute URL when given a host.

    Values that aren't parameters of the rule become query arguments.

    Raises:
        werkzeug.routing.BuildError: If no rule of the endpoint accepts the
            values; its message suggests what to change.

    """
    adapter = url_map.bind(host or "localhost", url_scheme=scheme)
    url = adapter.build(endpoint, values)
    if host is None:
        # werkzeug always builds WebSocket rules as absolute URLs.
        _, _, path, query, _ = urlsplit(url)
        url = urlunsplit(("", "", path, query, ""))
    return url
