"""Tests of wsroute.blueprints: routes recorded, then replayed on an app."""

from __future__ import annotations

import zoneinfo
from typing import Any

import pytest

from examples import clock
from wsroute import App, Blueprint, Connection, SetupError


async def echo(ws: Connection) -> None: ...


async def item(ws: Connection, id: int) -> None: ...


def api_blueprint() -> Blueprint:
    bp = Blueprint("api", url_prefix="/api")
    bp.add_route("/", echo)
    bp.add_route("/items/<int:id>", item)
    bp.add_route("/old/<int:id>", redirect_to="/items/<id>")
    return bp


def test_blueprint_routes_are_prefixed_and_namespaced() -> None:
    """Blueprint rules get the prefix; endpoints get the blueprint's name."""
    app = App()
    app.register_blueprint(api_blueprint())
    assert [(rule.rule, rule.endpoint) for rule in app.rules] == [
        ("/api/", "api.echo"),
        ("/api/items/<int:id>", "api.item"),
        ("/api/old/<int:id>", None),
    ]
    assert app.url_for("api.item", id=3) == "/api/items/3"
    assert app.rules[2].redirect_to == "/api/items/<id>"


def test_blueprint_redirects_stay_under_the_prefix() -> None:
    """A redirect_to rule is mounted under the prefix, like the rule."""
    app = App()
    app.register_blueprint(api_blueprint(), url_prefix="/v2", name="v2")
    assert app.rules[2].rule == "/v2/old/<int:id>"
    assert app.rules[2].redirect_to == "/v2/items/<id>"


def test_blueprint_prefix_must_start_with_a_slash() -> None:
    """A prefix without a leading slash fails at registration."""
    with pytest.raises(SetupError, match="must start with a slash"):
        App().register_blueprint(api_blueprint(), url_prefix="api")


def test_blueprint_registration_is_all_or_nothing() -> None:
    """When one rule fails, the app keeps none of the blueprint's rules."""
    app = App()
    bp = Blueprint("bp")
    bp.add_route("/ok", echo)
    bp.add_route("/bad/<int:id>", echo)
    with pytest.raises(SetupError):
        app.register_blueprint(bp)
    assert (app.rules, app.blueprints) == ([], {})
    app.register_blueprint(Blueprint("bp"))
    assert list(app.blueprints) == ["bp"]


def test_blueprint_name_override_is_checked() -> None:
    """A name given at registration is checked like a blueprint's own."""
    with pytest.raises(SetupError, match="must be non-empty and contain no dot"):
        App().register_blueprint(api_blueprint(), name="a.b")


def test_blueprint_repr() -> None:
    """A blueprint shows its name."""
    assert repr(Blueprint("api")) == "<Blueprint 'api'>"


def test_blueprint_prefix_and_name_can_be_overridden() -> None:
    """One blueprint can be mounted twice under other names."""
    app = App()
    bp = api_blueprint()
    app.register_blueprint(bp)
    app.register_blueprint(bp, url_prefix="/v2/", name="v2")
    assert app.url_for("v2.item", id=3) == "/v2/items/3"
    assert app.url_for("api.item", id=3) == "/api/items/3"
    assert app.blueprints == {"api": bp, "v2": bp}


def test_blueprint_without_prefix() -> None:
    """Without a prefix, rules stay as declared."""
    app = App()
    bp = Blueprint("bp")
    bp.add_route("/e", echo)
    app.register_blueprint(bp)
    assert app.url_for("bp.echo") == "/e"


def test_blueprint_name_taken() -> None:
    """Registering two blueprints under one name fails with the fix."""
    app = App()
    app.register_blueprint(api_blueprint())
    with pytest.raises(SetupError, match=r"pass name=\.\.\. to register it again"):
        app.register_blueprint(api_blueprint())


def test_blueprint_is_frozen_once_registered() -> None:
    """Routes added to a registered blueprint would be lost: refused."""
    bp = api_blueprint()
    App().register_blueprint(bp)
    with pytest.raises(SetupError, match="already registered on an app"):
        bp.add_route("/late", echo)


@pytest.mark.parametrize("name", ["", "a.b"])
def test_blueprint_name_is_checked(name: str) -> None:
    """Blueprint names are non-empty and dot-free."""
    with pytest.raises(SetupError, match="must be non-empty and contain no dot"):
        Blueprint(name)


def test_blueprint_route_checked_against_the_app() -> None:
    """A blueprint route using an unknown converter fails at registration."""
    bp = Blueprint("bp")

    async def zone(ws: Connection, tz: Any) -> None: ...

    bp.add_route("/<tz:tz>", zone)
    with pytest.raises(SetupError, match="'tz' does not exist"):
        App().register_blueprint(bp)
    app = App(converters={"tz": clock.ZoneInfoConverter})
    app.register_blueprint(bp)
    assert app.url_for("bp.zone", tz=zoneinfo.ZoneInfo("UTC")) == "/UTC"


def test_blueprint_prefix_parameters_reach_the_handler_check() -> None:
    """Parameters of the prefix count in the handler check."""
    bp = Blueprint("bp", url_prefix="/<lang>")
    bp.add_route("/e", echo)
    with pytest.raises(SetupError, match=r"rule '/<lang>/e' of .*echo"):
        App().register_blueprint(bp)
