"""The runtime's caller side: spawn the init, learn the container's pid, release it to exec,
and signal or clean up containers by the state each one leaves in its state directory.

Parentage: the init (a fresh `python -m berth.runtime.init`, child of the caller) joins the
cgroups, unshares the namespaces and forks pid 1 (CLONE_NEWPID applies to children only),
reports pid 1's host pid on the sync pipe and exits. The caller (the monitor) has set
PR_SET_CHILD_SUBREAPER, so the orphaned pid 1 is reparented to it, not to the host's init,
and the caller's `os.waitpid(pid)` gets the container's own status (WIFSIGNALED and all):
no proxy process stays between them. `create` warns when the caller is not a subreaper.
`exec` is different: its helper stays as the new process's parent and exits with its status
(128+N when killed), so `berth exec` needs no subreaper.

State on disk, per container under `state_root/<id>/`: state.json (pid, its start time,
bundle) written atomically, and `started` once `start` released the init. Any process can
read `state`; `start` must run in the process that called `create` (it holds the pipes).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import select
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from berth.errors import Conflict, InvalidArgument, NotFound, SystemFailure
from berth.runtime import processes
from berth.sys.process import is_child_subreaper

if TYPE_CHECKING:
    import subprocess

CREATE_TIMEOUT = 60


def _warn(message: str, *args: object) -> None:
    """Log a warning; logging is imported only then (a monitor imports this module)."""
    import logging

    logging.getLogger(__name__).warning(message, *args)


def _remove_tree(directory: Path) -> None:
    """The runtime's state of a container: a few files, so a walk of our own, not shutil
    (~2 ms of imports a monitor would pay on every container exit)."""
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    with contextlib.suppress(OSError):
        os.rmdir(directory)


_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


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


class RuntimeState(NamedTuple):
    status: str  # created | running | stopped
    pid: int | None


class CommandFailed(InvalidArgument):
    """The container's command could not be run: 127 not found, 126 not executable."""

    def __init__(self, message: str, exit_status: int) -> None:
        super().__init__(message)
        self.exit_status = exit_status


class _Messages:
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


def _raise(message: dict[str, Any]) -> NoReturn:
    status = int(message.get("exit_status", 125))
    text = str(message.get("error", "the container init failed"))
    if status in (126, 127):
        raise CommandFailed(text, status)
    raise SystemFailure(text)


