"""One event appended to the store's journal (berth.events): the line and the write, without
json, pathlib or typing (json imports re: ~3 ms of `push`'s quick path, which records Docker's
`push` event too).

One `write` of one line to the file opened `O_APPEND`, so the lines of concurrent writers
never interleave; past MAX_SIZE the file moves to `<name>.1` (the one older file kept).
Never fails the change it records: a full disk loses events, not containers.
"""

from __future__ import annotations

import os
import time

try:  # the C function json.dumps uses for its strings (ensure_ascii)
    from _json import encode_basestring_ascii as _quoted
except ImportError:  # pragma: no cover - an interpreter without the accelerator
    from json.encoder import py_encode_basestring_ascii as _quoted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_SIZE = 1024 * 1024
OLDER_SUFFIX = ".1"


def append(
    path: str, kind: str, action: str, actor: str, attributes: Mapping[str, str] | None = None
) -> None:
    """Append one event: `kind` is Docker's Type (container, image, network, volume),
    `actor` the object's id (an image's reference for image events)."""
    nanoseconds = time.time_ns()
    document: dict[str, object] = {}
    if kind in ("container", "image"):  # the fields API clients before 1.22 read
        document["status"] = action
        document["id"] = actor
        if kind == "container" and attributes and "image" in attributes:
            document["from"] = attributes["image"]
    document.update(
        {
            "Type": kind,
            "Action": action,
            "Actor": {"ID": actor, "Attributes": dict(attributes or {})},
            "scope": "local",
            "time": nanoseconds // 1_000_000_000,
            "timeNano": nanoseconds,
        }
    )
    line = (_encode(document) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        os.write(fd, line)
        if os.fstat(fd).st_size > MAX_SIZE:
            _rotate(path, fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _rotate(path: str, fd: int) -> None:
    """Move the full file aside, unless another writer did already (the path then names a
    new, small file)."""
    if os.stat(path).st_ino == os.fstat(fd).st_ino:
        os.replace(path, path + OLDER_SUFFIX)


def _encode(value: object) -> str:
    """json.dumps(value, separators=(",", ":")) of the event's types: the same bytes."""
    if isinstance(value, str):
        return str(_quoted(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_quoted(str(k))}:{_encode(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"an event holds no {type(value).__name__}")
