"""
Blueprints: groups of routes declared apart from the app.

A blueprint records routes exactly like an app does, but never touches a URL
map: :meth:`~wsroute.App.register_blueprint` replays copies of its routes on
the app, under the blueprint's URL prefix and with endpoints named
``blueprint.name``. The same blueprint can be registered on several apps.

"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule

from .exceptions import SetupError
from .routing import Route, make_rule
from .scaffold import Scaffold

__all__ = ["Blueprint"]


class Blueprint(Scaffold):
    """
    A group of routes to register on an app under a common prefix.

    ::

        api = Blueprint("api", url_prefix="/api")

        @api.route("/items/<int:id>")
        async def item(ws, id):
            ...

        app.register_blueprint(api)  # serves /api/items/3 as "api.item"

    Args:
        name: Prefix of the blueprint's endpoint names; it can't contain a dot.
        url_prefix: Path prepended to every rule of the blueprint, such as
            ``"/api"``. :meth:`~wsroute.App.register_blueprint` can override it.

    """

    def __init__(self, name: str, url_prefix: str | None = None) -> None:
        super().__init__()
        check_name(name)
        self.name = name
        self.url_prefix = url_prefix
        self._registered = False

    def __repr__(self) -> str:
        return f"<Blueprint {self.name!r}>"

    def _record(self, rule: Rule) -> None:
        self.rules.append(rule)

    def mounted(self, url_prefix: str | None, name: str) -> list[Rule]:
        """
        Copy the blueprint's rules for an app, under a prefix and a name.

        Each copy's rule, and its ``redirect_to`` target if it's a rule, start
        with ``url_prefix``; its endpoint is ``name.endpoint``; a route
        inherits the blueprint's handshake hooks. From then on, the blueprint
        takes no more routes: the app has its copies.

        """
        check_name(name)
        self._registered = True
        return [self._copy(rule, url_prefix, name) for rule in self.rules]

    def _copy(self, rule: Rule, url_prefix: str | None, name: str) -> Rule:
        """Copy one rule for :meth:`mounted`."""
        options: dict[str, Any] = {
            "endpoint": None if rule.endpoint is None else f"{name}.{rule.endpoint}",
            "defaults": rule.defaults,
            "strict_slashes": rule.strict_slashes,
            "merge_slashes": rule.merge_slashes,
        }
        if isinstance(rule.redirect_to, str):
            options["redirect_to"] = prefixed(url_prefix, rule.redirect_to)
        else:
            options["redirect_to"] = rule.redirect_to
        handler = None
        if isinstance(rule, Route):
            handler = rule.handler
            options.update(
                hooks=rule.hooks,
                skip_hooks=rule.skip_hooks,
                origins=rule.own_origins,
                limits=rule.own_limits,
                inherited_hooks=self.handshake_hooks,
            )
        return make_rule(prefixed(url_prefix, rule.rule), handler, **options)

    def _check_setup(self, method: str) -> None:
        if self._registered:
            raise SetupError(
                f"can't call {method} on blueprint {self.name!r}: it's already "
                f"registered on an app, which copied its routes; declare every "
                f"route before calling register_blueprint()"
            )


def check_name(name: str) -> None:
    """Refuse a blueprint name that's empty or holds a dot."""
    if not name or "." in name:
        raise SetupError(
            f"blueprint name {name!r} must be non-empty and contain no dot"
        )


def prefixed(url_prefix: str | None, rule: str) -> str:
    """Put a URL prefix in front of a rule: ``/api`` + ``/items`` = ``/api/items``."""
    if not url_prefix:
        return rule
    return "/".join((url_prefix.rstrip("/"), rule.lstrip("/")))