class Runtime:
    def __init__(self, state_root: Path) -> None:
        self.state_root = state_root
        self._pending: dict[str, tuple[_Messages, int]] = {}  # id -> (sync pipe, start fd)

    def _dir(self, container_id: str) -> Path:
        """The container's state directory; an id can never name a path outside state_root."""
        if not _ID.fullmatch(container_id):
            raise InvalidArgument(f"invalid container id {container_id!r}")
        return self.state_root / container_id

    def _state(self, container_id: str) -> dict[str, Any]:
        try:
            document: dict[str, Any] = json.loads(
                (self._dir(container_id) / "state.json").read_text()
            )
        except FileNotFoundError:
            raise NotFound(f"container {container_id} does not exist in the runtime") from None
        return document

    def create(
        self,
        container_id: str,
        bundle: Path,
        stdio: Stdio,
        *,
        cgroup_procs: Sequence[Path] = (),
        console_socket: int | None = None,
    ) -> int:
        """Set the container up and return its pid 1's host pid, blocked before exec.

        With `console_socket` (a unix socket), the init makes a pty inside the container
        and sends its master fd there, as runc's --console-socket does; stdio is then unused.
        """
        if not is_child_subreaper():
            _warn(
                "container %s: the caller is not a child subreaper, so pid 1 will be "
                "reparented to the host's init and waitpid() will not see it",
                container_id,
            )
        directory = self._dir(container_id)
        directory.mkdir(parents=True, exist_ok=True)
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        start_r, start_w = os.pipe2(os.O_CLOEXEC)
        arguments = [
            str(bundle),
            str(sync_w),
            str(start_r),
            json.dumps([str(p) for p in cgroup_procs]),
            str(self.state_root / "seccomp"),  # compiled filters, reused across containers
            "" if console_socket is None else str(console_socket),
        ]
        passed = (sync_w, start_r) + (() if console_socket is None else (console_socket,))
        try:
            process = spawn_init(arguments, stdio, passed)
        finally:
            os.close(sync_w)
            os.close(start_r)
        reader = _Messages(sync_r)
        pid = None
        try:
            first = reader.read()
            if first is not None and "pid" in first:
                pid = int(first["pid"])  # known now: killed and reaped below if all fails
            try:  # the first process exits once pid 1 is forked and in its cgroups
                process.wait(timeout=CREATE_TIMEOUT)
            except Exception as error:
                import subprocess

                if isinstance(error, subprocess.TimeoutExpired):
                    message = f"the container init did not answer within {CREATE_TIMEOUT:.0f} s"
                    raise SystemFailure(message) from None
                raise
            if pid is None:
                _raise(first or {"error": f"the container init exited ({process.returncode})"})
            ready = reader.read()
            for warning in (ready or {}).get("warnings") or []:
                _warn("container %s: %s", container_id, warning)
            if ready is None or "error" in ready:
                _raise(ready or {"error": "the container init died during set-up"})
        except BaseException:
            reader.close()
            os.close(start_w)
            if process.poll() is None:
                process.kill()
                process.wait()
            if pid is not None:  # a half-built pid 1: gone, and reaped (we are its subreaper)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            _remove_tree(directory)
            raise
        document = {"pid": pid, "started": processes.start_time(pid), "bundle": str(bundle)}
        temporary = directory / "state.json.tmp"
        temporary.write_text(json.dumps(document))
        temporary.rename(directory / "state.json")  # readers never see half a state
        self._pending[container_id] = (reader, start_w)
        return pid

    def _live_pid(self, container_id: str) -> int | None:
        """Pid 1's host pid while that very process runs (a reused pid is not it)."""
        document = self._state(container_id)
        pid = int(document["pid"])
        return pid if processes.alive(pid, document.get("started")) else None

    def start(self, container_id: str) -> None:
        """Let the init exec; a failed exec (not found, not executable) is raised here."""
        pending = self._pending.pop(container_id, None)
        if pending is None:
            self._state(container_id)  # NotFound when there is no such container at all
            raise Conflict(
                f"container {container_id} was not created by this process or already started"
            )
        reader, start_w = pending
        # Marked before the release, so no reader ever sees a running process as "created".
        (self._dir(container_id) / "started").touch()
        try:
            os.write(start_w, b"s")
            os.close(start_w)
            failure = reader.read()  # EOF: the exec closed the pipe (CLOEXEC)
        finally:
            reader.close()
        if failure is not None:
            _raise(failure)

    def state(self, container_id: str) -> RuntimeState:
        pid = self._live_pid(container_id)
        if pid is None:
            return RuntimeState("stopped", None)
        started = (self._dir(container_id) / "started").exists()
        return RuntimeState("running" if started else "created", pid)

    def kill(self, container_id: str, sig: int, *, all_processes: bool = False) -> None:
        """Signal the container's pid 1, or with `all_processes` every process in its mount
        namespace: with a pid namespace of its own the kernel kills the rest when pid 1 dies,
        but a container sharing the host's pid namespace (or a stopped pid 1 that ignores the
        signal) needs each process told."""
        pid = self._live_pid(container_id)
        if pid is None:
            return
        if all_processes:
            processes.signal_all(pid, sig)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def exec(
        self,
        container_id: str,
        process: dict[str, Any],
        stdio: Stdio,
        *,
        cgroup_procs: Sequence[Path] = (),
        seccomp_profile: dict[str, Any] | None = None,
        console_socket: int | None = None,
    ) -> subprocess.Popen[bytes]:
        """Run `process` (an OCI process object) inside the running container. Returns the
        helper that parents it; its exit status is the process's (128+N when killed). With
        `console_socket`, the process gets a pty inside the container, whose master is sent
        there (SCM_RIGHTS)."""
        pid = self._live_pid(container_id)
        if pid is None:
            raise NotFound(f"container {container_id} is not running")
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        argv = [
            sys.executable,
            "-I",
            "-m",
            "berth.runtime.exec",
            str(pid),
            json.dumps(process),
            str(sync_w),
            json.dumps([str(p) for p in cgroup_procs]),
            json.dumps(seccomp_profile) if seccomp_profile else "",
            "" if console_socket is None else str(console_socket),
        ]
        passed = (sync_w,) + (() if console_socket is None else (console_socket,))
        import subprocess

        try:
            helper = subprocess.Popen(
                argv,
                stdin=stdio.stdin,
                stdout=stdio.stdout,
                stderr=stdio.stderr,
                pass_fds=passed,
            )
        finally:
            os.close(sync_w)
        reader = _Messages(sync_r)
        try:
            failure = reader.read()  # EOF: the command was exec'd
        except SystemFailure:
            helper.kill()
            helper.wait()
            raise
        finally:
            reader.close()
        if failure is not None:
            helper.wait()
            _raise(failure)
        return helper

    def delete(self, container_id: str) -> None:
        """Kill whatever is left of the container and remove its state directory."""
        with contextlib.suppress(NotFound):
            pid = self._live_pid(container_id)
            if pid is not None:
                processes.signal_all(pid, signal.SIGKILL)
        pending = self._pending.pop(container_id, None)
        if pending is not None:
            pending[0].close()
            os.close(pending[1])
        _remove_tree(self._dir(container_id))
