"""The store's reserve: a little space kept aside for the commands that free space.

A container can fill the store's filesystem. What a user then types to free it — `stop`,
`kill`, `rm -f` — and the monitor recording its container's exit must still write a few
kilobytes (SQLite's write-ahead log, status.json). A file of RESERVE_BYTES in the store's
root is that room: the commands that free space delete it when the filesystem is full, and
any command that opens the store puts it back once there is room again. Stdlib only: the
monitor imports this module.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

RESERVE_BYTES = 4 << 20


def free_bytes(directory: Path) -> int:
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


def make_room(reserve: Path) -> bool:
    """Give the reserve (the file at `reserve`: Layout.reserve) back to the filesystem if it
    is (nearly) full; True if it did."""
    try:
        if free_bytes(reserve.parent) >= RESERVE_BYTES:
            return False
        reserve.unlink()
    except OSError:
        return False
    return True


def keep(reserve: Path) -> None:
    """Put the reserve back (or make it, for a new store) when there is room for it twice
    over; a store that can't be written (read-only, full) is left as it is."""
    if reserve.exists():
        return
    staged = reserve.with_name(reserve.name + ".new")
    try:
        if free_bytes(reserve.parent) < 2 * RESERVE_BYTES:
            return
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
        finally:
            os.close(fd)
        os.replace(staged, reserve)
    except OSError:
        with contextlib.suppress(OSError):
            staged.unlink()
