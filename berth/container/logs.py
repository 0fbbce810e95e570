"""A container's json-file log, as Docker keeps it: one JSON record per line (`log`,
`stream`, `time`); or, for a container held by conmon, conmon's (Kubernetes') format, read as
the same records. Read from an offset (`logs -f` goes on from where it was), or only its
last records: `logs --tail N` reads the file from its end, never the whole of it.

A log that rotates (`--log-opt max-size=`) is several files, `<log>.<n>` … `<log>.1` and
`<log>` itself, read as one stream: an offset counts every byte ever written to the log,
and `<log>.base` says where the current file begins (berth.monitor.files writes it, under
an exclusive flock while the files move; here it is taken shared while they are opened).
An offset in a file rotated away since is read from the oldest file that is left.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from berth.monitor.files import BASE_SUFFIX, read_base

BLOCK = 64 * 1024


class Piece(NamedTuple):
    start: int  # where the file begins in the whole log
    stream: BinaryIO
    size: int


def _open(path: Path) -> list[Piece]:
    """The log's files, oldest first, each open (so a rotation meanwhile changes nothing
    that is being read); none when there is no log. The caller closes them."""
    current: BinaryIO | None = None
    rotated: list[BinaryIO] = []
    try:
        base = 0
        try:
            lock = os.open(f"{path}{BASE_SUFFIX}", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            lock = -1  # a log that never rotates: one file
        try:
            if lock >= 0:
                import fcntl

                fcntl.flock(lock, fcntl.LOCK_SH)
                base = read_base(lock)
            with contextlib.suppress(FileNotFoundError):
                current = open(path, "rb")  # noqa: SIM115 - the caller closes it
            while lock >= 0:
                try:
                    rotated.insert(0, open(f"{path}.{len(rotated) + 1}", "rb"))  # noqa: SIM115
                except FileNotFoundError:
                    break
        finally:
            if lock >= 0:
                os.close(lock)
        pieces = []
        start = base - sum(os.fstat(stream.fileno()).st_size for stream in rotated)
        for stream in [*rotated, *([current] if current else [])]:
            size = os.fstat(stream.fileno()).st_size
            pieces.append(Piece(start, stream, size))
            start += size
        return pieces
    except BaseException:
        _close([Piece(0, stream, 0) for stream in [*rotated, *([current] if current else [])]])
        raise


def _close(pieces: list[Piece]) -> None:
    for piece in pieces:
        piece.stream.close()


@contextlib.contextmanager
def _pieces(path: Path) -> Iterator[list[Piece]]:
    pieces = _open(path)
    try:
        yield pieces
    finally:
        _close(pieces)


def read(path: Path, offset: int = 0, limit: int = -1) -> tuple[list[dict[str, Any]], int]:
    """The complete records from `offset` on, and the offset after the last of them (a
    record still being written is left for the next read). With `limit`, at most that many
    bytes are read (a server streaming a large log holds one piece at a time); a piece with
    no record end in it is a damaged record, skipped. Rotated files are read to their end
    and the next one begun, as if the log were one file."""
    with _pieces(path) as pieces:
        return _read(pieces, offset, limit)


class Follower:
    """A log read as it grows (`logs -f`), its files kept open from one read to the next:
    a container removed between two reads (docker-py's `run` removes it once `wait`
    returns, while its follower may still be reading) leaves its files unlinked but still
    readable here, so what it wrote before it went is never lost."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._held: list[Piece] = []

    def read(self, offset: int, limit: int = -1) -> tuple[list[dict[str, Any]], int]:
        pieces = _open(self.path)
        if pieces:
            _close(self._held)
            self._held = pieces
        else:  # gone: the files last opened, as far as they were written
            pieces = self._held
            sizes = [os.fstat(piece.stream.fileno()).st_size for piece in pieces]
            pieces = [piece._replace(size=size) for piece, size in zip(pieces, sizes, strict=True)]
        return _read(pieces, offset, limit)

    def close(self) -> None:
        _close(self._held)
        self._held = []


def _read(pieces: list[Piece], offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    records: list[dict[str, Any]] = []
    offset = max(offset, pieces[0].start) if pieces else offset
    if len(pieces) == 1 and pieces[0].start == 0 and offset > pieces[0].size:
        offset = 0  # conmon's log begun again (max-size): its new file from the start
    budget = limit
    for number, piece in enumerate(pieces):
        last = number == len(pieces) - 1
        if offset >= piece.start + piece.size and not last:
            continue
        piece.stream.seek(offset - piece.start)
        data = piece.stream.read(budget)
        complete = data[: data.rfind(b"\n") + 1]
        if not last and offset + len(data) >= piece.start + piece.size:
            complete = data  # a rotated file's end: whatever a full disk cut short goes
        elif not complete and 0 < budget <= len(data):
            complete = data  # a damaged record as long as a piece: skipped past
        records += _records(complete)
        offset += len(complete)
        if budget > 0:
            budget -= len(data)
            if budget <= 0:
                break
    return records, offset


def _records(data: bytes) -> list[dict[str, Any]]:
    records = []
    for line in data.split(b"\n"):
        if not line:
            continue
        try:
            records.append(json.loads(line) if line[:1] == b"{" else _k8s_record(line))
        except ValueError:
            continue  # a line damaged by a crash (or a full disk) costs that line only
    return records


def _k8s_record(line: bytes) -> dict[str, Any]:
    """A record of conmon's log (`berth.monitor.conmon`), Kubernetes' format: `TIME STREAM
    P|F TEXT`, P for a piece of a line (a read that ended before its newline), F for its
    end. As Docker's json-file record: a piece is a record without a newline."""
    stamp, stream, tag, text = (
        line.split(b" ", 3) if line.count(b" ") >= 3 else (b"", b"", b"", b"")
    )
    if tag not in (b"P", b"F") or stream not in (b"stdout", b"stderr"):
        raise ValueError("not a record")
    log = text.decode(errors="replace") + ("\n" if tag == b"F" else "")
    return {"log": log, "stream": stream.decode(), "time": _utc(stamp.decode())}


def _utc(stamp: str) -> str:
    """conmon's local time with its offset (`…T18:17:56.437893520+01:00`) as Docker's UTC
    RFC 3339 with nanoseconds (`…T17:17:56.437893520Z`)."""
    if stamp.endswith("Z"):
        return stamp
    if stamp.endswith("+00:00"):
        return stamp[:-6] + "Z"
    from datetime import UTC, datetime

    seconds, fraction, offset = stamp[:19], stamp[19:-6], stamp[-6:]
    moment = datetime.fromisoformat(seconds + offset).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def tail_offset(path: Path, count: int) -> int:
    """Where the last `count` complete records start, found by reading backwards from the
    end one block at a time, through the rotated files if it must."""
    with _pieces(path) as pieces:
        newlines = 0  # the first one found ends the last complete record
        for piece in reversed(pieces):
            position = piece.size
            while position > 0:
                start = max(position - BLOCK, 0)
                piece.stream.seek(start)
                block = piece.stream.read(position - start)
                index = len(block)
                while (index := block.rfind(b"\n", 0, index)) >= 0:
                    newlines += 1
                    if newlines == count + 1:
                        return piece.start + start + index + 1
                position = start
        return pieces[0].start if pieces else 0
