"""Tests of the examples, each served for real."""

from __future__ import annotations

import datetime
import json
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from examples import app, clock

from .conftest import serving


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
