"""Starting a container's init and hearing from it: the caller's end of the sync pipe.

Parentage: the init (forked from a single-threaded caller, else a fresh `python -m
berth.runtime.init`) joins the cgroups, unshares the namespaces and forks pid 1 (CLONE_NEWPID
applies to children only), reports pid 1's host pid on the sync pipe and exits. The caller (the
monitor) has set PR_SET_CHILD_SUBREAPER, so the orphaned pid 1 is reparented to it, not to the
host's init, and the caller's `os.waitpid(pid)` gets the container's own status (WIFSIGNALED
and all): no proxy process stays between them.

Messages are JSON lines (sync.py writes them, in the init and in the exec helper), each awaited
with a deadline; a failure message becomes the error the caller raises. Imported by the monitor
on every container start: no subprocess, threading or logging at import time.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import signal
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from berth.errors import InvalidArgument, SystemFailure

if TYPE_CHECKING:
    import subprocess

CREATE_TIMEOUT = 60


class Stdio(NamedTuple):
    stdin: int
    stdout: int
    stderr: int


class _ForkedInit:
    """The forked init, answering the few Popen calls `create` makes."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # a subreaper's reaping loop got it first
                self.returncode = 0
                return 0
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Its exit status; a pidfd says when, so no polling overshoots the exit."""
        if self.poll() is None:
            try:
                pidfd = os.pidfd_open(self.pid)
            except ProcessLookupError:  # gone and reaped already (a subreaper's loop)
                pidfd = -1
            if pidfd >= 0:
                try:
                    exited = select.select([pidfd], [], [], timeout)[0]
                finally:
                    os.close(pidfd)
                if not exited:
                    import subprocess

                    raise subprocess.TimeoutExpired("berth.runtime.init", timeout or 0)
        while self.poll() is None:  # the pidfd said it exited: waitpid has it at once
            time.sleep(0.0005)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


def spawn_init(
    arguments: list[str], stdio: Stdio, passed: Sequence[int]
) -> subprocess.Popen[bytes] | _ForkedInit:
    """Start the container's init: forked when this process has a single thread (it saves an
    interpreter start, ~30 ms), else a fresh `python -m berth.runtime.init` (a fork of a
    threaded process could inherit a lock some other thread held)."""
    threading = sys.modules.get("threading")  # never imported: no other thread was started
    if threading is not None and threading.active_count() != 1:
        import subprocess

        return subprocess.Popen(
            [sys.executable, "-I", "-m", "berth.runtime.init", *arguments],
            stdin=stdio.stdin,
            stdout=stdio.stdout,
            stderr=stdio.stderr,
            pass_fds=passed,
            close_fds=True,
        )
    from berth.runtime import init  # imported before the fork, so the child imports nothing

    pid = os.fork()
    if pid:
        return _ForkedInit(pid)
    try:  # the child: the init's stdio and fds, nothing else of its parent's
        gc.disable()  # a parent's cyclic garbage must not close fds that are the init's now
        signal.set_wakeup_fd(-1)
        for target, fd in enumerate((stdio.stdin, stdio.stdout, stdio.stderr)):
            if fd != target:
                os.dup2(fd, target)
        keep = sorted({0, 1, 2, *passed})
        for low, high in zip(keep, [*keep[1:], os.sysconf("SC_OPEN_MAX")], strict=True):
            os.closerange(low + 1, high)
        for fd in passed:
            os.set_inheritable(fd, True)
        init.main(arguments)
    finally:
        os._exit(125)


def wait_for_init(process: subprocess.Popen[bytes] | _ForkedInit) -> None:
    """Wait for the first process of the init to exit, as it does once pid 1 is forked and in
    its cgroups."""
    try:
        process.wait(timeout=CREATE_TIMEOUT)
    except Exception as error:
        import subprocess

        if isinstance(error, subprocess.TimeoutExpired):
            message = f"the container init did not answer within {CREATE_TIMEOUT:.0f} s"
            raise SystemFailure(message) from None
        raise


class CommandFailed(InvalidArgument):
    """The container's command could not be run: 127 not found, 126 not executable."""

    def __init__(self, message: str, exit_status: int) -> None:
        super().__init__(message)
        self.exit_status = exit_status


class Messages:
    """The runtime's end of a sync pipe: JSON lines, each awaited with a deadline, so an init
    stuck on a hung mount or cgroup write fails the create instead of hanging the monitor."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""

    def read(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message, or None at EOF (the writer exited or exec'd)."""
        timeout = CREATE_TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
                raise SystemFailure(f"the container init did not answer within {timeout:.0f} s")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def close(self) -> None:
        os.close(self.fd)


def raise_failure(message: dict[str, Any]) -> NoReturn:
    """Raise the failure an init or exec helper reported: CommandFailed for 126 and 127."""
    status = int(message.get("exit_status", 125))
    text = str(message.get("error", "the container init failed"))
    if status in (126, 127):
        raise CommandFailed(text, status)
    raise SystemFailure(text)
