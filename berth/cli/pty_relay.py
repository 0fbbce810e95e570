"""The terminal side of `exec -t`: receive the pty master made inside the container, then
copy the user's keystrokes in and the process's output out, with the user's terminal raw and
its size followed, until the process closes its terminal."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import termios
from types import FrameType

from berth.cli.attach import raw_terminal
from berth.errors import SystemFailure


def receive_master(channel: socket.socket) -> int:
    """The pty master fd sent over `channel` (SCM_RIGHTS)."""
    _, ancillary, _, _ = channel.recvmsg(16, socket.CMSG_SPACE(4))
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            return int(struct.unpack("i", data[:4])[0])
    raise SystemFailure("the process in the container sent no terminal")


def _copy_size(master: int) -> None:
    with contextlib.suppress(OSError):
        size = fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)


def relay(master: int, *, interactive: bool) -> None:
    """Copy until the container's side of the pty is closed (the process and its children
    are done with it)."""
    stdin = sys.stdin.fileno()
    stdout = sys.stdout.fileno()
    terminal = os.isatty(stdin)
    _copy_size(master)

    def resized(_number: int, _frame: FrameType | None) -> None:
        _copy_size(master)

    previous = signal.signal(signal.SIGWINCH, resized)
    reading = [master, stdin] if interactive else [master]
    try:
        with raw_terminal(interactive and terminal):
            while True:
                try:
                    ready, _, _ = select.select(reading, [], [])
                except InterruptedError:
                    continue
                if master in ready:
                    try:
                        data = os.read(master, 65536)
                    except OSError:  # EIO: every slave fd is closed
                        data = b""
                    if not data:
                        break
                    os.write(stdout, data)
                if stdin in ready:
                    data = os.read(stdin, 65536)
                    if data:
                        os.write(master, data)
                    else:  # piped input ended: end-of-file for the process, as a tty says it
                        os.write(master, b"\x04")
                        reading.remove(stdin)
    finally:
        signal.signal(signal.SIGWINCH, previous)
        os.close(master)
