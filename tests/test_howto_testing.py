"""The tests that the how-to on testing shows, run as shown."""

from examples import authentication
from examples.app import app
from wsroute import App, Connection
from wsroute.testing import TestClient, TestServer


async def test_echo() -> None:
    async with TestServer(app) as server:
        async with server.connect("/echo") as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"


async def test_cookie_and_bearer_token() -> None:
    async with TestServer(authentication.app) as server:
        token = authentication.issue_token("alice")
        async with server.connect("/cookie", cookies={"token": token}) as ws:
            assert await ws.recv() == "Hello alice!"
        headers = {"Authorization": f"Bearer {token}"}
        async with server.connect("/bearer", headers=headers) as ws:
            assert await ws.recv() == "Hello alice!"


def test_echo_in_a_plain_test() -> None:
    with TestClient(app) as client:
        with client.connect("/echo") as ws:
            ws.send("hello")
            assert ws.recv() == "hello"


calculator = App()


@calculator.route("/share/<int:parts>")
async def share(ws: Connection, parts: int) -> None:
    await ws.send(str(100 // parts))


async def test_a_crash_closes_with_1011() -> None:
    async with TestServer(calculator, raise_server_exceptions=False) as server:
        async with server.connect("/share/0") as ws:
            await ws.wait_closed()
            assert ws.close_code == 1011
        [crash] = server.exceptions
        assert isinstance(crash, ZeroDivisionError)
