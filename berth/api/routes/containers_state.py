"""`/containers/{id}/start|stop|restart|kill|pause|unpause|wait`: the lifecycle's operations
by their Docker names, with Docker's answers — 304 for a start of a running container or a
stop of a stopped one, 409 for a kill of a container that is not running.

A wait is a stream: its 200 goes out at once (as dockerd's, from API 1.30), its one JSON
document when the condition is met, however long that takes; the connection's own thread
waits, so no other request does. The docker CLI's `run` asks for `next-exit` (or `removed`
with --rm) before it starts the container: neither returns for a container that is only
created.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from berth.api.request import Answer, Request, Stream, no_content
from berth.api.router import RouteSpec
from berth.container.signals import signal_number
from berth.container.state import FINISHED, Status
from berth.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from berth.container import ContainerRecord

WAIT_CONDITIONS = ("not-running", "next-exit", "removed")
POLL_FIRST, POLL_MOST = 0.01, 0.1  # seconds between two looks at a waited-for container


def _timeout(request: Request) -> int | None:
    return request.integer("t")


def _signal_name(request: Request) -> str | None:
    """The stop signal asked for (API 1.42 on); checked now, so a bad one changes nothing."""
    name = request.arg("signal") if request.version >= (1, 42) else None
    if name:
        signal_number(name)
    return name or None


def start(request: Request) -> Answer:
    containers = request.engine.containers
    record = containers.lookup(request.params["id"])
    if record.status in (Status.RUNNING, Status.RESTARTING):
        return no_content(304)
    # An attach waiting for this start (the docker CLI's `run`) must miss none of its output.
    containers.start(record, wait_for_attach=request.shared.attach_pending(record.id))
    return no_content()


def stop(request: Request) -> Answer:
    containers = request.engine.containers
    timeout, name = _timeout(request), _signal_name(request)
    record = containers.lookup(request.params["id"])
    if record.status not in (Status.RUNNING, Status.PAUSED, Status.RESTARTING):
        return no_content(304)
    containers.stop(record, timeout, name)
    return no_content()


def restart(request: Request) -> Answer:
    containers = request.engine.containers
    timeout, name = _timeout(request), _signal_name(request)
    containers.restart(containers.lookup(request.params["id"]), timeout, name)
    return no_content()


def kill(request: Request) -> Answer:
    number = signal_number(request.arg("signal") or "SIGKILL")
    containers = request.engine.containers
    record = containers.lookup(request.params["id"])
    containers.kill(record, number, all_processes=number == signal.SIGKILL)
    return no_content()


def pause(request: Request) -> Answer:
    containers = request.engine.containers
    containers.pause(containers.lookup(request.params["id"]))
    return no_content()


def unpause(request: Request) -> Answer:
    containers = request.engine.containers
    containers.unpause(containers.lookup(request.params["id"]))
    return no_content()


def wait(request: Request) -> Answer:
    condition = request.arg("condition") or "not-running"
    if condition not in WAIT_CONDITIONS:
        raise InvalidArgument(f'invalid condition: "{condition}"')
    record = request.engine.containers.lookup(request.params["id"])
    return Stream(_waiting(request, record, condition))


def _exits(record: ContainerRecord) -> tuple[Any, int]:
    """What changes with every exit: when it finished, and how often it was restarted."""
    return record.state.get("FinishedAt"), int(record.state.get("RestartCount") or 0)


def _exited_since(record: ContainerRecord, before: tuple[Any, int]) -> bool:
    finished_at, restarts = _exits(record)
    if restarts > before[1]:
        return True  # it exited, and its restart policy started it again
    ended = record.status in FINISHED or record.status == Status.RESTARTING
    return ended and record.status != Status.CREATED and finished_at != before[0]


def _waiting(request: Request, record: ContainerRecord, condition: str) -> Iterator[bytes]:
    """Look at the container (less often the longer it takes) until the condition holds;
    an empty chunk between looks lets the connection notice a client that went away."""
    containers = request.engine.containers
    began = time.time()
    before = _exits(record)
    last: ContainerRecord | None = None
    delay = POLL_FIRST
    while not request.stopping.is_set():
        try:
            current = containers.get(record.id)
        except NotFound:
            break  # removed: every condition ends there
        if condition == "next-exit":
            if _exited_since(current, before):
                last = current
                break
        elif current.status in FINISHED:
            if condition == "not-running":
                last = current
                break
            # Its latest exit, in case it is removed before the next look (a created
            # container has none: one started, ended and removed between looks is in the
            # journal).
            last = None if current.status == Status.CREATED else current
        else:
            last = None  # running (again): an earlier exit is not the one to report
        yield b""
        time.sleep(delay)
        delay = min(delay * 2, POLL_MOST)
    else:
        return  # the server stops: no answer rather than a wrong one
    yield _result(request, record, last, began)


def _result(
    request: Request, record: ContainerRecord, last: ContainerRecord | None, began: float
) -> bytes:
    import json

    if last is None:  # removed before a look saw its exit: the exit is in the journal
        code, error = _journalled_exit(request, record.id, began), ""
    else:
        code, error = int(last.state.get("ExitCode") or 0), str(last.state.get("Error") or "")
    document = {"StatusCode": code, "Error": {"Message": error} if error else None}
    return json.dumps(document).encode() + b"\n"


def _journalled_exit(request: Request, container_id: str, since: float) -> int:
    """The exit code of the container's last `die` event since the wait began (its monitor
    records it before anything removes the container); 0 if it never ran."""
    from berth.filters import Filters

    filters = Filters({"container": [container_id], "event": ["die"]})
    code = 0
    for event in request.engine.journal.read(since, time.time(), filters, lambda: True):
        if event is not None:
            attributes = (event.get("Actor") or {}).get("Attributes") or {}
            code = int(attributes.get("exitCode") or 0)
    return code


ROUTES: list[RouteSpec] = [
    ("POST", "/containers/{id}/start", start),
    ("POST", "/containers/{id}/stop", stop),
    ("POST", "/containers/{id}/restart", restart),
    ("POST", "/containers/{id}/kill", kill),
    ("POST", "/containers/{id}/pause", pause),
    ("POST", "/containers/{id}/unpause", unpause),
    ("POST", "/containers/{id}/wait", wait),
]
