"""Tests of wsroute.app and wsroute.blueprints: declaring routes."""

from __future__ import annotations

import datetime
import functools
import re
import zoneinfo

import pytest
from werkzeug.routing import BuildError

import wsroute
from examples import clock
from wsroute import App, Blueprint, Connection, Route, SetupError


async def echo(ws: Connection) -> None: ...


async def item(ws: Connection, id: int) -> None: ...


def test_version() -> None:
    """The version is exposed."""
    assert wsroute.__version__ == "0.1.0"


def test_route_records_a_route_and_returns_the_handler() -> None:
    """The decorator only records, and returns the function unchanged."""
    app = App()
    assert app.route("/items/<int:id>")(item) is item
    [route] = app.rules
    assert isinstance(route, Route)
    assert (route.rule, route.endpoint, route.handler) == (
        "/items/<int:id>",
        "item",
        item,
    )


def test_endpoint_can_be_named() -> None:
    """endpoint= names the route."""
    app = App()
    app.add_route("/e", echo, endpoint="other")
    assert app.url_for("other") == "/e"


def test_handler_must_be_a_coroutine_function() -> None:
    """A plain function is refused, naming the rule and the function."""
    app = App()

    def sync(ws: Connection) -> None: ...

    with pytest.raises(
        SetupError, match=r"rule '/s': handler .*sync must be a coroutine"
    ):
        app.add_route("/s", sync)  # type: ignore[arg-type]


def test_handler_must_accept_rule_parameters() -> None:
    """A handler that can't take the rule's parameters fails at registration."""
    app = App()
    with pytest.raises(SetupError, match=r"rule '/items/<int:id>' of .*echo"):
        app.add_route("/items/<int:id>", echo)
    assert app.rules == []


def test_two_handlers_cannot_share_an_endpoint() -> None:
    """Two handlers with one endpoint name fail, naming both."""
    app = App()
    app.add_route("/a", echo)
    with pytest.raises(SetupError, match=r"endpoint 'echo' is already taken by .*echo"):
        app.add_route("/b/<int:id>", item, endpoint="echo")


def test_one_handler_can_serve_several_rules() -> None:
    """Stacked decorators share the endpoint of one handler."""
    app = App()
    app.route("/items", defaults={"id": 0})(app.route("/items/<int:id>")(item))
    assert app.url_for("item") == "/items"
    assert app.url_for("item", id=3) == "/items/3"


def test_handler_without_a_name_needs_an_endpoint() -> None:
    """A partial has no __name__: endpoint= is required, and then it works."""
    app = App()
    handler = functools.partial(item, id=3)
    with pytest.raises(SetupError, match=r"has no name .* pass endpoint=\.\.\."):
        app.add_route("/three", handler)
    app.add_route("/three", handler, endpoint="three")
    assert app.url_for("three") == "/three"


def test_a_bound_method_can_serve_several_rules() -> None:
    """Two accesses of one method are one handler."""

    class Chat:
        async def room(self, ws: Connection, name: str = "lobby") -> None: ...

    app, chat = App(), Chat()
    app.add_route("/room/<name>", chat.room)
    app.add_route("/room", chat.room)
    assert app.url_for("room") == "/room"


def test_a_redirect_cannot_take_an_endpoint() -> None:
    """A redirect rule and a route can't share an endpoint, either way."""
    app = App()
    app.add_route("/old", redirect_to="/echo", endpoint="echo")
    with pytest.raises(SetupError, match=r"endpoint 'echo' is already taken by <Rule"):
        app.add_route("/echo", echo)
    app = App()
    app.add_route("/echo", echo)
    with pytest.raises(SetupError, match=r"endpoint 'echo' is already taken by .*echo"):
        app.add_route("/old", redirect_to="/echo", endpoint="echo")


def test_rule_must_start_with_a_slash() -> None:
    """Werkzeug's complaint becomes a SetupError naming the handler."""
    with pytest.raises(SetupError, match=r"rule 'items' of .*echo: URL rule"):
        App().add_route("items", echo)


def test_endpoint_cannot_contain_a_dot() -> None:
    """Dots are reserved for blueprints."""
    with pytest.raises(SetupError, match="can't contain a dot"):
        App().add_route("/a", echo, endpoint="a.b")


@pytest.mark.parametrize("redirect_to", [None, "/b"])
def test_route_needs_a_handler_or_a_redirect(redirect_to: str | None) -> None:
    """A rule has a handler or a redirect, never both or neither."""
    handler = echo if redirect_to else None
    with pytest.raises(SetupError, match=r"either a handler .* or redirect_to"):
        App().add_route("/a", handler, redirect_to=redirect_to)


def test_redirect_rule_is_checked_too() -> None:
    """A malformed redirect rule fails at registration."""
    with pytest.raises(SetupError, match=r"rule '/a/<b': malformed"):
        App().add_route("/a/<b", redirect_to="/b")


def test_setup_finishes_when_the_map_is_built() -> None:
    """Declaring a route once the map is built is refused, saying why."""
    app = App()
    app.add_route("/a", echo)
    app.url_for("echo")
    with pytest.raises(SetupError, match="URL map is already built"):
        app.add_route("/b", item)
    with pytest.raises(SetupError, match="URL map is already built"):
        app.register_blueprint(Blueprint("bp"))


def test_url_for() -> None:
    """url_for builds paths, query strings and absolute URLs."""
    app = App()
    app.add_route("/items/<int:id>", item)
    assert app.url_for("item", id=3) == "/items/3"
    assert app.url_for("item", id=3, tag=["a", "b"]) == "/items/3?tag=a&tag=b"
    assert (
        app.url_for("item", id=3, _external=True, _host="localhost:8000")
        == "ws://localhost:8000/items/3"
    )
    assert (
        app.url_for("item", id=3, _external=True, _host="example.com", _scheme="wss")
        == "wss://example.com/items/3"
    )


def test_url_for_external_needs_a_host() -> None:
    """An absolute URL without a host is refused with the fix."""
    app = App()
    app.add_route("/e", echo)
    with pytest.raises(ValueError, match=re.escape("_host='example.com:8000'")):
        app.url_for("echo", _external=True)
    with pytest.raises(ValueError, match="needs the host"):
        app.url_for("echo", _external=True, _host="")


def test_url_for_unknown_endpoint() -> None:
    """Werkzeug's BuildError comes through."""
    app = App()
    app.add_route("/e", echo)
    with pytest.raises(BuildError):
        app.url_for("missing")


def test_custom_converters() -> None:
    """Converters given to the app build and match URLs."""
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    at = datetime.datetime(2030, 1, 1, 8)
    assert clock.app.url_for("clock", tz=paris) == "/clock/Europe/Paris"
    assert (
        clock.app.url_for("alarm", at=at, tz=paris)
        == "/alarm/2030-01-01T08:00:00/Europe/Paris"
    )
    assert (
        clock.app.url_for("timer", duration=datetime.timedelta(minutes=90))
        == "/timer/01:30:00"
    )


def test_app_level_slash_options() -> None:
    """strict_slashes and merge_slashes set the map's defaults."""
    app = App(strict_slashes=False, merge_slashes=False)
    app.add_route("/a/", echo)
    assert app.url_map.strict_slashes is False
    assert app.url_map.merge_slashes is False


def test_repr() -> None:
    """Apps and blueprints show what they are."""
    app = App()
    app.add_route("/e", echo)
    assert repr(app) == "<App rules=1>"
