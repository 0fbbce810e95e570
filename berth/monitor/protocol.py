"""The attach socket's framing, shared by the monitor and its clients (CLI, API).

Server to client: Docker's multiplexed stream framing, `[stream, 0, 0, 0, size (4 bytes BE)]`
then `size` bytes, stream 1 = stdout, 2 = stderr; plus EXIT (payload: the exit code as
JSON {"ExitCode", "Error"}) sent once when the container has exited and its output is
drained; Error says why a container that never ran couldn't (e.g. its command is missing).
Client to server: the same header with STDIN data, STDIN_CLOSE, RESIZE ("rows cols") and
SIGNAL (a signal number as text). A client first sends one JSON line naming the streams it
wants: {"stdin": bool, "stdout": bool, "stderr": bool}.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

STDIN = 0
STDOUT = 1
STDERR = 2
STDIN_CLOSE = 16
RESIZE = 17
SIGNAL = 18
EXIT = 255

HEADER = struct.Struct(">B3xI")


def frame(kind: int, payload: bytes) -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


class FrameReader:
    """Reassembles frames from arbitrary chunks of a byte stream."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= HEADER.size:
            kind, size = HEADER.unpack_from(self._buffer)
            if len(self._buffer) < HEADER.size + size:
                break
            frames.append((kind, bytes(self._buffer[HEADER.size : HEADER.size + size])))
            del self._buffer[: HEADER.size + size]
        return frames


@contextlib.contextmanager
def reachable(path: Path) -> Iterator[str]:
    """A name for a unix socket path short enough for sockaddr_un (108 bytes): run dirs hold
    64-character ids, so go through /proc/self/fd of the opened directory when needed."""
    if len(os.fsencode(path)) < 100:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_PATH | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def connect(path: Path) -> socket.socket:
    """The monitor's attach socket at `path`; for a container held by conmon, conmon's,
    spoken to in these frames (`berth.monitor.conmon_attach`)."""
    if not os.path.exists(path):
        from berth.monitor import conmon

        if conmon.is_conmon(path.parent):
            from berth.monitor.conmon_attach import ConmonAttach

            return ConmonAttach(path.parent)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        with reachable(path) as name:
            sock.connect(name)
    except BaseException:
        sock.close()
        raise
    return sock
