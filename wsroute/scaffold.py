"""
What :class:`~wsroute.App` and :class:`~wsroute.Blueprint` have in common.

Both declare routes with the same decorator. The decorator only records: it
calls :meth:`Scaffold.add_route` and returns the handler unchanged. What
"record" means is the one thing that differs: an app keeps the route for its
URL map; a blueprint keeps it until it's registered on an app.

"""

from __future__ import annotations

import inspect
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from typing_extensions import Unpack
from werkzeug.routing import Rule

from .exceptions import SetupError
from .routing import Handler, HandshakeHook, describe, make_rule

if TYPE_CHECKING:
    from .limits import Limits

__all__ = ["Scaffold"]

H = TypeVar("H", bound=Handler)
K = TypeVar("K", bound=HandshakeHook)


class RouteOptions(TypedDict, total=False):
    """Options of :meth:`Scaffold.route` and :meth:`Scaffold.add_route`."""

    endpoint: str | None
    defaults: Mapping[str, Any] | None
    strict_slashes: bool | None
    merge_slashes: bool | None
    hooks: Sequence[HandshakeHook]
    skip_hooks: Sequence[HandshakeHook]
    origins: Sequence[str | re.Pattern[str]]
    limits: Limits | None


class Scaffold(ABC):
    """
    Base class for :class:`~wsroute.App` and :class:`~wsroute.Blueprint`.

    Subclasses implement :meth:`_record` and :meth:`_check_setup`.

    Attributes:
        rules: The rules declared here, in the order they were declared.
        handshake_hooks: The handshake hooks declared here, in order.

    """

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.handshake_hooks: list[HandshakeHook] = []

    def route(self, rule: str, **options: Unpack[RouteOptions]) -> Callable[[H], H]:
        """
        Decorate a handler to serve connections on a URL rule.

        ::

            @app.route("/items/<int:id>")
            async def item(ws, id):
                await ws.send_json({"id": id})

        The decorator takes the same arguments as :meth:`add_route`, except
        ``redirect_to``, and returns the handler unchanged. Stack it to serve
        several rules with one handler.

        """

        def decorator(handler: H) -> H:
            self.add_route(rule, handler, **options)
            return handler

        return decorator

    def add_route(
        self,
        rule: str,
        handler: Handler | None = None,
        *,
        redirect_to: str | Callable[..., str] | None = None,
        **options: Unpack[RouteOptions],
    ) -> None:
        """
        Serve connections on a URL rule with a handler, or redirect them.

        Args:
            rule: A werkzeug rule, such as ``"/items/<int:id>"``. Converted
                parameters reach the handler as keyword arguments.
            handler: A coroutine function that receives the
                :class:`~wsroute.Connection`, then the rule's parameters.
                Leave it out for a rule that only redirects.
            redirect_to: Redirect clients elsewhere instead of serving them: a
                rule such as ``"/items/<id>"`` filled with this rule's
                parameters, or a callable building the URL, as in werkzeug.
            endpoint: Name of the route for :meth:`~wsroute.App.url_for`;
                the handler's name by default. On a blueprint, the
                blueprint's name and a dot are prepended.
            defaults: Values of parameters that the rule doesn't capture,
                passed to the handler like captured ones.
            strict_slashes: Redirect ``/dir`` to ``/dir/`` when the rule ends
                with a slash (the default), or treat both alike.
            merge_slashes: Redirect ``/a//b`` to ``/a/b`` (the default).
            hooks: Handshake hooks for this route only; they run after the
                app's and the blueprint's.
            skip_hooks: Handshake hooks of the app or the blueprint that this
                route doesn't run, such as authentication on a public route.
            origins: Origins allowed to connect to this route, beyond the
                app's; see :class:`~wsroute.App`.
            limits: The :class:`~wsroute.Limits` of this route's
                connections, instead of the app's.

        Raises:
            SetupError: If the handler isn't a coroutine function or can't
                take the rule's parameters, if the rule is malformed or uses an
                unknown converter, if there is neither a handler nor a redirect
                (or both), if the endpoint name contains a dot or is taken, or
                if setup has finished. On a blueprint, the checks that depend
                on the app wait until the blueprint is registered.

        """
        self._check_setup(f"add_route({rule!r})")
        if (handler is None) == (redirect_to is None):
            raise SetupError(
                f"rule {rule!r}: pass either a handler to serve it "
                f"or redirect_to to redirect it, not both or neither"
            )
        endpoint = options.pop("endpoint", None)
        if handler is None:
            extra = sorted(set(options) & {"hooks", "skip_hooks", "origins", "limits"})
            if extra:
                raise SetupError(
                    f"rule {rule!r}: a rule that redirects opens no WebSocket, "
                    f"so it takes no {' nor '.join(extra)}"
                )
        else:
            if not (
                inspect.iscoroutinefunction(handler)
                or inspect.iscoroutinefunction(type(handler).__call__)
            ):
                raise SetupError(
                    f"rule {rule!r}: handler {describe(handler)} must be a "
                    f"coroutine function; define it with 'async def'"
                )
            if endpoint is None:
                endpoint = getattr(handler, "__name__", None)
                if endpoint is None:
                    raise SetupError(
                        f"rule {rule!r}: handler {describe(handler)} has no name "
                        f"to use as endpoint; pass endpoint=..."
                    )
        if endpoint is not None and "." in endpoint:
            raise SetupError(
                f"rule {rule!r}: endpoint {endpoint!r} can't contain a dot; "
                f"dots separate blueprint names from endpoint names"
            )
        options["endpoint"] = endpoint
        self._record(make_rule(rule, handler, redirect_to=redirect_to, **options))

    def before_handshake(self, hook: K) -> K:
        """
        Decorate a handshake hook, to run on every route declared here.

        ::

            @app.before_handshake
            async def authenticate(ws, request):
                ws.user = await users.by_token(request.headers.get("X-Token"))
                if ws.user is None:
                    raise werkzeug.exceptions.Forbidden()

        A hook runs after the request matched a route, before the WebSocket
        opens. It may be a function or a coroutine function. It receives the
        :class:`~wsroute.Connection`, whose ``path_params`` and ``query`` are
        set, and the handshake :class:`~websockets.http11.Request`. It returns
        :obj:`None` to let the handshake go on; to refuse it, it raises one of
        werkzeug's HTTP exceptions, such as
        :exc:`~werkzeug.exceptions.Forbidden`, or returns a response made with
        ``ws.respond(status, text)``. If it raises another exception, the
        exception is logged and the client gets 500.

        Hooks run in this order: the app's, the blueprint's, then the route's
        own (see ``hooks`` in :meth:`add_route`), each in the order declared.
        The decorator returns the hook unchanged.

        """
        self.add_handshake_hook(hook)
        return hook

    def add_handshake_hook(self, hook: HandshakeHook) -> None:
        """Add a handshake hook; see :meth:`before_handshake`."""
        self._check_setup(f"add_handshake_hook({describe(hook)})")
        self.handshake_hooks.append(hook)

    @abstractmethod
    def _record(self, rule: Rule) -> None:
        """Keep a rule declared on this app or blueprint."""

    @abstractmethod
    def _check_setup(self, method: str) -> None:
        """Refuse to change the setup once it's in use."""
