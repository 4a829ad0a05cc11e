"""Tests of the access log: one line per connection on wsroute.access."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from websockets.asyncio.client import connect, unix_connect
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request, Response

from examples.app import echo
from wsroute import App

from .conftest import exchange, handshake, serving


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "wsroute.access"]


async def test_one_line_per_connection(caplog: pytest.LogCaptureFixture) -> None:
    """Opened connections log their close code; refused ones their status."""
    caplog.set_level(logging.INFO, logger="wsroute.access")
    app = App()
    app.add_route("/echo", echo)
    async with serving(app) as url:
        async with connect(f"{url}/echo?token=s3cret") as ws:
            await ws.close(4000)
        with pytest.raises(InvalidStatus):
            await connect(f"{url}/nowhere?token=s3cret")
    opened, refused = access_records(caplog)
    assert opened.getMessage().startswith("127.0.0.1:")
    assert opened.getMessage().split(" ", 1)[1].startswith('"GET /echo" 101 4000 ')
    assert refused.getMessage().split(" ", 1)[1].startswith('"GET /nowhere" 404 - ')
    assert (opened.path, opened.status, opened.close_code) == ("/echo", 101, 4000)  # type: ignore[attr-defined]
    assert 0 <= opened.duration < 5  # type: ignore[attr-defined]
    assert "s3cret" not in caplog.text


async def test_the_final_status_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A process_response option that changes the answer logs the final one."""
    caplog.set_level(logging.INFO, logger="wsroute.access")
    app = App()
    app.add_route("/echo", echo)

    async def refuse(ws: object, request: Request, response: Response) -> Response:
        return response.__class__(503, "Service Unavailable", response.headers)

    async with serving(app, process_response=refuse) as url:
        with pytest.raises(InvalidStatus):
            await connect(f"{url}/echo")
    [record] = access_records(caplog)
    assert record.status == 503  # type: ignore[attr-defined]


async def test_the_access_log_can_be_turned_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Below INFO, or disabled, the access log costs a level check."""
    caplog.set_level(logging.WARNING, logger="wsroute.access")
    app = App()
    app.add_route("/echo", echo)
    async with serving(app) as url, connect(f"{url}/echo"):
        pass
    assert access_records(caplog) == []


async def test_a_process_response_that_keeps_the_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A plain process_response function that returns None changes nothing."""
    caplog.set_level(logging.INFO, logger="wsroute.access")
    app = App()
    app.add_route("/echo", echo)

    def keep(ws: object, request: Request, response: Response) -> None:
        return None

    async with serving(app, process_response=keep) as url:
        async with connect(f"{url}/echo") as ws:
            await ws.send("kept")
            assert await ws.recv() == "kept"
    [record] = access_records(caplog)
    assert (record.status, record.close_code) == (101, 1000)  # type: ignore[attr-defined]


async def test_secrets_and_addresses_in_the_access_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An absolute target's password stays out; the method is the request's."""
    caplog.set_level(logging.INFO, logger="wsroute.access")
    app = App()
    app.add_route("/echo", echo)
    async with serving(app) as url:
        host = url.removeprefix("ws://")
        target = f"ws://user:s3cret@{host}/echo?token=s3cret"
        assert (await exchange(url, handshake(target)))[0] == 101
        assert (await exchange(url, handshake("/echo").replace(b"GET", b"POST")))[
            0
        ] == 405
        assert (await exchange(url, handshake("http://[::1/echo")))[0] == 400
        assert (await exchange(url, handshake('/e"cho')))[0] == 404
    messages = [
        record.getMessage().split(" ", 1)[1] for record in access_records(caplog)
    ]
    assert [message.rsplit(" ", 1)[0] for message in messages] == [
        '"GET /echo" 101 1006',
        '"POST /echo" 405 -',
        '"GET -" 400 -',
        '"GET /e%22cho" 404 -',
    ]
    assert "s3cret" not in caplog.text


async def test_ipv6_clients_are_bracketed(caplog: pytest.LogCaptureFixture) -> None:
    """An IPv6 address and its port read unambiguously."""
    caplog.set_level(logging.INFO, logger="wsroute.access")
    app = App()
    app.add_route("/echo", echo)
    async with app.serve("::1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://[::1]:{port}/echo"):
            pass
    [record] = access_records(caplog)
    assert record.getMessage().startswith("[::1]:")


async def test_unix_socket_clients(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A client on a Unix socket has no address to log."""
    caplog.set_level(logging.INFO, logger="wsroute.access")
    app = App()
    app.add_route("/echo", echo)
    path = str(tmp_path / "app.sock")
    async with app.serve(unix=True, path=path):
        async with unix_connect(path, uri="ws://localhost/echo"):
            pass
    [record] = access_records(caplog)
    assert record.getMessage().startswith('- "GET /echo" 101 1000 ')
