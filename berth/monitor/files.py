"""The files a monitor writes: its status (atomically replaced), the json-file log, and its
events in the store's journal.

`status.json` in the container's run directory is the monitor's only channel to the rest of
berth: readers (ps, inspect, wait) merge it into the container's row. It is replaced by
rename, so a reader sees either the old or the new status, never half of one.

A full disk never stops the monitor: log records that can't be written are dropped and
counted, and the first record written once there is room again says how many were lost.

With a size limit (`--log-opt max-size=`, `max-file=`) the log rotates as Docker's
json-file driver does: once the file has reached the limit, before the next write, `.1`
becomes `.2` and so on (the oldest, `.<max-file - 1>`, goes), the file becomes `.1` and a
new one is begun (with max-file 1 the old one is simply removed). Readers see the files as
one stream: `<log>.base` holds where the current file begins in it (the bytes written before
it, rotated away or not), rewritten in place under an exclusive flock while the files move;
readers take it shared while they open the files (berth.container.logs).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth import jsonio
from berth.monitor.config import RENAMED

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from berth.monitor.config import MonitorConfig

# Docker splits a log line longer than this into several records.
MAX_LOG_LINE = 16 * 1024
FULL = (errno.ENOSPC, errno.EDQUOT)
BASE_SUFFIX = ".base"  # `<log>.base`: where the current file begins in the whole log
BASE_SIZE = 21  # 20 digits and a newline, rewritten in place
SMALL_FILE = 1 << 16  # a read's size for files like status.json


def rfc3339_nano(seconds: float | None = None) -> str:
    """`2024-01-02T03:04:05.123456789Z`, the timestamp format of Docker's logs and API."""
    moment = time.time_ns() if seconds is None else int(seconds * 1_000_000_000)
    whole, fraction = divmod(moment, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{fraction:09d}Z"


def write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    with open(temporary, "w") as stream:
        json.dump(document, stream)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)


STATUS_LOCK = "status.lock"


