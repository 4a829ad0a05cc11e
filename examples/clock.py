#!/usr/bin/env python
"""
Clock, alarm and timer, routed with custom converters.

A port, to decorators, of the routing experiment of websockets: the URL
carries a time zone, a date and time, or a duration, and converters turn them
into Python objects before the handler runs::

    ws://localhost:8000/clock                 the time in UTC, every second
    ws://localhost:8000/clock/Europe/Paris    the time in Paris, every second
    ws://localhost:8000/alarm/2030-01-01T00:00:00/Europe/Paris
    ws://localhost:8000/timer/00:01:30        a countdown from 1 min 30 s
    ws://localhost:8000/                      redirects to /clock

"""

import asyncio
import datetime
import functools
import math
import zoneinfo

from werkzeug.routing import BaseConverter, ValidationError

from wsroute import App, Connection


class ZoneInfoConverter(BaseConverter):
    """A time zone of the IANA database, such as ``Europe/Paris``."""

    regex = r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*"
    part_isolating = False  # the regex matches slashes

    def to_python(self, value: str) -> zoneinfo.ZoneInfo:
        # Look the name up in the list of zones before opening any file:
        # ZoneInfo("Europe") would try to read a directory.
        if value not in time_zones():
            raise ValidationError()
        return zoneinfo.ZoneInfo(value)

    def to_url(self, value: zoneinfo.ZoneInfo) -> str:
        return value.key


@functools.cache
def time_zones() -> set[str]:
    """Return the names of the time zones this machine knows; read them once."""
    return zoneinfo.available_timezones()


class DateTimeConverter(BaseConverter):
    """A date and time in ISO 8601 form, such as ``2030-01-01T08:00:00``."""

    regex = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?"

    def to_python(self, value: str) -> datetime.datetime:
        try:
            return datetime.datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError() from None

    def to_url(self, value: datetime.datetime) -> str:
        return value.isoformat()


class TimeDeltaConverter(BaseConverter):
    """A duration under a day, as ``HH:MM:SS``."""

    regex = r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"

    def to_python(self, value: str) -> datetime.timedelta:
        hours, minutes, seconds = map(int, value.split(":"))
        return datetime.timedelta(hours=hours, minutes=minutes, seconds=seconds)

    def to_url(self, value: datetime.timedelta) -> str:
        return format_duration(value)


def format_duration(delta: datetime.timedelta) -> str:
    """Format a duration as ``HH:MM:SS``."""
    minutes, seconds = divmod(int(delta.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


app = App(
    converters={
        "tz": ZoneInfoConverter,
        "datetime": DateTimeConverter,
        "timedelta": TimeDeltaConverter,
    }
)

app.add_route("/", redirect_to="/clock")


@app.route("/clock", defaults={"tz": datetime.UTC})
@app.route("/clock/<tz:tz>")
async def clock(ws: Connection, tz: datetime.tzinfo) -> None:
    """Send the time in a time zone, every second, on the second."""
    while True:
        now = datetime.datetime.now(tz)
        await ws.send(now.replace(microsecond=0).isoformat())
        await asyncio.sleep(1 - now.microsecond / 1_000_000)


@app.route("/alarm/<datetime:at>/<tz:tz>")
async def alarm(ws: Connection, at: datetime.datetime, tz: datetime.tzinfo) -> None:
    """Send the alarm time when it comes, unless the client leaves first."""
    at = at.replace(tzinfo=tz)
    delay = (at - datetime.datetime.now(datetime.UTC)).total_seconds()
    try:
        async with asyncio.timeout(delay):
            await ws.wait_closed()
    except TimeoutError:
        await ws.send(at.isoformat())


@app.route("/timer/<timedelta:duration>")
async def timer(ws: Connection, duration: datetime.timedelta) -> None:
    """Count down to zero, sending the time left every second."""
    loop = asyncio.get_running_loop()
    end = loop.time() + duration.total_seconds()
    while (left := end - loop.time()) > 0:
        await ws.send(format_duration(datetime.timedelta(seconds=math.ceil(left))))
        await asyncio.sleep(left - math.floor(left) or 1)
    await ws.send(format_duration(datetime.timedelta(0)))


if __name__ == "__main__":
    app.run()
