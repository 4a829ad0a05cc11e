"""The tests of the tutorial's second part, as the tutorial shows them."""

import pytest
from websockets.exceptions import InvalidStatus

from examples.announcements import app
from wsroute.testing import TestServer

ALICE = {"token": "s3cret-alice"}
BOB = {"token": "s3cret-bob"}


async def test_whoami() -> None:
    async with TestServer(app) as server:
        async with server.connect("/whoami", query=ALICE) as ws:
            assert await ws.recv() == "You are alice."


async def test_unknown_token() -> None:
    async with TestServer(app) as server:
        with pytest.raises(InvalidStatus) as refused:
            await server.connect("/whoami", query={"token": "guess"})
        assert refused.value.response.status_code == 403


async def test_announcements() -> None:
    async with TestServer(app) as server:
        async with (
            server.connect("/announcements", query=BOB) as listener,
            server.connect("/announcements", query=ALICE) as announcer,
        ):
            await listener.send('{"type": "listen"}')
            assert await listener.recv() == "listening"
            await announcer.send('{"type": "announce"}')
            await announcer.send("Lunch is ready!")
            assert await listener.recv() == "alice: Lunch is ready!"


async def test_unknown_type() -> None:
    async with TestServer(app) as server:
        async with server.connect("/announcements", query=BOB) as ws:
            await ws.send('{"type": "shout"}')
            await ws.wait_closed()
            assert ws.close_code == 1008
            assert ws.close_reason == 'unknown type: "shout"'
