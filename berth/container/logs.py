"""A container's json-file log, as Docker keeps it: one JSON record per line (`log`,
`stream`, `time`). Read from an offset (`logs -f` goes on from where it was), or only its
last records: `logs --tail N` reads the file from its end, never the whole of it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO

BLOCK = 64 * 1024


def read(path: Path, offset: int = 0, limit: int = -1) -> tuple[list[dict[str, Any]], int]:
    """The complete records from `offset` on, and the offset after the last of them (a
    record still being written is left for the next read). With `limit`, at most that many
    bytes are read (a server streaming a large log holds one piece at a time); a piece with
    no record end in it is a damaged record, skipped."""
    try:
        with open(path, "rb") as stream:
            stream.seek(offset)
            data = stream.read(limit)
    except FileNotFoundError:
        return [], offset
    complete = data[: data.rfind(b"\n") + 1]
    if not complete and 0 < limit <= len(data):
        complete = data
    records = []
    for line in complete.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line damaged by a crash (or a full disk) costs that line only
    return records, offset + len(complete)


def tail_offset(path: Path, count: int) -> int:
    """Where the last `count` complete records start, found by reading backwards from the
    end one block at a time."""
    try:
        with open(path, "rb") as stream:
            return _tail_offset(stream, count)
    except FileNotFoundError:
        return 0


def _tail_offset(stream: BinaryIO, count: int) -> int:
    position = stream.seek(0, os.SEEK_END)
    newlines = 0  # the first one found ends the last complete record
    while position > 0:
        start = max(position - BLOCK, 0)
        stream.seek(start)
        block = stream.read(position - start)
        index = len(block)
        while (index := block.rfind(b"\n", 0, index)) >= 0:
            newlines += 1
            if newlines == count + 1:
                return start + index + 1
        position = start
    return 0
