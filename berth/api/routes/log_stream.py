"""GET /containers/{id}/logs, and the log replay of attach's `logs=1`: the container's
json-file log as Docker sends it — stdcopy frames (raw bytes for a TTY container), each line
after its timestamp with `timestamps`, from the last `tail` lines, between `since` and
`until`; with `follow`, new lines as they are written until the container stops, the client
goes or the server stops.

The log is read a piece at a time (never whole: it may be large) through the containers
facade, and followed by looking again every FOLLOW_POLL_SECONDS.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from berth.api import streams
from berth.api.request import Answer, Request, Stream
from berth.container.state import ACTIVE
from berth.errors import InvalidArgument
from berth.humanize import parse_time

if TYPE_CHECKING:
    import threading

    from berth.engine.containers import Containers

PIECE = 1 << 20  # bytes of the log read at a time
FOLLOW_POLL_SECONDS = 0.1
_TIMESTAMP = re.compile(r"-?\d+(\.\d{1,9})?")


class LogOptions(NamedTuple):
    stdout: bool
    stderr: bool
    tty: bool
    timestamps: bool = False
    since: int | None = None  # nanoseconds since the epoch
    until: int | None = None


def moment(request: Request, name: str) -> int | None:
    """Docker's `since`/`until`: seconds since the epoch, optionally `.nanoseconds`; `0`
    (or nothing) means no bound."""
    text = (request.arg(name) or "").strip()
    if not text:
        return None
    if not _TIMESTAMP.fullmatch(text):
        raise InvalidArgument(f"invalid value for {name}: {text!r}")
    seconds, _, fraction = text.partition(".")
    value = int(seconds) * 1_000_000_000
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    value += -nanos if text.startswith("-") else nanos
    return value or None


def _nanoseconds(text: str) -> int:
    """A record's time (`2024-01-02T03:04:05.123456789Z`, as the monitor writes it) in
    nanoseconds, exactly; another RFC 3339 form to the microsecond."""
    head, dot, rest = text.partition(".")
    if dot and rest.endswith("Z") and rest[:-1].isdigit():
        try:
            whole = datetime.fromisoformat(head).replace(tzinfo=UTC)
        except ValueError:
            return 0
        return int(whole.timestamp()) * 1_000_000_000 + int(rest[:-1].ljust(9, "0")[:9])
    parsed = parse_time(text)
    return int(parsed.timestamp() * 1_000_000) * 1000 if parsed else 0


def render(records: Iterable[dict[str, Any]], options: LogOptions) -> tuple[bytes, bool]:
    """The records' bytes on the wire, and whether one was past `until` (the end)."""
    out = bytearray()
    for record in records:
        if options.since is not None or options.until is not None:
            when = _nanoseconds(str(record.get("time") or ""))
            if options.since is not None and when < options.since:
                continue
            if options.until is not None and when > options.until:
                return bytes(out), True
        stream = streams.STDERR if record.get("stream") == "stderr" else streams.STDOUT
        if not (options.stderr if stream == streams.STDERR else options.stdout):
            continue
        line = str(record.get("log", ""))
        if options.timestamps:
            line = f"{record.get('time', '')} {line}"
        data = line.encode()
        out += data if options.tty else streams.frame(stream, data)
    return bytes(out), False


def chunks(
    containers: Containers,
    container_id: str,
    options: LogOptions,
    *,
    offset: int = 0,
    follow: bool = False,
    stopping: threading.Event | None = None,
) -> Iterator[bytes]:
    """The log from `offset` on, then (with `follow`) what is written until the container
    stops; an empty chunk now and then while nothing is written (a chance to notice a
    client that went away)."""
    ending = not follow
    reader = containers.log_reader(container_id)
    try:
        while True:
            records, after = reader.read(offset, PIECE)
            progressed, offset = after != offset, after
            data, past_until = render(records, options)
            if data:
                yield data
            if past_until:
                return
            if progressed:
                continue  # more may be there already
            if ending or (stopping is not None and stopping.is_set()):
                return
            over = options.until is not None and time.time_ns() > options.until
            if over or not containers.writes_log(container_id):  # removed: its files are open
                ending = True  # what it wrote before it stopped is read once more, then the end
                continue
            yield b""
            time.sleep(FOLLOW_POLL_SECONDS)
    finally:
        reader.close()


def container_logs(request: Request) -> Answer:
    containers = request.engine.containers
    record = containers.lookup(request.params["id"])
    containers.check_log_readable(record)
    options = LogOptions(
        stdout=request.flag("stdout"),
        stderr=request.flag("stderr"),
        tty=bool(record.config.get("Tty")),
        timestamps=request.flag("timestamps"),
        since=moment(request, "since"),
        until=moment(request, "until"),
    )
    if not (options.stdout or options.stderr):
        raise InvalidArgument("Bad parameters: you must choose at least one stream")
    try:  # as dockerd: anything but a number is "all"
        tail = int(request.arg("tail") or "all")
    except ValueError:
        tail = -1
    offset = containers.log_tail_offset(record.id, tail) if tail >= 0 else 0
    follow = request.flag("follow") and record.status in ACTIVE
    body = chunks(
        containers, record.id, options, offset=offset, follow=follow, stopping=request.stopping
    )
    return Stream(body, streams.content_type(options.tty, request.version))
