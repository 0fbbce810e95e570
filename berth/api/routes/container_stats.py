"""`GET /containers/{id}/stats`: Docker's stats documents, from the readings `berth stats`
takes (berth.container.stats), shaped in berth.engine.reports.stats.

Streamed (the default), a document a second until the client goes, the container stops or
the server does; with `stream=false`, one document from two readings `INTERVAL` apart, so
its CPU figures have a `precpu_stats` to be compared with (`one-shot=true`: one reading, no
wait, as dockerd answers from API 1.41).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from berth.api.request import Answer, Request, Stream, json_reply
from berth.api.router import RouteSpec
from berth.api.streams import json_lines

if TYPE_CHECKING:
    from berth.container import ContainerRecord

INTERVAL = 1.0  # between two documents of a stream, as dockerd's collector
PRIMING = 0.5  # between the two readings of a single document
TICK = 0.25  # how soon a stream notices a client gone or a server stopping


def stats(request: Request) -> Answer:
    from berth.engine.reports.stats import document

    stream = request.flag("stream", True)
    one_shot = request.version >= (1, 41) and request.flag("one-shot")
    engine = request.engine
    record = engine.containers.lookup(request.params["id"])
    if stream:
        return Stream(json_lines(_documents(request, record)))
    tools = engine.container_tools
    first = tools.sample(record)
    if first is None or one_shot:
        return json_reply(document(record, first, None))
    time.sleep(PRIMING)
    second = tools.sample(record)
    return json_reply(document(record, second, first if second else None))


def _documents(request: Request, record: ContainerRecord) -> Iterator[dict[str, Any] | None]:
    """A document a second; one of zeros, then the end, once the container is not running.
    None between documents: the connection's chance to notice a client that went away."""
    from berth.engine.reports.stats import document

    tools = request.engine.container_tools
    previous = None
    while not request.stopping.is_set():
        current = tools.sample(record)
        yield document(record, current, previous)
        if current is None:
            return
        previous = current
        due = time.monotonic() + INTERVAL
        while time.monotonic() < due and not request.stopping.is_set():
            yield None
            time.sleep(min(TICK, max(0.0, due - time.monotonic())))


ROUTES: list[RouteSpec] = [("GET", "/containers/{id}/stats", stats)]
