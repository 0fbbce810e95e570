"""The docker CLI on a real pseudo-terminal, as a person at a terminal runs it: keystrokes
in, the screen out, the window resized (the kernel tells the CLI with SIGWINCH)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import termios
import time

from tests.fixtures.api import DOCKER, ApiServer


def _set_size(fd: int, rows: int, columns: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


class Terminal:
    def __init__(self, api: ApiServer, *args: str, rows: int = 24, columns: int = 80) -> None:
        argv = [DOCKER, *args]
        env = api.env
        pid, fd = os.forkpty()
        if pid == 0:  # the child: the pty is its controlling terminal and its stdio
            try:
                _set_size(0, rows, columns)
                os.execve(DOCKER, argv, env)
            finally:
                os._exit(127)
        self.pid = pid
        self.fd = fd
        self.screen = b""
        self.status: int | None = None

    def send(self, text: str | bytes) -> None:
        os.write(self.fd, text.encode() if isinstance(text, str) else text)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the CLI closed the terminal (it ended)
            return False
        self.screen += data
        return bool(data)

    def expect(self, text: str, timeout: float = 30) -> str:
        """Read until `text` shows (after what an earlier expect consumed); returns the
        screen up to and including it."""
        wanted = text.encode()
        deadline = time.monotonic() + timeout
        while wanted not in self.screen:
            if time.monotonic() > deadline or not self._read(0.2):
                if wanted in self.screen:
                    break
                raise AssertionError(f"{text!r} not seen; the screen: {self.screen[-2000:]!r}")
        head, _, tail = self.screen.partition(wanted)
        self.screen = tail
        return (head + wanted).decode(errors="replace")

    def resize(self, rows: int, columns: int) -> None:
        _set_size(self.fd, rows, columns)

    def wait(self, timeout: float = 30) -> int:
        """The CLI's exit status (what it printed meanwhile is kept on the screen)."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                self._drain(deadline)
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"docker did not end; the screen: {self.screen[-2000:]!r}")
            self._read(0.1)
        return self.status

    def _drain(self, deadline: float) -> None:
        """Read what the CLI wrote just before it ended: the terminal keeps it until read,
        and ends with EIO once it is all read."""
        while time.monotonic() < deadline and select.select([self.fd], [], [], 0.5)[0]:
            if not self._read(0):
                return

    def close(self) -> None:
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.status = -9
        os.close(self.fd)
