"""The tests of the tutorial's first part, as the tutorial shows them."""

from examples.app import app
from wsroute.testing import TestServer


async def test_echo() -> None:
    async with TestServer(app) as server:
        async with server.connect("/echo") as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"


async def test_item() -> None:
    async with TestServer(app) as server:
        async with server.connect("/items/3", query={"tag": "new"}) as ws:
            assert await ws.recv() == '{"id":3,"tags":["new"]}'
