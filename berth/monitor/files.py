"""The files a monitor writes: its status (atomically replaced) and the json-file log.

`status.json` in the container's run directory is the monitor's only channel to the rest of
berth: readers (ps, inspect, wait) merge it into the container's row. It is replaced by
rename, so a reader sees either the old or the new status, never half of one.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

# Docker splits a log line longer than this into several records.
MAX_LOG_LINE = 16 * 1024


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


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path) as stream:
            document = json.load(stream)
    except (FileNotFoundError, ValueError):
        return None
    return document if isinstance(document, dict) else None


class JsonLog:
    """Docker's json-file log driver: one JSON object per line with log, stream and time."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self._pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}

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
            os.write(self._fd, b"".join(records))

    def _record(self, stream: str, line: bytes) -> bytes:
        text = line.decode("utf-8", errors="replace")
        document = {"log": text, "stream": stream, "time": rfc3339_nano()}
        return (json.dumps(document, ensure_ascii=False) + "\n").encode()

    def flush(self) -> None:
        """Write out partial lines (at exit, output without a final newline)."""
        for stream, rest in self._pending.items():
            if rest:
                os.write(self._fd, self._record(stream, rest))
                self._pending[stream] = b""

    def close(self) -> None:
        self.flush()
        os.close(self._fd)
