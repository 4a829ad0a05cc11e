"""An app with one route of each kind, for the tests of the command line."""

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
