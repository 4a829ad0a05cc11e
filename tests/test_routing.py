"""Tests of wsroute.routing: matching without a socket."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import pytest
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule

from wsroute import Connection, Route, SetupError
from wsroute.auth import BearerToken
from wsroute.routing import Router, build_url, check_rule, describe, make_rule


async def handler(ws: Connection, **params: Any) -> None:
    """Accept any parameter."""


def router(*rules: Rule, **options: Any) -> Router:
    return Router(Map(list(rules)), **options)


def test_match_returns_route_and_converted_params() -> None:
    """A match gives the route and its converted parameters."""
    route = Route("/items/<int:id>", handler, endpoint="item")
    assert router(route).match("/items/3", "h") == (route, {"id": 3})


@pytest.mark.parametrize(
    ("rule", "path", "value"),
    [
        ("/<name>", "/abc", "abc"),
        ("/<string(length=2):name>", "/ab", "ab"),
        ("/<int:name>", "/42", 42),
        ("/<float:name>", "/4.5", 4.5),
        ("/<path:name>", "/a/b/c", "a/b/c"),
        (
            "/<uuid:name>",
            "/12345678-1234-5678-1234-567812345678",
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
        ),
        ("/<any(red, blue):name>", "/blue", "blue"),
    ],
)
def test_werkzeug_converters(rule: str, path: str, value: object) -> None:
    """Every werkzeug converter works."""
    _, params = router(Route(rule, handler, endpoint="e")).match(path, "h")
    assert params == {"name": value}


def test_converter_refusing_a_value_gives_404() -> None:
    """A value that the converter refuses doesn't match."""
    with pytest.raises(NotFound):
        router(Route("/<int:id>", handler, endpoint="e")).match("/abc", "h")


def test_rules_without_parameters_are_looked_up_first() -> None:
    """Static rules that werkzeug matches as they are go in a dict."""
    echo = Route("/echo", handler, endpoint="echo")
    r = router(
        echo,
        Route("/items/<int:id>", handler, endpoint="item"),
        Route("/clock", handler, endpoint="clock", defaults={"tz": "UTC"}),
        Route("/a//b", handler, endpoint="ab"),  # werkzeug redirects it to /a/b
        Route("/echo", handler, endpoint="shadowed"),  # the first /echo wins
    )
    assert r.static == {"/echo": echo}
    first, second = r.match("/echo", "h"), r.match("/echo", "h")
    assert first == second == (echo, {})
    assert first[1] is not second[1]


def test_defaults_reach_params() -> None:
    """Defaults are passed like captured parameters."""
    route = Route("/clock", handler, endpoint="e", defaults={"tz": "UTC"})
    assert router(route).match("/clock", "h") == (route, {"tz": "UTC"})


def test_path_is_percent_decoded_once() -> None:
    """Path values are decoded exactly once."""
    match = router(Route("/files/<path:name>", handler, endpoint="e")).match
    assert match("/files/%C3%A9t%C3%A9", "h")[1] == {"name": "été"}
    assert match("/files/100%2525", "h")[1] == {"name": "100%25"}


def test_query_is_not_part_of_the_path() -> None:
    """The query string doesn't take part in matching."""
    route = Route("/items", handler, endpoint="e")
    assert router(route).match("/items?id=3&x=%2F", "h") == (route, {})


@pytest.mark.parametrize(
    "target",
    [
        "/files/../etc/passwd",
        "/files/%2e%2e/etc/passwd",
        "/files/a/..",
        "/files/a%2F..%2Fb",
        "/files/a%00b",
        "/files/%FF",
        "*",
        "example.com:80",
        "ws://example.com/files/../a",
    ],
)
def test_unsafe_targets_are_refused(target: str) -> None:
    """Dot-dot segments, NUL, bad UTF-8 and non-path targets get 400."""
    with pytest.raises(BadRequest):
        router(Route("/files/<path:name>", handler, endpoint="e")).match(target, "h")


def test_absolute_form_targets_are_accepted() -> None:
    """A target such as ws://host/path matches on its path and query."""
    route = Route("/files/<path:name>", handler, endpoint="e")
    match = router(route).match
    assert match("ws://example.com/files/a%20b?x=1", "h") == (route, {"name": "a b"})
    with pytest.raises(NotFound):
        match("ws://example.com", "h")


def test_dots_inside_a_segment_are_fine() -> None:
    """Only a whole '..' segment is refused."""
    match = router(Route("/files/<path:name>", handler, endpoint="e")).match
    assert match("/files/a..b/..c", "h")[1] == {"name": "a..b/..c"}


def test_unknown_path_raises_not_found() -> None:
    """Nothing matches: 404."""
    with pytest.raises(NotFound):
        router(Route("/a", handler, endpoint="e")).match("/b", "h")


def test_redirect_uses_the_request_host() -> None:
    """Without server_name, the Location names the Host the client used."""
    match = router(Route("/dir/", handler, endpoint="e")).match
    with pytest.raises(RequestRedirect) as info:
        match("/dir?x=1", "Example.com:8000")
    assert info.value.new_url == "ws://example.com:8000/dir/?x=1"


