"""Tests of the examples, each served for real."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import logging
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from examples import app, authentication, bluegreen, clock

from .conftest import exchange, serving
from .test_http import plain_get


async def test_readme_app() -> None:
    """The README's app echoes and describes items."""
    async with serving(app.app) as url:
        async with connect(f"{url}/echo") as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
        async with connect(f"{url}/items/3?tag=a&tag=b") as ws:
            assert json.loads(await ws.recv()) == {"id": 3, "tags": ["a", "b"]}


async def test_clock_in_a_time_zone() -> None:
    """/clock/<tz> sends the time in that zone; / redirects to /clock."""
    async with serving(clock.app) as url:
        async with connect(f"{url}/clock/Asia/Kolkata") as ws:
            now = datetime.datetime.fromisoformat(await ws.recv(decode=True))
            assert now.utcoffset() == datetime.timedelta(hours=5, minutes=30)
        async with connect(f"{url}/") as ws:
            now = datetime.datetime.fromisoformat(await ws.recv(decode=True))
            assert now.utcoffset() == datetime.timedelta(0)


@pytest.mark.parametrize(
    "path",
    ["/clock/Mars/Olympus", "/clock/Europe", "/clock/" + "a" * 300, "/timer/24:00:00"],
)
async def test_values_the_converters_refuse_are_not_found(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A converter refusing a value makes a 404, and nothing is logged."""
    async with serving(clock.app) as url:
        with pytest.raises(InvalidStatus) as info:
            await connect(f"{url}{path}")
        assert info.value.response.status_code == 404
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_timer_counts_down() -> None:
    """/timer/<duration> counts down to zero."""
    async with serving(clock.app) as url, connect(f"{url}/timer/00:00:01") as ws:
        assert [await ws.recv(), await ws.recv()] == ["00:00:01", "00:00:00"]


async def test_alarm_in_the_past_rings_at_once() -> None:
    """/alarm/<datetime>/<tz> sends the alarm time when it's reached."""
    async with serving(clock.app) as url:
        async with connect(f"{url}/alarm/2020-01-01T08:00:00/Europe/Paris") as ws:
            assert await ws.recv() == "2020-01-01T08:00:00+01:00"


@pytest.mark.parametrize(
    ("path", "first", "color"),
    [
        ("/blue", None, "blue"),
        ("/green", None, "green"),
        ("/", "blue", "blue"),
        ("/", " green\n", "green"),
    ],
)
async def test_blue_green(path: str, first: str | None, color: str) -> None:
    """Blue or green serves the connection, picked by path or first message."""
    async with serving(bluegreen.app) as url, connect(f"{url}{path}") as ws:
        if first is not None:
            await ws.send(first)
        assert await ws.recv() == f"served by {color}"
        await ws.send("echo")
        assert await ws.recv() == "echo"


async def test_blue_green_refuses_other_colors() -> None:
    """A first message naming no known color closes with 1008."""
    async with serving(bluegreen.app) as url:
        firsts: list[str | bytes] = ["red", b"blue"]
        for first in firsts:
            async with connect(url) as ws:
                await ws.send(first)
                await ws.wait_closed()
                assert ws.close_code == 1008


def b64(token: str) -> str:
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


async def test_authentication_methods() -> None:
    """Each route authenticates alice with the token sent its way."""
    async with serving(authentication.app) as url:
        token = authentication.issue_token("alice")
        host = url.removeprefix("ws://")
        ways: list[tuple[str, dict[str, Any]]] = [
            (f"{url}/query?token={token}", {}),
            (f"{url}/cookie", {"additional_headers": {"Cookie": f"token={token}"}}),
            (f"ws://alice:{token}@{host}/user-info", {}),
            (
                f"{url}/subprotocol",
                {
                    "subprotocols": [
                        Subprotocol("chat"),
                        Subprotocol(f"base64url.bearer.{b64(token)}"),
                    ]
                },
            ),
            (
                f"{url}/bearer",
                {"additional_headers": {"Authorization": f"Bearer {token}"}},
            ),
        ]
        for uri, options in ways:
            async with connect(uri, **options) as ws:
                assert await ws.recv() == "Hello alice!"
                await ws.send("Goodbye alice.")
                await ws.wait_closed()
                assert ws.close_code == 1000
        async with connect(f"{url}/first-message") as ws:
            await ws.send(json.dumps({"token": token}))
            assert await ws.recv() == "Hello alice!"


async def test_authentication_refusals() -> None:
    """Wrong or expired tokens are refused, before or after the handshake."""
    async with serving(authentication.app) as url:
        token = authentication.issue_token("bob", lifetime=0)
        await asyncio.sleep(0.01)  # let the token expire
        host = url.removeprefix("ws://")
        for uri, status in [
            (f"{url}/query?token={token}", 403),
            (f"ws://alice:{token}@{host}/user-info", 401),
            (f"{url}/bearer", 401),
        ]:
            with pytest.raises(InvalidStatus) as info:
                await connect(uri)
            assert info.value.response.status_code == status
        async with connect(f"{url}/first-message") as ws:
            await ws.send(json.dumps({"token": token}))
            await ws.wait_closed()
            assert (ws.close_code, ws.close_reason) == (1008, "invalid credentials")


async def test_authentication_prints_a_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Starting the example prints a token that works."""
    async with serving(authentication.app) as url:
        token = capsys.readouterr().out.rpartition(": ")[2].strip()
        async with connect(f"{url}/query?token={token}") as ws:
            assert await ws.recv() == "Hello alice!"


@pytest.mark.parametrize("path", authentication.PAGE_PATHS)
async def test_authentication_pages(path: str) -> None:
    """Each page comes with the user and a fresh token that works."""
    async with serving(authentication.app) as url:
        status, headers, body = await exchange(url, plain_get(f"{path}?user=bob"))
        assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8")
        html = body.decode()
        assert "USER" not in html
        assert "TOKEN" not in html
        if path in ("/", "/cookie"):  # links to pages that hold the tokens
            assert html.count("?user=bob") == (5 if path == "/" else 1)
            return
        [token] = [token for token in authentication.TOKENS if token in html]
        async with connect(f"{url}/query?token={token}") as ws:
            assert await ws.recv() == "Hello bob!"


async def test_authentication_pages_refuse_odd_user_names() -> None:
    """A user name goes into HTML and JavaScript, so it's checked first."""
    async with serving(authentication.app) as url:
        status, _, body = await exchange(url, plain_get("/query?user=%3Cscript%3E"))
        assert (status, body) == (400, b"A user name is 1 to 20 lowercase letters.\n")
        status, headers, _ = await exchange(url, plain_get("/session.js"))
        assert (status, headers["content-type"]) == (
            200,
            "text/javascript; charset=utf-8",
        )
