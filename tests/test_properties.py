"""Property tests and a fuzz run: route matching, URL building, the dispatchers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException

from wsroute import App, Connection, InvalidMessage, MessageRouter
from wsroute.routing import Router

from .conftest import without_coverage

# Bounded, so that the suite stays fast: 200 examples each.
PROPERTIES = settings(max_examples=200, deadline=None)


async def handler(ws: Connection, **params: Any) -> None:
    """A handler that every rule can take."""


def routed_app() -> App:
    """An app with a rule for each of werkzeug's usual converters."""
    app = App()
    app.add_route("/items/<int:id>", handler, endpoint="item")
    app.add_route("/users/<name>", handler, endpoint="user")
    app.add_route("/files/<path:path>", handler, endpoint="file")
    app.add_route("/prices/<float:price>", handler, endpoint="price")
    return app


ROUTER = Router(routed_app().url_map)

# Path segments as people write them: any text but "/", NUL, "." and "..".
SEGMENT = st.text(
    # Without control characters: the path converter's "." doesn't match a
    # newline, in werkzeug as in Flask.
    st.characters(exclude_characters="/", exclude_categories=("Cc", "Cs")),
    min_size=1,
    max_size=20,
).filter(lambda text: text not in {".", ".."})


@PROPERTIES
@given(
    st.one_of(
        st.tuples(st.just("item"), st.just("id"), st.integers(0, 10**12)),
        st.tuples(st.just("user"), st.just("name"), SEGMENT),
        st.tuples(
            st.just("file"),
            st.just("path"),
            st.lists(SEGMENT, min_size=1, max_size=4).map("/".join),
        ),
        st.tuples(
            st.just("price"),
            st.just("price"),
            # werkzeug's float converter matches no exponent, which str()
            # writes for values under 1e-4: prices in cents don't get one.
            st.integers(0, 10**11).map(lambda cents: cents / 100),
        ),
    )
)
def test_a_built_url_matches_its_own_rule(case: tuple[str, str, Any]) -> None:
    """url_for() and matching round-trip: the same endpoint and value."""
    endpoint, name, value = case
    app = routed_app()
    url = app.url_for(endpoint, **{name: value})
    route, params = ROUTER.match(url, "localhost")
    assert route.endpoint == endpoint
    assert params == {name: value}


@PROPERTIES
@given(st.text(max_size=60))
def test_any_target_matches_or_gets_an_http_answer(target: str) -> None:
    """Any request target gets a route or an HTTP error, never a crash."""
    try:
        ROUTER.match("/" + target, "localhost")
    except HTTPException as exc:
        status = exc.code
    else:
        status = 101
    assert status in {101, 308, 400, 404}


# JSON values nested up to 32 levels deep.
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=32,
)
TYPES = st.sampled_from(["add", "neg", "fly", ""]) | JSON


def nested(depth: int) -> str:
    """A JSON text nested ``depth`` levels deep."""
    return "[" * depth + "]" * depth


def rpc() -> MessageRouter:
    """A message router with two types."""
    router = MessageRouter("rpc")

    @router.on("add")
    async def add(ws: Connection, request: dict[str, Any]) -> Any:
        return None

    @router.on("neg")
    async def neg(ws: Connection, request: dict[str, Any]) -> Any:
        return None

    return router


def dispatch(router: MessageRouter, message: str | bytes) -> int | str:
    """Find a message's handler; return its type, or the error's close code."""
    try:
        key, _ = router.decode(message)
        router.find(key)
    except InvalidMessage as exc:
        error = exc
    else:
        assert isinstance(key, str)
        return key
    assert len(error.reason.encode()) <= 123
    return error.code


ROUTER_RPC = rpc()


@PROPERTIES
@given(st.one_of(JSON, st.fixed_dictionaries({"type": TYPES}, optional={"a": JSON})))
def test_any_json_routes_or_gets_a_documented_error(value: Any) -> None:
    """Any JSON value is dispatched, or gets 1007 or 1008 with a short reason."""
    result = dispatch(ROUTER_RPC, json.dumps(value))
    if isinstance(value, dict) and value.get("type") in ("add", "neg"):
        assert result == value["type"]
    else:
        assert result == 1008


@PROPERTIES
@given(st.text(max_size=40) | st.binary(max_size=40) | st.integers(1, 64).map(nested))
def test_any_message_routes_or_gets_a_documented_error(message: str | bytes) -> None:
    """Text that isn't JSON gets 1007, bytes 1003, deep nesting no crash."""
    result = dispatch(ROUTER_RPC, message)
    assert result in {1003, 1007, 1008}
    if isinstance(message, bytes):
        assert result == 1003


def test_json_nested_deeper_than_python_can_parse_is_invalid() -> None:
    """100,000 levels of nesting get 1007, not a RecursionError."""
    assert dispatch(ROUTER_RPC, nested(100_000)) == 1007


def test_a_fuzz_run_of_the_dispatchers_finds_no_crash() -> None:
    """100,000 inputs from atheris each route or get a documented error."""
    pytest.importorskip("atheris")
    # Not measured by coverage, which would slow it down tenfold.
    env = without_coverage()
    script = Path(__file__).with_name("fuzz_dispatch.py")
    done = subprocess.run(
        [sys.executable, str(script), "-runs=100000", "-max_total_time=60"],
        cwd=script.parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done " in done.stderr  # "Done 100000 runs in 3 second(s)"