@contextlib.contextmanager
def status_lock(run_dir: Path) -> Iterator[bool]:
    """Held while one of status.json's writers reads, changes and writes it: a container
    conmon holds has several (the engine's start, the exit command, the supervisor's
    healthchecks; berth's monitor is its container's only one). Yields False, holding
    nothing, when the run directory is gone."""
    import fcntl

    try:
        fd = os.open(run_dir / STATUS_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        yield False
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield True
    finally:
        os.close(fd)


def write_status(path: Path, status: dict[str, Any], reserve: str) -> None:
    """The monitor's status.json, written whatever happened around it: a run directory
    wiped (a /run cleanup without a reboot) is made again, so readers learn how the
    container ends; on a full disk the store's reserve (berth.space) is the room for it, or
    else the status waits for the next change (the container is held either way)."""
    try:
        write_json_atomically(path, status)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomically(path, status)
    except OSError as error:
        if error.errno not in FULL:
            raise
        from berth import space

        if reserve and space.make_room(Path(reserve)):
            with contextlib.suppress(OSError):
                write_json_atomically(path, status)


def running(pid: int | None, started_at: str | None) -> dict[str, Any]:
    """A status's fields once its container runs."""
    return {
        "Status": "running",
        "Running": True,
        "Pid": pid,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": started_at,
        "FinishedAt": "0001-01-01T00:00:00Z",
        "OOMKilled": False,
    }


def ended(restarting: bool, exit_code: int, oom_killed: bool) -> dict[str, Any]:
    """A status's fields once its container's process has ended."""
    return {
        "Status": "restarting" if restarting else "exited",
        "Running": False,
        "Pid": 0,
        "ExitCode": exit_code,
        "OOMKilled": oom_killed,
        "FinishedAt": rfc3339_nano(),
    }


def announce(config: MonitorConfig, action: str, **attributes: str) -> None:
    """A container event in the store's journal (what `docker events` shows): die, oom, a
    restart's start, health_status; with its image, labels and its name as it is now."""
    if config.events:
        from berth.events import Journal

        details = {**(config.event_attributes or {}), **attributes}
        with contextlib.suppress(OSError):  # renamed since it started
            details["name"] = (Path(config.run_dir) / RENAMED).read_text()
        Journal(Path(config.events)).record("container", action, config.id, details)


def read_json(path: Path | str) -> dict[str, Any] | None:
    """A small JSON file written whole (os.replace), in one read(2): listings read one per
    container."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        document = jsonio.loads(_read_all(fd))
    except ValueError:
        return None
    finally:
        os.close(fd)
    return document if isinstance(document, dict) else None


def _read_all(fd: int) -> bytes:
    chunks = [os.read(fd, SMALL_FILE)]
    while len(chunks[-1]) == SMALL_FILE:  # rarely: a status longer than one read
        chunks.append(os.read(fd, SMALL_FILE))
    return b"".join(chunks)


class JsonLog:
    """Docker's json-file log driver: one JSON object per line with log, stream and time.

    `on_drops` hears the number of records dropped so far when dropping starts and when
    writing works again (the monitor puts it in the container's State). No `path` (the
    `none` driver): nothing is written. `max_size` > 0: the log rotates (see above)."""

    def __init__(
        self,
        path: Path | None,
        on_drops: Callable[[int], None] | None = None,
        max_size: int = -1,
        max_files: int = 1,
    ) -> None:
        self._path = path
        self._fd = -1 if path is None else _open_log(path, 0)
        self._size = os.fstat(self._fd).st_size if self._fd >= 0 else 0
        self._max_size, self._max_files = max_size, max(max_files, 1)
        self._base = -1  # the `.base` file, open while the log may rotate
        if path is not None and max_size > 0:
            self._base = open_base(path)
        self._pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self.on_drops = on_drops
        self.dropped = 0  # records lost since the last one written
        self.dropped_total = 0
        self._torn = False  # a record was cut short by the full disk: end its line first

    def write(self, stream: str, data: bytes) -> None:
        buffered = self._pending[stream] + data
        records = []
        while True:
            newline = buffered.find(b"\n")
            if newline < 0 and len(buffered) < MAX_LOG_LINE:
                break
            cut = newline + 1 if 0 <= newline < MAX_LOG_LINE else MAX_LOG_LINE
            records.append(self._record(stream, buffered[:cut]))
            buffered = buffered[cut:]
        self._pending[stream] = buffered
        if records:
            self._append(records)

    def _record(self, stream: str, line: bytes) -> bytes:
        text = line.decode("utf-8", errors="replace")
        document = {"log": text, "stream": stream, "time": rfc3339_nano()}
        return (json.dumps(document, ensure_ascii=False) + "\n").encode()

    def _append(self, records: list[bytes]) -> None:
        """Write the records; a rotating log rotates before the record that finds the file
        at its limit (Docker's check), so a file passes it by less than one record."""
        if self._fd < 0:
            return
        while records:
            count = len(records)
            if self._base >= 0:
                if self._size >= self._max_size:
                    self._rotate()
                room, count = self._max_size - self._size, 0
                while count < len(records) and room > 0:
                    room -= len(records[count])
                    count += 1
            self._write(records[:count])
            records = records[count:]

    def _write(self, records: list[bytes]) -> None:
        if self.dropped:
            note = f"berth: {self.dropped} log records dropped: no space left on device\n"
            records = [self._record("stderr", note.encode()), *records]
        data = (b"\n" if self._torn else b"") + b"".join(records)
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError as error:
            if error.errno not in FULL:
                raise
            self._size += written
            if written:  # the file now ends with what was written: maybe half a record
                self._torn = not data[:written].endswith(b"\n")
            lost = data[written:].count(b"\n") - (1 if self.dropped else 0)
            starting = not self.dropped
            self.dropped += max(lost, 1)
            self.dropped_total += max(lost, 1)
            if starting and self.on_drops is not None:
                self.on_drops(self.dropped_total)
            return
        self._size += written
        self._torn = False
        if self.dropped:
            self.dropped = 0
            if self.on_drops is not None:
                self.on_drops(self.dropped_total)

    def flush(self) -> None:
        """Write out partial lines (at exit, output without a final newline)."""
        for stream, rest in self._pending.items():
            if rest:
                self._append([self._record(stream, rest)])
                self._pending[stream] = b""

    def _rotate(self) -> None:
        """Move the files along (Docker's order) and begin a new one, the base moved on by
        what the old one held, all under the base file's exclusive lock."""
        import fcntl

        assert self._path is not None
        name = str(self._path)
        fcntl.flock(self._base, fcntl.LOCK_EX)
        try:
            base = read_base(self._base) + self._size
            if self._max_files > 1:
                move_along(name, self._max_files)
                os.rename(name, f"{name}.1")
            else:
                os.unlink(name)
            fd = _open_log(self._path, os.O_TRUNC)
            write_base(self._base, base)
        finally:
            fcntl.flock(self._base, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd, self._size, self._torn = fd, 0, False

    def close(self) -> None:
        self.flush()
        if self._fd >= 0:
            os.close(self._fd)
        if self._base >= 0:
            os.close(self._base)


def _open_log(path: Path, flags: int) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | flags, 0o640)


def open_base(path: Path) -> int:
    """`<log>.base`, made (at 0) if the log never rotated yet: its presence tells readers to
    look for rotated files."""
    fd = os.open(f"{path}{BASE_SUFFIX}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
    if os.fstat(fd).st_size < BASE_SIZE:
        write_base(fd, 0)
    return fd


def read_base(fd: int) -> int:
    text = os.pread(fd, BASE_SIZE, 0)
    return int(text) if text.strip().isdigit() else 0


def write_base(fd: int, base: int) -> None:
    os.pwrite(fd, f"{base:020d}\n".encode(), 0)


def move_along(name: str, max_files: int) -> None:
    """Room for a new `<name>.1` (Docker's order): the oldest file dropped, `<name>.N-1` …
    `<name>.1` renumbered one up. Under the base file's exclusive lock."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"{name}.{max_files - 1}")
    for index in range(max_files - 1, 1, -1):
        with contextlib.suppress(FileNotFoundError):
            os.rename(f"{name}.{index - 1}", f"{name}.{index}")
