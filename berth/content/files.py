"""Crash-safe file placement: temp file, fsync, rename, fsync the directory (DESIGN §5)."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def place(source: Path, destination: Path, *, mode: int = 0o444) -> None:
    """Make a complete, synced `source` appear atomically as `destination`."""
    os.chmod(source, mode)
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, destination)
    fsync_directory(destination.parent)


def write_atomically(destination: Path, data: bytes, tmp_dir: Path, *, mode: int = 0o444) -> None:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    temporary = tmp_dir / f".{destination.name}.{os.getpid()}.{id(data)}"
    with open(temporary, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    place(temporary, destination, mode=mode)
