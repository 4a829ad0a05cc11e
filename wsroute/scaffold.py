"""
What :class:`~wsroute.App` and :class:`~wsroute.Blueprint` have in common.

Both declare routes with the same decorator. The decorator only records: it
calls :meth:`Scaffold.add_route` and returns the handler unchanged. What
"record" means is the one thing that differs: an app keeps the route for its
URL map; a blueprint keeps it until it's registered on an app.

"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from werkzeug.routing import Rule

from .exceptions import SetupError
from .routing import Handler, describe, make_rule

__all__ = ["Scaffold"]

H = TypeVar("H", bound=Handler)


class Scaffold(ABC):
    """
    Base class for :class:`~wsroute.App` and :class:`~wsroute.Blueprint`.

    Subclasses implement :meth:`_record` and :meth:`_check_setup`.

    """

    def route(
        self,
        rule: str,
        *,
        endpoint: str | None = None,
        defaults: Mapping[str, Any] | None = None,
        strict_slashes: bool | None = None,
        merge_slashes: bool | None = None,
    ) -> Callable[[H], H]:
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
            self.add_route(
                rule,
                handler,
                endpoint=endpoint,
                defaults=defaults,
                strict_slashes=strict_slashes,
                merge_slashes=merge_slashes,
            )
            return handler

        return decorator

    def add_route(
        self,
        rule: str,
        handler: Handler | None = None,
        *,
        endpoint: str | None = None,
        defaults: Mapping[str, Any] | None = None,
        redirect_to: str | Callable[..., str] | None = None,
        strict_slashes: bool | None = None,
        merge_slashes: bool | None = None,
    ) -> None:
        """
        Serve connections on a URL rule with a handler, or redirect them.

        Args:
            rule: A werkzeug rule, such as ``"/items/<int:id>"``. Converted
                parameters reach the handler as keyword arguments.
            handler: A coroutine function that receives the
                :class:`~wsroute.Connection`, then the rule's parameters.
                Leave it out for a rule that only redirects.
            endpoint: Name of the route for :meth:`~wsroute.App.url_for`;
                the handler's name by default. On a blueprint, the
                blueprint's name and a dot are prepended.
            defaults: Values of parameters that the rule doesn't capture,
                passed to the handler like captured ones.
            redirect_to: Redirect clients elsewhere instead of serving them: a
                rule such as ``"/items/<id>"`` filled with this rule's
                parameters, or a callable building the URL, as in werkzeug.
            strict_slashes: Redirect ``/dir`` to ``/dir/`` when the rule ends
                with a slash (the default), or treat both alike.
            merge_slashes: Redirect ``/a//b`` to ``/a/b`` (the default).

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
        if handler is not None:
            if not inspect.iscoroutinefunction(handler):
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
        self._record(
            make_rule(
                rule,
                handler,
                endpoint=endpoint,
                defaults=defaults,
                redirect_to=redirect_to,
                strict_slashes=strict_slashes,
                merge_slashes=merge_slashes,
            )
        )

    @abstractmethod
    def _record(self, rule: Rule) -> None:
        """Keep a rule declared on this app or blueprint."""

    @abstractmethod
    def _check_setup(self, method: str) -> None:
        """Refuse to change the setup once it's in use."""
