"""The engine's side of the copy server (`berth.container.copy_server`): started once for a
build, it runs the copy helper's requests in forks of one interpreter.

One request at a time: `try_start` gives a `ServedHelper` (the Popen-like handle `cp`'s
callers already use: `stdin`, `stdout`, `wait`, `kill`) or None while another request holds
the server (a stage running beside), and the caller then starts a fresh helper as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from typing import IO, Any

from berth.errors import SystemFailure

REPLY_SIZE = 4096


class CopyServer:
    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-m", "berth.container.copy_server", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                close_fds=True,
            )
        except OSError as error:
            ours.close()
            raise SystemFailure(f"cannot start the copy server: {error}") from None
        finally:
            theirs.close()
        self._sock = ours
        self._lock = threading.Lock()

    def try_start(
        self, request: dict[str, Any], status_w: int, *, stdin: bool, stdout: bool
    ) -> ServedHelper | None:
        """Run `request` in a fork of the server, or None while the server is busy. The
        caller keeps (and closes) `status_w`."""
        if not self._lock.acquire(blocking=False):
            return None
        names, fds, theirs = ["status"], [status_w], []
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
            socket.send_fds(self._sock, [message], fds)
            pid = int(self._reply()["pid"])
        except BaseException:
            for stream in ours:
                stream.close()
            self._lock.release()
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        streams = iter(ours)
        return ServedHelper(
            self, pid, next(streams) if stdin else None, next(streams) if stdout else None
        )

    def _reply(self) -> dict[str, Any]:
        data = self._sock.recv(REPLY_SIZE)
        if not data:
            raise SystemFailure("the copy server went away")
        document: dict[str, Any] = json.loads(data)
        return document

    def finished(self) -> int:
        """The running request's exit code (its helper's); the server is free again."""
        try:
            return int(self._reply()["code"])
        finally:
            self._lock.release()

    def close(self) -> None:
        """End the server: end of file on its socket, then it exits."""
        self._sock.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class ServedHelper:
    """A request running in the server: what `subprocess.Popen` offers the copy's callers."""

    def __init__(
        self,
        server: CopyServer,
        pid: int,
        stdin: IO[bytes] | None,
        stdout: IO[bytes] | None,
    ) -> None:
        self._server = server
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.returncode: int | None = None

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = self._server.finished()
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
