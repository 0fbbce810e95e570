"""The preloaded CLI: `python -m berth.cli.zygote NAME FD`, one per store (its run root),
berth installation and import path, reached on the abstract unix socket NAME (which the
client that starts it binds, listens on and hands over as FD).

It imports what the commands it serves run (`handoff.SERVED`), then forks a child per
command handed to it (`berth.cli.handoff`); the child takes the client's fds, directory,
environment and argv, and runs the command (`zygote_child`). The zygote stays the child's
parent: it relays the client's signals to it, kills it when the client goes away, and tells
the client how it ended. It learns: the modules a child imported that the zygote had not,
it imports once that child is done, so the next command finds them loaded (what a command
imports lazily is known by running it, not by a list to keep up to date).

It runs a command only for a client that could not tell the difference
(`zygote_checks`); with code changed on disk, or a thread of its own (which a fork must
not have), it serves no more and leaves once its children have. It exits once no command
has run for `linger_seconds()` (BERTH_ZYGOTE_LINGER, as the monitor zygote's); a command
finding none runs in its own process and starts one once it is done, for the next.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import socket
import sys
import time
from typing import TYPE_CHECKING

from berth.cli.handoff import SERVED
from berth.cli.zygote_checks import LoadedCode, confinement
from berth.cli.zygote_wire import EXITED, KILLED, REFUSED, RELAYED, STARTED, Request, decode
from berth.errors import BerthError
from berth.monitor.launch import ANSWER_SECONDS, REQUEST_SIZE, detached_listener
from berth.monitor.zygote import linger_seconds
from berth.sys.process import signal_thread

if TYPE_CHECKING:
    from berth.cli.zygote_child import Child

MAX_FDS = 254  # the client's working directory and up to `handoff.MAX_FDS` fds, and more
LEARNED_SIZE = 256 * 1024  # what a child may report of the modules it imported


class _Running:
    """A command running in a child: its pid and pidfd, its client's connection (None once
    the client has gone), and the pipe on which the child reports the modules it imported."""

    __slots__ = ("connection", "imports", "pid", "pidfd")

    def __init__(self, pid: int, pidfd: int, connection: socket.socket, imports: int) -> None:
        self.pid = pid
        self.pidfd = pidfd
        self.connection: socket.socket | None = connection
        self.imports = imports


class Zygote:
    """The serving loop of a zygote that has imported what it preloads."""

    def __init__(self, listener: socket.socket, code: LoadedCode) -> None:
        self._listener: socket.socket | None = listener
        self._code = code
        self._own = confinement(os.getpid())
        self._poll = select.poll()  # not select(): past fd 1024 with many commands
        self._poll.register(listener.fileno(), select.POLLIN)
        self._by_pidfd: dict[int, _Running] = {}
        self._by_connection: dict[int, _Running] = {}

    def serve(self) -> Child | None:
        """Serve until idle for `linger_seconds()` (or retired, and the last command
        done); None then. In a forked child: the command it is to run."""
        linger = linger_seconds()
        quiet_since = time.monotonic()
        while self._by_pidfd or (
            self._listener is not None and time.monotonic() - quiet_since <= linger
        ):
            asked = False
            for fd, _ in self._poll.poll(500):
                quiet_since = time.monotonic()
                if self._listener is not None and fd == self._listener.fileno():
                    asked = True
                elif fd in self._by_pidfd:
                    self._ended(self._by_pidfd.pop(fd))
                elif fd in self._by_connection:
                    self._relay(self._by_connection[fd])
            # Last: the fds it opens may have numbers that this round's events had.
            if asked and self._listener is not None:
                child = self._accept(self._listener)
                if child is not None:
                    return child
        return None

    def _accept(self, listener: socket.socket) -> Child | None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return None
        fds: list[int] = []
        try:
            connection.settimeout(ANSWER_SECONDS)
            credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
            peer = int.from_bytes(credentials[:4], sys.byteorder)
            if int.from_bytes(credentials[4:8], sys.byteorder) != os.getuid():
                raise PermissionError("a client of another user")
            data, fds, flags, _ = socket.recv_fds(connection, REQUEST_SIZE, MAX_FDS)
            request = None if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) else decode(data)
            if request is None or len(fds) != len(request.fds) + 1 or not self._may_run(peer):
                with contextlib.suppress(OSError):
                    connection.send(REFUSED)
                raise PermissionError("not a command to run here")
            return self._fork(connection, request, fds)
        except OSError:
            connection.close()
            for fd in fds:
                os.close(fd)
            return None

    def _may_run(self, peer: int) -> bool:
        """Whether the client `peer` could tell its command's process from itself; and
        whether this zygote still serves (it stops, for good, once its code changed)."""
        if self._own is None or self._code.changed():
            self._retire()
            return False
        return confinement(peer) == self._own

    def _fork(self, connection: socket.socket, request: Request, fds: list[int]) -> Child | None:
        imports, reported = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(reported, False)  # a child never waits on us to end
        zygote = os.getpid()
        try:
            pid = os.fork()
        except OSError:
            os.close(imports)
            os.close(reported)
            raise
        if pid == 0:
            from berth.cli.zygote_child import Child

            os.close(imports)
            self._let_go(connection)
            return Child(request, fds, reported, zygote)
        os.close(reported)
        for fd in fds:
            os.close(fd)
        fds.clear()
        try:
            pidfd = os.pidfd_open(pid)  # a child not yet waited for: never another's pid
        except OSError:  # no fd left to watch it with: it must not run unwatched
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(imports)
            raise
        running = _Running(pid, pidfd, connection, imports)
        try:
            connection.send(STARTED)
        except OSError:  # the client is gone: so is its command
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            connection.close()
            running.connection = None
        self._by_pidfd[pidfd] = running
        self._poll.register(pidfd, select.POLLIN)
        if running.connection is not None:
            connection.settimeout(None)
            self._by_connection[connection.fileno()] = running
            self._poll.register(connection.fileno(), select.POLLIN)
        return None

    def _let_go(self, connection: socket.socket) -> None:
        """In a forked child: close what is the zygote's (detached first, so that no socket
        object left behind closes a number the command has reused since)."""
        sockets = [connection, *(r.connection for r in self._by_pidfd.values())]
        if self._listener is not None:
            sockets.append(self._listener)
        for sock in sockets:
            if sock is not None:
                os.close(sock.detach())
        for running in self._by_pidfd.values():
            os.close(running.pidfd)
            os.close(running.imports)

    def _relay(self, running: _Running) -> None:
        """A message from a command's client: a signal to relay, or its end (the command
        is killed: a CLI that is killed takes its command with it)."""
        if running.connection is None:
            return
        try:
            message = running.connection.recv(16)
        except OSError:
            message = b""
        if message.isdigit() and int(message) in RELAYED:
            number = int(message)
            # The kernel discards a SIGTSTP sent to a process group with no parent in its
            # session (orphaned, as the zygote's is): Ctrl-Z stops the command by SIGSTOP.
            if number == signal.SIGTSTP:
                number = signal.SIGSTOP
            # To the command's main thread, where Python runs its handlers (its pid is ours
            # until `_ended` reaps it: no other process can have it meanwhile).
            with contextlib.suppress(BerthError):
                signal_thread(running.pid, running.pid, number)
        elif not message:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(running.pidfd, signal.SIGKILL)
            self._disconnect(running)

    def _disconnect(self, running: _Running) -> None:
        if running.connection is not None:
            self._poll.unregister(running.connection.fileno())
            del self._by_connection[running.connection.fileno()]
            running.connection.close()
            running.connection = None

    def _ended(self, running: _Running) -> None:
        """A command's child has exited: tell its client how, and learn its imports."""
        self._poll.unregister(running.pidfd)
        ended = os.waitid(os.P_PIDFD, running.pidfd, os.WEXITED)
        os.close(running.pidfd)
        if running.connection is not None and ended is not None:
            exited = ended.si_code == os.CLD_EXITED
            answer = (EXITED if exited else KILLED) + b"%d" % ended.si_status
            with contextlib.suppress(OSError):
                running.connection.send(answer)
        self._disconnect(running)
        reported = _read_all(running.imports)
        os.close(running.imports)
        self._learn(reported.decode(errors="replace").split())

    def _learn(self, modules: list[str]) -> None:
        """Import the modules a child imported, for the next command; with a thread of its
        own afterwards (which a fork would not copy), serve no more."""
        for name in modules:
            if name not in sys.modules and "__main__" not in name and name != "berth.cli.start":
                with contextlib.suppress(Exception):
                    __import__(name)
        if len(os.listdir("/proc/self/task")) > 1:
            self._retire()
        self._code.add_imported()
        gc.collect()
        gc.freeze()

    def _retire(self) -> None:
        """Serve no more: the next client finds no one and starts a new zygote."""
        if self._listener is not None:
            self._poll.unregister(self._listener.fileno())
            self._listener.close()
            self._listener = None


