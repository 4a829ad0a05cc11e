"""Tests of wsroute.handshake: handshake hooks and the Origin policy."""

from __future__ import annotations

import logging
import re

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request, Response
from websockets.typing import Origin
from werkzeug.exceptions import TooManyRequests

from wsroute import App, Blueprint, Connection, SetupError

from .conftest import exchange, handshake, serving


async def status_of(url: str, **options: object) -> int:
    """Connect; return 101 if the handshake succeeds, else the HTTP status."""
    try:
        async with connect(url, **options):  # type: ignore[arg-type]
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def ordered_app(calls: list[str]) -> App:
    """An app with hooks on the app, a blueprint and a route, recording calls."""
    app = App()
    api = Blueprint("api", url_prefix="/api")

    @app.before_handshake
    def app_hook(ws: Connection, request: Request) -> None:
        calls.append(f"app {ws.path_params}")

    @api.before_handshake
    async def blueprint_hook(ws: Connection, request: Request) -> None:
        calls.append("blueprint")

    async def route_hook(ws: Connection, request: Request) -> None:
        calls.append("route")

    @api.route("/items/<int:id>", hooks=[route_hook])
    async def item(ws: Connection, id: int) -> None:
        calls.append("handler")
        await ws.send(ws.context.seen)

    @api.route("/public", skip_hooks=[app_hook, blueprint_hook])
    async def public(ws: Connection) -> None:
        calls.append("public")

    @app.before_handshake
    def late_app_hook(ws: Connection, request: Request) -> None:
        ws.context.seen = "late"

    app.register_blueprint(api)
    return app


async def test_hooks_run_app_then_blueprint_then_route() -> None:
    """Hooks run in order, after the match, and see path params and context."""
    calls: list[str] = []
    async with serving(ordered_app(calls)) as url:
        async with connect(f"{url}/api/items/3") as ws:
            assert await ws.recv() == "late"
        assert calls == ["app {'id': 3}", "blueprint", "route", "handler"]
        calls.clear()
        assert await status_of(f"{url}/nowhere") == 404
        assert calls == []  # a 404 costs no hook


async def test_a_route_can_skip_inherited_hooks() -> None:
    """skip_hooks leaves out the app's and the blueprint's hooks."""
    calls: list[str] = []
    async with serving(ordered_app(calls)) as url:
        async with connect(f"{url}/api/public"):
            pass
    assert calls == ["public"]


def test_skipping_a_hook_that_isnt_inherited_fails() -> None:
    """A typo in skip_hooks is caught when the app's setup finishes."""
    app = App()

    def hook(ws: Connection, request: Request) -> None: ...

    @app.route("/", skip_hooks=[hook])
    async def root(ws: Connection) -> None: ...

    with pytest.raises(SetupError, match=r"skip_hooks names .*hook, which neither"):
        app.url_map  # noqa: B018


def test_a_redirect_takes_no_hooks() -> None:
    """Hooks on a rule that only redirects make no sense: refused."""

    def hook(ws: Connection, request: Request) -> None: ...

    with pytest.raises(SetupError, match="takes no hooks"):
        App().add_route("/old", redirect_to="/new", hooks=[hook])


async def test_hooks_refuse_with_an_exception_or_a_response() -> None:
    """A werkzeug exception, with its headers, or a response ends the handshake."""
    app = App()

    @app.route("/limited", hooks=[])
    async def limited(ws: Connection) -> None: ...

    @app.before_handshake
    def refuse(ws: Connection, request: Request) -> Response | None:
        if ws.query.get("who") == "flooder":
            raise TooManyRequests(retry_after=30)
        if ws.query.get("who") == "stranger":
            response = ws.respond(403, "Who are you?\n")
            response.headers["X-Reason"] = "unknown"
            return response
        return None

    async with serving(app) as url:
        status, headers, body = await exchange(url, handshake("/limited?who=flooder"))
        assert (status, headers["retry-after"]) == (429, "30")
        status, headers, body = await exchange(url, handshake("/limited?who=stranger"))
        assert (status, headers["x-reason"], body) == (
            403,
            "unknown",
            b"Who are you?\n",
        )
        assert await status_of(f"{url}/limited?who=friend") == 101


async def test_a_crashing_hook_gets_500_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hook's exception is logged, without the query string; the client gets 500."""
    app = App()

    @app.before_handshake
    async def broken(ws: Connection, request: Request) -> None:
        raise KeyError("bug")

    @app.route("/")
    async def root(ws: Connection) -> None: ...

    async with serving(app, raise_server_exceptions=False) as url:
        assert await status_of(f"{url}/?token=secret") == 500
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage().endswith("broken failed on /")
    assert "secret" not in caplog.text


# Origin


def origin_app(**options: object) -> App:
    app = App(**options)  # type: ignore[arg-type]

    @app.route("/")
    async def root(ws: Connection) -> None: ...

    @app.route("/widget", origins=["https://partner.example"])
    async def widget(ws: Connection) -> None: ...

    return app


async def test_origin_policy() -> None:
    """Same origin and no origin pass; other origins get 403 unless allowed."""
    async with serving(origin_app()) as url:
        port = url.rpartition(":")[2]
        for origin, path, status in [
            (None, "/", 101),
            (f"http://127.0.0.1:{port}", "/", 101),
            (f"https://127.0.0.1:{port}", "/", 101),
            (f"http://127.0.0.1:{int(port) + 1}", "/", 403),
            ("https://evil.example", "/", 403),
            ("null", "/", 403),
            ("https://partner.example", "/", 403),
            ("https://partner.example", "/widget", 101),
        ]:
            assert await status_of(f"{url}{path}", origin=origin) == status, origin


async def test_app_origins_accept_strings_and_patterns() -> None:
    """App(origins=...) allows exact origins and whole-match patterns."""
    app = origin_app(
        origins=["https://www.example.com", re.compile(r"https://[a-z]+\.example\.org")]
    )
    async with serving(app) as url:
        for origin, status in [
            ("https://www.example.com", 101),
            ("https://app.example.org", 101),
            ("https://app.example.org.evil.com", 403),
            ("http://www.example.com", 403),
        ]:
            assert await status_of(url, origin=Origin(origin)) == status, origin


async def test_several_origin_headers_are_refused() -> None:
    """A request with two Origin headers is refused."""
    async with serving(origin_app()) as url:
        request = handshake("/", Origin="https://a.example").replace(
            b"\r\n\r\n", b"\r\nOrigin: https://b.example\r\n\r\n"
        )
        status, _, body = await exchange(url, request)
        assert (status, body) == (403, b"The Origin of the request isn't allowed.\n")


async def test_hooks_run_before_a_process_request_option() -> None:
    """A websockets process_request option runs after the hooks let a request in."""
    seen: list[str] = []
    app = App()

    @app.before_handshake
    def gate(ws: Connection, request: Request) -> Response | None:
        return ws.respond(403, "No\n") if "deny" in ws.query else None

    @app.route("/")
    async def root(ws: Connection) -> None: ...

    def process_request(ws: object, request: Request) -> None:
        seen.append(request.path)

    async with serving(app, process_request=process_request) as url:
        assert await status_of(f"{url}/?deny") == 403
        assert await status_of(f"{url}/?let") == 101
    assert seen == ["/?let"]
