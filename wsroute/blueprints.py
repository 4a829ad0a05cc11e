"""
Blueprints: groups of routes declared apart from the app.

A blueprint records routes exactly like an app does, but never touches a URL
map: :meth:`~wsroute.App.register_blueprint` replays its routes on the app,
under the blueprint's URL prefix and with endpoints named ``blueprint.name``.
The same blueprint can be registered on several apps.

"""

from __future__ import annotations

from werkzeug.routing import Rule

from .exceptions import SetupError
from .routing import Route
from .scaffold import Scaffold

__all__ = ["Blueprint", "mount"]


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
        if not name or "." in name:
            raise SetupError(
                f"blueprint name {name!r} must be non-empty and contain no dot"
            )
        self.name = name
        self.url_prefix = url_prefix
        self.rules: list[Rule] = []
        self._registered = False

    def __repr__(self) -> str:
        return f"<Blueprint {self.name!r}>"

    def _record(self, rule: Rule) -> None:
        self.rules.append(rule)

    def _check_setup(self, method: str) -> None:
        if self._registered:
            raise SetupError(
                f"can't call {method} on blueprint {self.name!r}: it's already "
                f"registered on an app, which copied its routes; declare every "
                f"route before calling register_blueprint()"
            )


def mount(rule: Rule, prefix: str | None, name: str) -> Rule:
    """Copy a blueprint's rule under a URL prefix and a blueprint name."""
    string = rule.rule
    if prefix:
        string = "/".join((prefix.rstrip("/"), string.lstrip("/")))
    options = {**rule.get_empty_kwargs(), "merge_slashes": rule.merge_slashes}
    if rule.endpoint is not None:
        options["endpoint"] = f"{name}.{rule.endpoint}"
    if isinstance(rule, Route):
        return Route(string, rule.handler, **options)
    return Rule(string, websocket=True, **options)
