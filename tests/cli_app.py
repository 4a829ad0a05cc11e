"""Apps for the tests of the command line."""

import os

from examples.app import echo
from wsroute import App, FirstMessageRouter, MessageRouter
from wsroute.auth import BearerToken

app = App()
app.get("/health")(lambda ws, request: "ok\n")
app.add_route("/old", redirect_to="/echo")
app.add_route("/echo", echo, hooks=[BearerToken(str)])
app.add_route("/game", FirstMessageRouter("game"))
app.add_route("/rpc", MessageRouter("rpc"))

not_an_app = 42

failing = App()
failing.add_route("/echo", echo)


@failing.on_startup
def fail() -> None:
    raise OSError("the database is down")


one_of_two = App()
one_of_two.add_route("/echo", echo)


@one_of_two.on_startup
def only_once() -> None:
    # The first worker creates the file; the second finds it and fails.
    os.close(os.open(os.environ["WSROUTE_TEST_LOCK"], os.O_CREAT | os.O_EXCL))
