"""Tests of wsroute.auth: the authentication hooks, against real clients."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from examples.app import echo
from wsroute import App, Connection
from wsroute.auth import (
    Authenticator,
    BasicAuth,
    BearerToken,
    CookieToken,
    QueryToken,
    SubprotocolToken,
)

from .conftest import serving

USERS = {"s3cret": "alice"}
EXPIRED = "0ld"


def user_for(token: str) -> str | None:
    """A synchronous check: a known token gives a user; others, None."""
    return USERS.get(token)


async def async_user_for(token: str) -> str | None:
    """An asynchronous check, as a database lookup would be."""
    await asyncio.sleep(0)
    return None if token == EXPIRED else USERS.get(token)


def app_with(hook: Authenticator) -> App:
    """An app whose only route sends the user that the hook found."""
    app = App()
    app.add_handshake_hook(hook)

    @app.route("/whoami")
    async def whoami(ws: Connection) -> None:
        await ws.send(ws.user)

    return app


async def attempt(url: str, **options: Any) -> tuple[int, str]:
    """Connect; return 101 and the user, or the HTTP status and its challenge."""
    try:
        async with connect(url, **options) as ws:
            return 101, str(await ws.recv())
    except InvalidStatus as exc:
        response = exc.response
        assert b"s3cret" not in response.body
        return response.status_code, response.headers.get("WWW-Authenticate", "")


@pytest.mark.parametrize("check", [user_for, async_user_for])
async def test_query_token(check: Any) -> None:
    """A token in the query string; missing or wrong gets 403."""
    async with serving(app_with(QueryToken(check))) as url:
        assert await attempt(f"{url}/whoami?token=s3cret") == (101, "alice")
        assert await attempt(f"{url}/whoami?token=wrong") == (403, "")
        assert await attempt(f"{url}/whoami?token=") == (403, "")
        assert await attempt(f"{url}/whoami") == (403, "")


async def test_expired_token() -> None:
    """A check that returns None for an expired token refuses it."""
    async with serving(app_with(QueryToken(async_user_for, param="t"))) as url:
        assert await attempt(f"{url}/whoami?t={EXPIRED}") == (403, "")


async def test_bearer_token() -> None:
    """Authorization: Bearer; refusals are 401 with a Bearer challenge."""
    async with serving(app_with(BearerToken(async_user_for, realm="chat"))) as url:
        ok = {"Authorization": "Bearer s3cret"}
        assert await attempt(f"{url}/whoami", additional_headers=ok) == (101, "alice")
        challenge = "Bearer realm=chat"
        for headers in [
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Bearer "},
            {"Authorization": "Basic czNjcmV0Og=="},
        ]:
            assert await attempt(f"{url}/whoami", additional_headers=headers) == (
                401,
                challenge,
            )
        # A token in the wrong place isn't looked for.
        assert await attempt(f"{url}/whoami?token=s3cret") == (401, challenge)


async def test_bearer_token_without_realm() -> None:
    """The challenge has no realm unless one is given."""
    async with serving(app_with(BearerToken(user_for))) as url:
        assert await attempt(f"{url}/whoami") == (401, "Bearer")


async def test_cookie_token() -> None:
    """A named cookie, among others; missing or wrong gets 403."""
    async with serving(app_with(CookieToken(user_for, name="sid"))) as url:
        for cookie, expected in [
            ("theme=dark; sid=s3cret", (101, "alice")),
            ("sid=wrong", (403, "")),
            ("session=s3cret", (403, "")),
        ]:
            headers = {"Cookie": cookie}
            assert (
                await attempt(f"{url}/whoami", additional_headers=headers) == expected
            )
        assert await attempt(f"{url}/whoami") == (403, "")


async def test_basic_auth() -> None:
    """HTTP Basic, parsed by websockets; refusals are 401 with a Basic challenge."""

    def check(username: str, password: str) -> str | None:
        return username if (username, password) == ("alice", "s3cret") else None

    async with serving(app_with(BasicAuth(check, realm="chat"))) as url:
        host = url.removeprefix("ws://")
        assert await attempt(f"ws://alice:s3cret@{host}/whoami") == (101, "alice")
        challenge = "Basic realm=chat, charset=UTF-8"
        assert await attempt(f"ws://alice:wrong@{host}/whoami") == (401, challenge)
        assert await attempt(f"{url}/whoami") == (401, challenge)
        garbled = {"Authorization": "Basic !!!"}
        assert await attempt(f"{url}/whoami", additional_headers=garbled) == (
            401,
            challenge,
        )


def encode(token: str) -> str:
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


async def test_subprotocol_token() -> None:
    """A token in Sec-WebSocket-Protocol; the server selects the app's protocol."""
    hook = SubprotocolToken(user_for, subprotocol="chat")
    async with serving(app_with(hook)) as url:
        offer = [
            Subprotocol("chat"),
            Subprotocol(f"base64url.bearer.{encode('s3cret')}"),
        ]
        async with connect(f"{url}/whoami", subprotocols=offer) as ws:
            assert await ws.recv() == "alice"
            assert ws.subprotocol == "chat"
            assert ws.response.headers["Sec-WebSocket-Protocol"] == "chat"  # type: ignore[union-attr]
        for offer_strings in [
            ["chat", f"base64url.bearer.{encode('wrong')}"],
            ["chat", "base64url.bearer.a"],  # not base64
            ["chat", "base64url.bearer._w"],  # 0xff: not UTF-8
            ["chat"],
            [f"base64url.bearer.{encode('s3cret')}"],  # without the app's protocol
        ]:
            offer = [Subprotocol(value) for value in offer_strings]
            assert await attempt(f"{url}/whoami", subprotocols=offer) == (403, "")


