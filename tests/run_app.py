"""An app served with App.run(), for the tests of signals and shutdown."""

import asyncio
import logging
import sys

from examples.app import echo
from wsroute import App, Connection

app = App()
app.add_route("/echo", echo)


@app.route("/stuck")
async def stuck(ws: Connection) -> None:
    await ws.send("stuck")
    await asyncio.sleep(3600)  # ignores the closing of the connection


if __name__ == "__main__":
    if "--own-logging" in sys.argv:
        logging.basicConfig(level=logging.INFO, format="own format: %(message)s")
    app.run("127.0.0.1", 0, shutdown_timeout=float(sys.argv[1]))
