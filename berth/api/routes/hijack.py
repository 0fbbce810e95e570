"""What attach and exec share once they take a connection over (Docker's "hijacking"): the
answer's head, the output to the client (stdcopy frames, or raw bytes with a TTY), and the
client's input copied in by a thread of its own, watched for the detach keys.

The client's end of input is not its end: Docker's CLI closes its writing side at once when
it sends no stdin, and reads on. A client that went away shows when a write to it fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
import termios
import threading
import time
from collections.abc import Callable

from berth.api import streams
from berth.api.request import Request
from berth.errors import InvalidArgument

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
READ_SIZE = 32 * 1024
HEAD_READ_WAIT_SECONDS = 1.0
_CONTROL_NAMES = "@abcdefghijklmnopqrstuvwxyz[\\]^_"


def parse_detach_keys(text: str) -> bytes:
    """Docker's detach keys (moby/term ToBytes): comma-separated single characters,
    `ctrl-a`..`ctrl-z`, `ctrl-@`, `ctrl-[`, `ctrl-\\`, `ctrl-]`, `ctrl-^`, `ctrl-_`, `DEL`."""
    keys = bytearray()
    for key in text.split(","):
        if len(key) == 1:
            keys.append(ord(key) & 0xFF)
        elif key.startswith("ctrl-") and len(key) == 6 and key[5] in _CONTROL_NAMES:
            keys.append(_CONTROL_NAMES.index(key[5]))
        elif key == "DEL":
            keys.append(127)
        else:
            raise InvalidArgument(f"Invalid detach keys ({text}) provided")
    return bytes(keys)


def window_size(request: Request) -> tuple[int, int]:
    """A resize's `h` and `w` (rows, columns); missing is 0, as dockerd reads them."""
    size = []
    for name, what in (("h", "height"), ("w", "width")):
        value = request.integer(name, 0)
        if value is None or not 0 <= value < 65536:
            raise InvalidArgument(f"invalid resize {what}: {request.arg(name)}")
        size.append(value)
    return size[0], size[1]


def take_over(request: Request, *, tty: bool) -> tuple[socket.socket, bytes]:
    """Answer `101 UPGRADED` (or `200 OK` to a client that did not ask to upgrade) with the
    stream's content type; returns the socket and what the client sent ahead."""
    if request.wants_upgrade:
        content_type = streams.content_type(tty, request.version)
    else:
        content_type = streams.RAW_STREAM
    sock, ahead = request.connection.hijack(
        [("Content-Type", content_type)], upgrade=request.wants_upgrade
    )
    _await_head_read(sock)
    return sock, ahead


def _await_head_read(sock: socket.socket) -> None:
    """Wait (briefly) until the client has read the answer's head. docker-py reads the head
    through a buffered reader, then reads the stream from the socket under it: stream bytes
    that came in the same read as the head would be lost in that buffer."""
    deadline = time.monotonic() + HEAD_READ_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            unread = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))
        except OSError:
            return
        if unread[0] == 0:
            return
        time.sleep(0.001)


class Output:
    """What goes to the client: stdcopy frames, or the bytes as they are with a TTY. A
    client that went away is remembered (`gone`), never raised."""

    def __init__(self, sock: socket.socket, *, tty: bool) -> None:
        self.sock = sock
        self.tty = tty
        self.gone = False
        self._lock = threading.Lock()

    def write(self, stream: int, data: bytes) -> None:
        if data:
            self.send(data if self.tty else streams.frame(stream, data))

    def send(self, payload: bytes) -> None:
        """Bytes already in the stream's shape (a log replay's)."""
        if self.gone or not payload:
            return
        with self._lock:
            try:
                self.sock.sendall(payload)
            except OSError:
                self.gone = True

    def text(self, message: str) -> None:
        """An error after the answer's head, as dockerd writes one: a line on stdout."""
        self.write(streams.STDOUT, message.encode() + b"\r\n")


class DetachWatch:
    """moby's escape proxy: input that may begin the detach sequence is held back until the
    sequence completes (detach: it is never passed on) or breaks (it goes on)."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = bytearray()

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(what to pass on, whether the client detached)."""
        out = bytearray()
        for byte in data:
            if byte == self.keys[len(self.held)]:
                self.held.append(byte)
                if len(self.held) == len(self.keys):
                    return bytes(out), True
                continue
            out += self.held
            self.held.clear()
            if byte == self.keys[0]:
                self.held.append(byte)
            else:
                out.append(byte)
        return bytes(out), False


class Input:
    """The client's input, copied to `forward` by a thread: `ended` runs at its end of
    input, `detached` when it types the detach keys (`detach` empty: never)."""

    def __init__(
        self,
        sock: socket.socket,
        ahead: bytes,
        forward: Callable[[bytes], None],
        *,
        ended: Callable[[], None],
        detached: Callable[[], None],
        detach: bytes = b"",
    ) -> None:
        self.sock = sock
        self._ahead = ahead
        self._forward = forward
        self._ended = ended
        self._detached = detached
        self._watch = DetachWatch(detach) if detach else None
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        data = self._ahead
        while True:
            if data and self._watch is not None:
                data, detached = self._watch.feed(data)
                if detached:
                    if not self._finished.is_set():
                        self._detached()
                    return
            if data:
                self._forward(data)
            try:
                data = self.sock.recv(READ_SIZE)
            except OSError:
                data = b""
            if not data:
                if not self._finished.is_set():
                    self._ended()
                return

    def finish(self) -> None:
        """Stop reading (the stream is over): a read in progress returns, and what the
        client sends from now on is dropped."""
        self._finished.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RD)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5.0)
