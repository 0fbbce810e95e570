"""The engine's side of the copy server (`berth.container.copy_server`): started once for a
build, it runs the copy helper's requests in forks of one interpreter.

`start` gives a `ServedHelper` (the Popen-like handle `cp`'s callers already use: `stdin`,
`stdout`, `wait`, `kill`); requests from stages running side by side run side by side, each
answered on a socket of its own.

Cheap to create (stdlib only, the spawn before any heavy import): the CLI starts one for
`build` as soon as it knows the command, so the server's interpreter starts on the other core
while the build imports, parses and hashes; a server no request used is killed, not waited
for (it may still be importing), which costs a build from the cache nothing.
"""

from __future__ import annotations

import _signal  # not signal (enum), nor socket: their imports would come before the spawn
import _socket
import os
import sys

from berth.errors import SystemFailure

TYPE_CHECKING = False  # typing's own costs ~5 ms, before the spawn
if TYPE_CHECKING:
    from typing import IO, Any

REPLY_SIZE = 4096
SERVER = (sys.executable, "-I", "-m", "berth.container.copy_server")


class CopyServer:
    def __init__(self) -> None:
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        try:
            if _forkable():
                self._pid = _forked(ours, theirs)
            else:
                os.set_inheritable(theirs.fileno(), True)  # for this spawn only: closed next
                argv = [*SERVER, str(theirs.fileno())]
                devnull = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)]
                self._pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=devnull)
        except OSError as error:
            ours.close()
            raise SystemFailure(f"cannot start the copy server: {error}") from None
        finally:
            theirs.close()
        self._raw: _socket.socket | None = ours
        self._used = False

    def start(
        self, request: dict[str, Any], status_w: int, *, stdin: bool, stdout: bool
    ) -> ServedHelper:
        """Run `request` in a fork of the server. The caller keeps (and closes) `status_w`."""
        import array
        import json

        self._used = True
        reply, theirs_reply = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        names, fds, theirs = ["reply", "status"], [theirs_reply.fileno(), status_w], []
        ours: list[IO[bytes]] = []
        try:
            if stdin:
                read_end, write_end = os.pipe()
                names.append("stdin")
                fds.append(read_end)
                theirs.append(read_end)
                ours.append(os.fdopen(write_end, "wb"))
            if stdout:
                read_end, write_end = os.pipe()
                names.append("stdout")
                fds.append(write_end)
                theirs.append(write_end)
                ours.append(os.fdopen(read_end, "rb"))
            message = json.dumps({"request": request, "fds": names}).encode()
            rights = (_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", fds))
            if self._raw is None:
                raise SystemFailure("the copy server is closed")
            self._raw.sendmsg([message], [rights])
            theirs_reply.close()  # the keeper's now: held here too, a server gone goes unseen
            pid = int(_reply(reply)["pid"])
        except BaseException:
            for stream in ours:
                stream.close()
            reply.close()
            raise
        finally:
            theirs_reply.close()
            for fd in theirs:
                os.close(fd)
        streams = iter(ours)
        return ServedHelper(
            reply, pid, next(streams) if stdin else None, next(streams) if stdout else None
        )

    def close(self) -> None:
        """End the server: end of file on its socket, and it exits (at once: it has served);
        one that never served is killed instead, as it may still be importing."""
        if self._raw is None:
            return
        self._raw.close()
        self._raw = None
        if not self._used:
            os.kill(self._pid, _signal.SIGKILL)
        os.waitpid(self._pid, 0)


def _forkable() -> bool:
    """Whether this process may be the server's parent by a fork, which spares the server
    an interpreter's start and imports (~35 ms, on a cold build's critical path): it has
    imported the server (a CLI preloaded by `berth.cli.zygote` has) and has one thread."""
    try:
        return SERVER[-1] in sys.modules and len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no /proc to tell: spawned, as from any process
        return False


def _forked(ours: _socket.socket, theirs: _socket.socket) -> int:
    """The server, forked: what its spawn would be (stdin on /dev/null, no fd of ours but
    the standard streams and its socket, Python's handler for SIGINT, `copy_server.main`)."""
    pid = os.fork()
    if pid:
        return pid
    try:
        os.close(ours.detach())
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        sys.modules[SERVER[-1]].main(["copy_server", str(theirs.detach())])
    finally:
        os._exit(1)


def _reply(channel: _socket.socket) -> dict[str, Any]:
    import json

    data = channel.recv(REPLY_SIZE)
    if not data:
        raise SystemFailure("the copy server went away")
    document: dict[str, Any] = json.loads(data)
    return document


class ServedHelper:
    """A request running in the server: what `subprocess.Popen` offers the copy's callers."""

    def __init__(
        self,
        reply: _socket.socket,
        pid: int,
        stdin: IO[bytes] | None,
        stdout: IO[bytes] | None,
    ) -> None:
        self._reply = reply
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.returncode: int | None = None

    def wait(self) -> int:
        if self.returncode is None:
            try:
                self.returncode = int(_reply(self._reply)["code"])
            finally:
                self._reply.close()
        return self.returncode

    def kill(self) -> None:
        import contextlib

        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, _signal.SIGKILL)
