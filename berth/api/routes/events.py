"""`GET /events`: the store's event journal as a stream of JSON lines (`docker events`)."""

from __future__ import annotations

from berth import humanize
from berth.api.request import Answer, Request, Stream
from berth.api.streams import json_lines
from berth.errors import InvalidArgument


def _moment(request: Request, name: str) -> float | None:
    text = request.arg(name)
    if not text:
        return None
    moment = humanize.moment(text)
    if moment is None:
        raise InvalidArgument(f"invalid value for {name}: {text!r}")
    return moment


def events(request: Request) -> Answer:
    """Without `since`, only what happens from now on; without `until`, until the client
    goes (or the server stops)."""
    since, until = _moment(request, "since"), _moment(request, "until")
    filters = request.filters()
    documents = request.engine.journal.read(since, until, filters, request.stopping.is_set)
    return Stream(json_lines(documents))


ROUTES = [("GET", "/events", events)]
