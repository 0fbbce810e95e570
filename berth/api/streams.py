"""The shapes of Docker's streams: multiplexed stdout/stderr frames (`stdcopy`) and JSON
lines (pull progress, events, stats)."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator
from typing import Any

STDIN, STDOUT, STDERR = 0, 1, 2
SYSTEM_ERROR = 3  # a frame carrying an error message (moby's stdcopy.Systemerr)
_HEADER = struct.Struct(">BxxxI")

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"


def frame(stream: int, data: bytes) -> bytes:
    """One frame: stream number, three zero bytes, the payload's size (big-endian)."""
    return _HEADER.pack(stream, len(data)) + data


def content_type(tty: bool, version: tuple[int, int]) -> str:
    """Raw bytes with a TTY; frames without one (announced as such from API 1.42)."""
    return MULTIPLEXED_STREAM if not tty and version >= (1, 42) else RAW_STREAM


def json_lines(documents: Iterable[dict[str, Any] | None]) -> Iterator[bytes]:
    """Each document as a line of JSON; None passes on as an empty chunk (a chance for the
    connection to notice a client that went away)."""
    for document in documents:
        yield b"" if document is None else json.dumps(document).encode() + b"\n"
