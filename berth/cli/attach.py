"""The terminal side of attach: stream a container's output, feed it stdin, follow resizes,
forward signals, and detach on Docker's ctrl-p ctrl-q."""

from __future__ import annotations

import _thread  # a lock without threading's imports: only -i needs a thread
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from berth.errors import InvalidArgument, Unavailable
from berth.monitor import protocol

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
FORWARDED_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)


def parse_detach_keys(text: str) -> bytes:
    """`ctrl-p,ctrl-q` -> b"\\x10\\x11", as Docker accepts them."""
    keys = bytearray()
    for raw in text.split(","):
        item = raw.strip().lower()
        if item.startswith("ctrl-") and len(item) == 6 and "a" <= item[5] <= "z":
            keys.append(ord(item[5]) - ord("a") + 1)
        elif item.startswith("ctrl-") and item[5:] in ("@", "[", "\\", "]", "^", "_"):
            keys.append(ord(item[5]) - 64)
        elif len(item) == 1:
            keys.append(ord(item))
        else:
            raise InvalidArgument(f"invalid detach keys: {text}")
    return bytes(keys)


@contextlib.contextmanager
def raw_terminal(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(sys.stdin.fileno())
    tty.setraw(sys.stdin.fileno(), termios.TCSANOW)  # keep what was typed ahead (no flush)
    try:
        yield
    finally:
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)


def _window_size() -> bytes | None:
    try:
        size = os.get_terminal_size(sys.stdout.fileno())
    except OSError:
        return None
    return f"{size.lines} {size.columns}".encode()


class Session:
    def __init__(
        self,
        socket_path: Path,
        *,
        stdin: bool,
        tty: bool,
        detach_keys: str,
        sig_proxy: bool = True,
        stdout: bool = True,
        stderr: bool = True,
    ) -> None:
        """`stdout`, `stderr`: the output streams to show (`run -a` picks them)."""
        try:
            self.sock = protocol.connect(socket_path)
        except OSError as error:
            raise Unavailable(f"cannot attach to the container: {error.strerror}") from None
        self.stdin = stdin
        self.tty = tty
        self.detach = parse_detach_keys(detach_keys)
        self.sig_proxy = sig_proxy  # without a tty: forward this process's signals
        self.detached = False
        self.error = ""  # why the container could not run, when it couldn't
        self.heard_exit = False
        self._send_lock = _thread.allocate_lock()
        # A container whose command can't start ends at once: the monitor may have sent the
        # exit and closed before this greeting lands. What it sent is still there to read.
        with contextlib.suppress(OSError):
            self.sock.sendall(
                json.dumps({"stdin": stdin, "stdout": stdout, "stderr": stderr}).encode() + b"\n"
            )

    def send(self, kind: int, payload: bytes) -> None:
        with self._send_lock, contextlib.suppress(OSError):
            self.sock.sendall(protocol.frame(kind, payload))

    def _pump_stdin(self) -> None:
        matched = 0
        fd = sys.stdin.fileno()
        while True:
            try:
                data = os.read(fd, 32 * 1024)
            except OSError:
                data = b""
            if not data:
                self.send(protocol.STDIN_CLOSE, b"")
                return
            if self.tty and self.detach:
                for byte in data:
                    matched = matched + 1 if byte == self.detach[matched] else 0
                    if matched == len(self.detach):
                        self.detached = True
                        with contextlib.suppress(OSError):
                            self.sock.shutdown(socket.SHUT_RDWR)
                        return
            self.send(protocol.STDIN, data)

    def run(self) -> int | None:
        """Stream until the container exits (its exit code) or the user detaches (None)."""
        interactive_tty = self.tty and sys.stdin.isatty()
        if self.tty and (size := _window_size()):
            self.send(protocol.RESIZE, size)
        previous: dict[signal.Signals, object] = {}
        if self.tty:
            previous[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, self._resized)
        elif self.sig_proxy:
            for number in FORWARDED_SIGNALS:
                previous[number] = signal.signal(number, self._forward)
        try:
            with raw_terminal(interactive_tty):
                if self.stdin:
                    import threading

                    threading.Thread(target=self._pump_stdin, daemon=True).start()
                return self._receive()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)  # type: ignore[arg-type]
            self.sock.close()

    def _resized(self, _number: int, _frame: FrameType | None) -> None:
        if size := _window_size():
            self.send(protocol.RESIZE, size)

    def _forward(self, number: int, _frame: FrameType | None) -> None:
        self.send(protocol.SIGNAL, str(number).encode())

    def _receive(self) -> int | None:
        reader = protocol.FrameReader()
        outputs = {protocol.STDOUT: sys.stdout.buffer, protocol.STDERR: sys.stderr.buffer}
        while True:
            try:
                data = self.sock.recv(64 * 1024)
            except OSError:
                data = b""
            if not data:
                return None if self.detached else -1
            for kind, payload in reader.feed(data):
                if kind == protocol.EXIT:
                    self.heard_exit = True
                    ended = json.loads(payload)
                    self.error = str(ended.get("Error") or "")
                    return int(ended["ExitCode"])
                stream = outputs.get(kind)
                if stream is not None:
                    stream.write(payload)
                    stream.flush()