async def test_tokens_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing wsroute logs contains a token, even when a check crashes."""
    caplog.set_level(logging.INFO)

    def crash(token: str) -> str:
        raise RuntimeError("database down")

    async with serving(
        app_with(QueryToken(crash)), raise_server_exceptions=False
    ) as url:
        assert await attempt(f"{url}/whoami?token=s3cret") == (500, "")
    assert "database down" in caplog.text
    assert "s3cret" not in caplog.text


def test_repr() -> None:
    """Authenticators show their check."""
    assert repr(QueryToken(user_for)) == "QueryToken(tests.test_auth.user_for)"


async def test_cookie_auth_open_to_any_origin_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Cookie authentication with an origin policy open to all logs a warning."""
    app = App(origins=[re.compile(".*")])
    app.add_handshake_hook(CookieToken(user_for))

    @app.route("/chat")
    async def chat(ws: Connection) -> None: ...

    @app.route("/open", skip_hooks=app.handshake_hooks)
    async def open_route(ws: Connection) -> None: ...

    async with serving(app):
        pass
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith("route /chat authenticates with a cookie")
    caplog.clear()
    async with serving(app_with(CookieToken(user_for))):
        pass
    assert caplog.records == []


async def crashing_hook(ws: Connection, request: Any) -> None:
    raise RuntimeError("hook bug")


@pytest.mark.parametrize(
    ("path", "options", "status"),
    [
        ("/whoami", {}, 403),  # missing token
        ("/whoami?token=wrong", {}, 403),
        (f"/whoami?token={EXPIRED}", {}, 403),
        ("/whoami", {"additional_headers": {"Authorization": "Bearer s3cret"}}, 403),
        ("/whoami?token=s3cret", {"origin": "https://evil.example"}, 403),
        ("/crash?token=s3cret", {}, 500),
    ],
)
async def test_hostile_handshakes_leave_other_clients_alone(
    path: str, options: dict[str, Any], status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Each refused handshake gets its status while an open connection is served."""
    app = App()
    auth = QueryToken(async_user_for)
    app.add_route("/echo", echo)

    @app.route("/whoami", hooks=[auth])
    async def whoami(ws: Connection) -> None:
        await ws.send(ws.user)

    @app.route("/crash", hooks=[auth, crashing_hook])
    async def crash(ws: Connection) -> None: ...

    async with (
        serving(app, raise_server_exceptions=False) as url,
        connect(f"{url}/echo") as other,
    ):
        assert (await attempt(f"{url}{path}", **options))[0] == status
        await other.send("still served")
        assert await other.recv() == "still served"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == (
        ["handshake hook tests.test_auth.crashing_hook failed on /crash"]
        if status == 500
        else []
    )
    assert "s3cret" not in caplog.text
