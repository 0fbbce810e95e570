"""The event journal: what changed in a store, as Docker's events (`berth events`, the API's
`/events`), whoever changed it — a CLI command, the API server or a container's monitor.

Each event is one line of JSON appended with one `write` to a file opened `O_APPEND`, so the
lines of concurrent writers never interleave (berth.journal_append, which also moves a full
file to `<name>.1`). The journal lives in the runroot: like dockerd's event buffer, it does
not outlive a reboot. Recording never fails the change it records: a full disk loses events,
not containers.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from berth.filters import Filters
from berth.journal_append import OLDER_SUFFIX, append

POLL_SECONDS = 0.1
FILTERS = ("container", "event", "image", "label", "network", "type", "volume", "scope", "daemon")

Event = dict[str, Any]


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def record(
        self, kind: str, action: str, actor: str, attributes: Mapping[str, str] | None = None
    ) -> None:
        """Append one event (berth.journal_append)."""
        append(str(self.path), kind, action, actor, attributes)

    @property
    def older(self) -> Path:
        return self.path.with_name(self.path.name + OLDER_SUFFIX)

    def read(
        self,
        since: float | None,
        until: float | None,
        filters: Filters,
        stopped: Callable[[], bool],
    ) -> Iterator[Event | None]:
        """The events matching `filters`, as `docker events` shows them: from `since` if given
        (else only what happens from now on), until `until` if given (else until `stopped`).
        While waiting for new events, None now and then: the caller's chance to stop.
        Bad filters are refused now, before anything is read."""
        filters.only(FILTERS)
        since_ns = None if since is None else int(since * 1e9)
        until_ns = None if until is None else int(until * 1e9)
        lines = _Follower(self.path, self.older, replay=since_ns is not None)
        return self._matching(lines, since_ns, until_ns, filters, stopped)

    @staticmethod
    def _matching(
        lines: _Follower,
        since_ns: int | None,
        until_ns: int | None,
        filters: Filters,
        stopped: Callable[[], bool],
    ) -> Iterator[Event | None]:
        while True:
            line = lines.next_line()
            if line is None:
                if stopped() or (until_ns is not None and time.time_ns() > until_ns):
                    return
                yield None
                time.sleep(POLL_SECONDS)
                continue
            try:
                event = json.loads(line)
                moment = int(event["timeNano"])
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a full disk
            if since_ns is not None and moment < since_ns:
                continue
            if until_ns is not None and moment > until_ns:
                return
            if matches(event, filters):
                yield event


def matches(event: Event, filters: Filters) -> bool:
    """Docker's event filters (moby's daemon/events/filter.go): values of one key OR, keys
    AND; container, network and volume match the actor's id or name by prefix, whatever the
    event's type; image matches exactly, with or without its tag."""
    kind = str(event.get("Type", ""))
    action = str(event.get("Action", ""))
    actor = event.get("Actor") or {}
    actor_id = str(actor.get("ID", ""))
    attributes: dict[str, str] = actor.get("Attributes") or {}
    names = (actor_id, str(attributes.get("name", "")))

    def named(value: str) -> bool:
        return any(name.startswith(value) for name in names if name)

    image_name = str(attributes.get("name" if kind == "image" else "image", ""))
    images = {actor_id, image_name, _untagged(actor_id), _untagged(image_name)}

    def event_named(value: str) -> bool:
        if value in _PREFIX_EVENTS:
            return action.startswith(value)
        return action == value

    return (
        filters.any("type", lambda value: value == kind)
        and filters.any("event", event_named)
        and filters.any("container", named)
        and filters.any("network", named)
        and filters.any("volume", named)
        and filters.any("image", lambda value: value in images)
        and filters.any("scope", lambda value: value == "local")
        and filters.labels(attributes)
    )


# Actions carrying a detail after a colon ("health_status: healthy"), matched by prefix.
_PREFIX_EVENTS = ("health_status", "exec_create", "exec_start")


def _untagged(name: str) -> str:
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


class _Follower:
    """Whole lines of the journal as they are appended, across a rotation."""

    def __init__(self, path: Path, older: Path, *, replay: bool) -> None:
        self.path = path
        self._pending = b""
        self._file: BinaryIO | None = None
        self._queue: list[Path] = [older, path] if replay else []
        if not replay:
            self._open(path, at_end=True)

    def _open(self, path: Path, *, at_end: bool = False) -> None:
        try:
            self._file = open(path, "rb")  # noqa: SIM115 -- kept open while followed
        except OSError:
            self._file = None
            return
        if at_end:
            self._file.seek(0, os.SEEK_END)

    def next_line(self) -> bytes | None:
        while True:
            if self._file is None:
                if self._queue:
                    self._open(self._queue.pop(0))
                    continue
                self._open(self.path)
                if self._file is None:
                    return None
            data = self._file.readline()
            if data:
                self._pending += data
                if self._pending.endswith(b"\n"):
                    line, self._pending = self._pending, b""
                    return line
                continue
            if self._queue or self._rotated():
                self._file.close()
                self._file = None
                self._pending = b""
                continue
            return None

    def _rotated(self) -> bool:
        assert self._file is not None
        try:
            return os.stat(self.path).st_ino != os.fstat(self._file.fileno()).st_ino
        except OSError:
            return False