def _read_all(fd: int) -> bytes:
    chunks = []
    size = 0
    with contextlib.suppress(OSError):
        while size < LEARNED_SIZE and (chunk := os.read(fd, 65536)):
            chunks.append(chunk)
            size += len(chunk)
    return b"".join(chunks)


def main(argv: list[str]) -> None:
    """Detach, import the commands served, then serve on the socket the client bound to the
    abstract name `argv[1]` and listens on (fd `argv[2]`). In a child: run its command."""
    listener = detached_listener(argv)
    from berth.sys.process import set_name

    set_name(b"berth-cli")
    gc.set_threshold(100_000, 10, 10)  # as `berth.cli.start` sets it for the CLI
    from berth.cli.table import COMMANDS, GROUPS

    for words in SERVED:
        command = COMMANDS[words[0]] if len(words) == 1 else GROUPS[words[0]][words[1]]
        __import__(f"berth.cli.commands.{command.module}")
    __import__("berth.cli.main")
    __import__("berth.cli.zygote_child")
    # What a build forks rather than spawns once it is imported (`copy_client.CopyServer`):
    # a command's own imports are learned, not those of the processes it starts.
    __import__("berth.container.copy_server")
    code = LoadedCode()
    code.add_imported()
    gc.collect()
    gc.freeze()  # the modules' objects: never collected, so their pages stay shared
    child = Zygote(listener, code).serve()
    if child is None:
        os._exit(0)
    child.run()


if __name__ == "__main__":
    main(sys.argv)
