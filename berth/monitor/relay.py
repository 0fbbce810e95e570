"""The container's stdio and the attach socket: the monitor's ends of the container's pipes (or
its pty), its output relayed to the json-file log and to the attached clients, and the clients'
stdin, window sizes and signals passed back to the container.

A client greets with one JSON line (which streams it wants, whether it sends stdin), then
speaks `protocol` frames. Everything here runs on the monitor's one thread, from its selector
loop (the listener is registered with data "listener", clients with "client").

Imported on every container start, before the monitor hears of its container: plain classes
with __slots__ (no dataclasses), typing only for the type checker. Must not import the
runtime's operations, health or cgroups: signals go through the `kill` the monitor hands over.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import selectors
import socket

from berth.errors import SystemFailure
from berth.monitor import protocol
from berth.runtime import Stdio

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from berth.monitor.config import MonitorConfig
    from berth.monitor.files import JsonLog

READ_SIZE = 64 * 1024


class _Client:
    """One attached client (plain classes, not dataclasses: the monitor's imports are paid
    by every container start)."""

    __slots__ = ("greeted", "pending", "reader", "sock", "stdin", "streams")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = protocol.FrameReader()
        self.streams: set[int] = set()
        self.stdin = False
        self.greeted = False
        self.pending = b""


class ContainerStdio:
    """The monitor's ends of the container's stdio, and the container's ends to hand over."""

    __slots__ = ("console", "container", "outputs", "pty_master", "stdin", "to_close")

    def __init__(
        self,
        container: Stdio,
        outputs: dict[int, int],  # our read fd -> stream (STDOUT/STDERR)
        stdin: int | None,  # our write fd, when stdin is open
        to_close: list[int],  # the container's ends, closed here once it has them
        pty_master: int | None = None,
        console: socket.socket | None = None,  # where a -t container's pty master comes from
    ) -> None:
        self.container = container
        self.outputs = outputs
        self.stdin = stdin
        self.to_close = to_close
        self.pty_master = pty_master
        self.console = console

    def handed_over(self) -> None:
        """The container has its ends: close them here. A -t container's pty master arrives
        now, and is its input and output from then on."""
        for fd in self.to_close:
            os.close(fd)
        self.to_close = []
        if self.console is not None:
            _, fds, _, _ = socket.recv_fds(self.console, 16, 1)
            self.console.close()
            self.console = None
            if not fds:
                raise SystemFailure("the container's terminal did not arrive")
            master = fds[0]
            self.outputs = {master: protocol.STDOUT}
            self.stdin = self.pty_master = master


def open_stdio(config: MonitorConfig) -> ContainerStdio:
    if config.tty:
        # The pty itself is made inside the container; its master arrives on this socket.
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        null = os.open(os.devnull, os.O_RDWR)
        return ContainerStdio(
            Stdio(null, null, null), {}, None, [null, theirs.detach()], console=ours
        )
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    if config.open_stdin:
        in_r, in_w = os.pipe()
        return ContainerStdio(
            Stdio(in_r, out_w, err_w),
            {out_r: protocol.STDOUT, err_r: protocol.STDERR},
            in_w,
            [in_r, out_w, err_w],
        )
    null = os.open(os.devnull, os.O_RDONLY)
    return ContainerStdio(
        Stdio(null, out_w, err_w),
        {out_r: protocol.STDOUT, err_r: protocol.STDERR},
        None,
        [null, out_w, err_w],
    )


class Relay:
    """The attach socket and its clients, and the container's output on its way out."""

    __slots__ = ("_kill", "_log", "_path", "_selector", "clients", "listener")

    def __init__(
        self,
        path: Path,
        selector: selectors.BaseSelector,
        log: JsonLog,
        kill: Callable[[int], None],  # a client's signal, for the container
    ) -> None:
        self._path = path
        self._selector = selector
        self._log = log
        self._kill = kill
        self.clients: dict[int, _Client] = {}
        path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        with protocol.reachable(path) as name:
            listener.bind(name)
        os.chmod(path, 0o600)
        listener.listen(16)
        listener.setblocking(False)
        selector.register(listener, selectors.EVENT_READ, "listener")
        self.listener = listener

    def accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        self.clients[sock.fileno()] = _Client(sock)
        self._selector.register(sock, selectors.EVENT_READ, "client")

    def greeted(self) -> bool:
        """Whether a client has sent its greeting (so output finds it)."""
        return any(client.greeted for client in self.clients.values())

    def _drop(self, client: _Client) -> None:
        self.clients.pop(client.sock.fileno(), None)
        self._selector.unregister(client.sock)
        client.sock.close()

    def client_input(self, fd: int, stdio: ContainerStdio) -> None:
        """Read what the client on `fd` sent: its greeting, then frames."""
        client = self.clients.get(fd)
        if client is None:
            return
        try:
            data = client.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        if not client.greeted:
            client.pending += data
            line, newline, rest = client.pending.partition(b"\n")
            if not newline:
                return
            wanted = json.loads(line or b"{}")
            client.greeted = True
            client.stdin = bool(wanted.get("stdin"))
            client.streams = {protocol.STDOUT} if wanted.get("stdout", True) else set()
            if wanted.get("stderr", True):
                client.streams.add(protocol.STDERR)
            data = rest
        for kind, payload in client.reader.feed(data):
            self._client_frame(kind, payload, client, stdio)

    def _client_frame(
        self, kind: int, payload: bytes, client: _Client, stdio: ContainerStdio
    ) -> None:
        if kind == protocol.STDIN and client.stdin and stdio.stdin is not None:
            with contextlib.suppress(OSError):
                os.write(stdio.stdin, payload)
        elif kind == protocol.STDIN_CLOSE and stdio.stdin is not None and stdio.pty_master is None:
            os.close(stdio.stdin)
            stdio.stdin = None
        elif kind == protocol.RESIZE and stdio.pty_master is not None:
            rows, cols = (int(v) for v in payload.split())
            _set_window_size(stdio.pty_master, rows, cols)
        elif kind == protocol.SIGNAL:
            self._kill(int(payload))

    def broadcast(self, kind: int, payload: bytes) -> int:
        """Send a frame to the clients that want it; returns how many got it."""
        message = protocol.frame(kind, payload)
        delivered = 0
        for client in list(self.clients.values()):
            if kind != protocol.EXIT and kind not in client.streams:
                continue
            try:
                client.sock.setblocking(True)
                client.sock.sendall(message)
                client.sock.setblocking(False)
                delivered += 1
            except OSError:
                self._drop(client)
        return delivered

    def output(self, fd: int, stdio: ContainerStdio) -> bool:
        """Relay what the container wrote on `fd`; False once that output is closed."""
        try:
            data = os.read(fd, READ_SIZE)
        except OSError as error:
            if error.errno == errno.EAGAIN:
                return True
            data = b""  # EIO: the pty's other side is gone
        if not data:
            return False
        stream = stdio.outputs[fd]
        self._log.write("stdout" if stream == protocol.STDOUT else "stderr", data)
        self.broadcast(stream, data)
        return True

    def close(self) -> None:
        """Hang up on every client and remove the attach socket."""
        for client in list(self.clients.values()):
            self._drop(client)
        self.listener.close()
        self._path.unlink(missing_ok=True)


def _set_window_size(fd: int, rows: int, cols: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