def test_redirect_uses_server_name_and_wss() -> None:
    """server_name and the wss scheme win over the Host header."""
    match = router(
        Route("/dir/", handler, endpoint="e"),
        server_name="proxy.example",
        url_scheme="wss",
    ).match
    with pytest.raises(RequestRedirect) as info:
        match("/dir", "internal:8000")
    assert info.value.new_url == "wss://proxy.example/dir/"


def test_redirect_to_fills_in_parameters() -> None:
    """redirect_to rules redirect with the captured values."""
    match = router(
        Rule("/old/<int:id>", redirect_to="/items/<id>", websocket=True),
        Route("/items/<int:id>", handler, endpoint="e"),
    ).match
    with pytest.raises(RequestRedirect) as info:
        match("/old/3", "h")
    assert info.value.new_url == "ws://h/items/3"


def test_absolute_redirect_keeps_its_host() -> None:
    """A redirect_to another host isn't rewritten to the request's host."""
    match = router(
        Rule("/away", redirect_to="wss://other.example/x", websocket=True)
    ).match
    with pytest.raises(RequestRedirect) as info:
        match("/away", "h")
    assert info.value.new_url == "wss://other.example/x"


def test_redirect_callable_runs_once() -> None:
    """A callable redirect_to is called once per request."""
    calls: list[int] = []

    def target(adapter: object, id: int) -> str:
        calls.append(id)
        return f"/items/{id}"

    match = router(Rule("/old/<int:id>", redirect_to=target, websocket=True)).match
    with pytest.raises(RequestRedirect) as info:
        match("/old/3", "Example.com")
    assert (info.value.new_url, calls) == ("ws://example.com/items/3", [3])


def test_check_rule_accepts_matching_signature() -> None:
    """A handler that takes the rule's parameters passes."""

    async def item(ws: Connection, id: int, tz: str) -> None: ...

    check_rule(Route("/i/<int:id>", item, defaults={"tz": "UTC"}), {})


def test_check_rule_missing_parameter() -> None:
    """A handler that can't take a parameter fails, naming rule and function."""

    async def item(ws: Connection) -> None: ...

    with pytest.raises(
        SetupError,
        match=r"rule '/i/<int:id>' of .*item.*takes \(ws\) but receives \(ws, id\)",
    ):
        check_rule(Route("/i/<int:id>", item), {})


def test_check_rule_extra_parameter() -> None:
    """A handler requiring a parameter the rule doesn't give fails."""

    async def item(ws: Connection, id: int, other: str) -> None: ...

    with pytest.raises(SetupError, match="missing a required argument: 'other'"):
        check_rule(Route("/i/<int:id>", item), {})


def test_check_rule_without_connection_parameter() -> None:
    """A handler that doesn't take the connection fails."""

    async def item() -> None: ...

    with pytest.raises(SetupError, match="too many positional arguments"):
        check_rule(Route("/i", item), {})  # type: ignore[arg-type]


def test_check_rule_unknown_converter() -> None:
    """An unknown converter is named, with the fix."""
    with pytest.raises(SetupError, match="'tz' does not exist; register custom"):
        check_rule(Route("/c/<tz:zone>", handler), {})


def test_check_rule_malformed_rule() -> None:
    """A malformed rule fails at registration."""
    with pytest.raises(SetupError, match="malformed url rule"):
        check_rule(Route("/c/<zone", handler), {})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("/c/<int(foo=1):x>", "unexpected keyword argument 'foo'"),
        ("/c/<x>/<x>", "duplicate argument 'x'"),
    ],
)
def test_check_rule_bad_converter_use(rule: str, message: str) -> None:
    """Every error werkzeug raises on a rule becomes a SetupError."""
    with pytest.raises(SetupError, match=message):
        check_rule(Route(rule, handler), {})


def test_check_rule_redirect_parameters() -> None:
    """A redirect_to target can only use the rule's parameters."""
    check_rule(Rule("/old/<int:id>", redirect_to="/items/<id>"), {})
    with pytest.raises(
        SetupError, match="uses ident, which the rule doesn't capture; it captures: id"
    ):
        check_rule(Rule("/old/<int:id>", redirect_to="/items/<ident>"), {})


def test_make_rule_refuses_a_rule_without_a_slash() -> None:
    """Werkzeug's ValueError becomes a SetupError naming the handler."""
    with pytest.raises(SetupError, match=r"rule 'items' of .*handler: URL rule"):
        make_rule("items", handler)
    with pytest.raises(SetupError, match=r"^rule 'old': URL rule"):
        make_rule("old", None, redirect_to="/new")


def test_describe() -> None:
    """Handlers are named by module and qualified name, others by repr."""
    assert describe(handler) == "tests.test_routing.handler"
    # A partial's arguments, which may be secrets, aren't shown.
    secret = functools.partial(handler, key="s3cr3t")
    assert describe(secret) == "partial(tests.test_routing.handler)"
    assert describe(BearerToken(str)) == "BearerToken(builtins.str)"


def test_build_url() -> None:
    """URLs are built as paths, or as absolute URLs given a host."""
    url_map = Map([Route("/items/<int:id>", handler, endpoint="item")])
    assert build_url(url_map, "item", {"id": 3}) == "/items/3"
    assert build_url(url_map, "item", {"id": 3, "tag": "a b"}) == "/items/3?tag=a+b"
    assert (
        build_url(url_map, "item", {"id": 3}, host="example.com:80", scheme="wss")
        == "wss://example.com:80/items/3"
    )
