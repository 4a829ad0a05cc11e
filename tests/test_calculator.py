"""Tests of the calculator example, which the how-to on message routing shows."""

import json

from examples.calculator import app
from wsroute.testing import TestServer


async def test_replies_carry_the_id() -> None:
    async with TestServer(app) as server, server.connect("/") as ws:
        await ws.send('{"type": "add", "id": 1, "a": 2, "b": 3}')
        assert json.loads(await ws.recv()) == {"id": 1, "result": 5}
        await ws.send('{"type": "divide", "a": 1, "b": 4}')
        assert json.loads(await ws.recv()) == {"result": 0.25}


async def test_errors_are_answered_and_the_connection_lives_on() -> None:
    async with TestServer(app, raise_server_exceptions=False) as server:
        async with server.connect("/") as ws:
            await ws.send('{"type": "mul", "id": 2}')
            assert json.loads(await ws.recv()) == {
                "id": 2,
                "error": {"code": "invalid_message", "message": 'unknown type: "mul"'},
            }
            await ws.send('{"type": "divide", "id": 3, "a": 1, "b": 0}')
            assert json.loads(await ws.recv()) == {
                "id": 3,
                "error": {"code": "internal_error", "message": "internal error"},
            }
            await ws.send('{"type": "add", "id": 4, "a": 1, "b": 1}')
            assert json.loads(await ws.recv()) == {"id": 4, "result": 2}
        [crash] = server.exceptions
        assert isinstance(crash, ZeroDivisionError)
