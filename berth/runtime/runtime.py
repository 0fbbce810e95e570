"""The runtime's caller side: create a container (its init spawned through `spawn`), release it
to exec, run more processes in it, and signal or clean up containers by the state each one
leaves in its state directory.

`create` warns when the caller is not a child subreaper: pid 1 is then reparented to the
host's init and the caller's waitpid() never sees it (see `spawn` for the parentage). `exec`
is different: its helper stays as the new process's parent and exits with its status (128+N
when killed), so `berth exec` needs no subreaper.

State on disk, per container under `state_root/<id>/`: state.json (pid, its start time,
bundle) written atomically, and `started` once `start` released the init. Any process can
read `state`; `start` must run in the process that called `create` (it holds the pipes),
unless the container was created `detached`: then its init waits on `exec.fifo` there, which
`start` in any process opens and writes (runc's way, for a command line whose `create`
exits before `start`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from berth.errors import Conflict, InvalidArgument, NotFound, SystemFailure
from berth.runtime import processes
from berth.runtime.spawn import Messages, Stdio, raise_failure, spawn_init, wait_for_init

if TYPE_CHECKING:
    import subprocess


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
START_FIFO = "exec.fifo"


class RuntimeState(NamedTuple):
    status: str  # created | running | stopped
    pid: int | None


class Runtime:
    def __init__(self, state_root: Path, warn: Callable[..., None] = _warn) -> None:
        """`warn(message, *args)` hears the init's warnings (a limit the kernel refused);
        logging's by default, the command line's own log for `berth-runtime`."""
        self.state_root = state_root
        self._warn = warn
        self._pending: dict[str, tuple[Messages, int]] = {}  # id -> (sync pipe, start fd)

    def _dir(self, container_id: str) -> Path:
        """The container's state directory; an id can never name a path outside state_root."""
        if not _ID.fullmatch(container_id):
            raise InvalidArgument(f"invalid container id {container_id!r}")
        return self.state_root / container_id

    def directory(self, container_id: str) -> Path:
        """Where a caller may keep files of its own about the container (the command line's
        record of its cgroup and spec): `delete` removes them with the runtime's state."""
        return self._dir(container_id)

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
        detached: bool = False,
    ) -> int:
        """Set the container up and return its pid 1's host pid, blocked before exec.

        With `console_socket` (a unix socket), the init makes a pty inside the container
        and sends its master fd there, as runc's --console-socket does; stdio is then unused.
        `detached`: the caller may exit before `start`, which any process may then call
        (the init waits on a FIFO, not on this process's pipe); the init changes to its cwd
        and finds its command before it reports ready, so those failures are create's.
        """
        from berth.sys.process import is_child_subreaper  # ctypes: `berth-runtime state` needs none

        if not is_child_subreaper():
            self._warn(
                "container %s: the caller is not a child subreaper, so pid 1 will be "
                "reparented to the host's init and waitpid() will not see it",
                container_id,
            )
        directory = self._dir(container_id)
        directory.mkdir(parents=True, exist_ok=True)
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        if detached:
            # Read-write, so the init never sees end-of-file: it waits for a `start` however
            # long the creator is gone; `start` opens it for writing from any process.
            os.mkfifo(directory / START_FIFO, 0o600)
            start_r, start_w = os.open(directory / START_FIFO, os.O_RDWR | os.O_CLOEXEC), -1
        else:
            start_r, start_w = os.pipe2(os.O_CLOEXEC)
        arguments = [
            str(bundle),
            str(sync_w),
            str(start_r),
            json.dumps([str(p) for p in cgroup_procs]),
            str(self.state_root / "seccomp"),  # compiled filters, reused across containers
            "" if console_socket is None else str(console_socket),
            "detached" if detached else "",
        ]
        passed = (sync_w, start_r) + (() if console_socket is None else (console_socket,))
        try:
            process = spawn_init(arguments, stdio, passed)
        finally:
            os.close(sync_w)
            os.close(start_r)
        reader = Messages(sync_r)
        pid = None
        try:
            first = reader.read()
            if first is not None and "pid" in first:
                pid = int(first["pid"])  # known now: killed and reaped below if all fails
            wait_for_init(process)
            if pid is None:
                raise_failure(
                    first or {"error": f"the container init exited ({process.returncode})"}
                )
            ready = reader.read()
            for warning in (ready or {}).get("warnings") or []:
                self._warn("container %s: %s", container_id, warning)
            if ready is None or "error" in ready:
                raise_failure(ready or {"error": "the container init died during set-up"})
        except BaseException:
            reader.close()
            if start_w >= 0:
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
        if detached:
            reader.close()
        else:
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
            if not (self._dir(container_id) / START_FIFO).exists():
                raise Conflict(
                    f"container {container_id} was not created by this process or already started"
                )
            self._release(container_id)
            return
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
            raise_failure(failure)

    def _release(self, container_id: str) -> None:
        """Start a container created `detached`: one byte into the FIFO its init waits on.
        Nothing comes back from the init after this, so an exec failure is not seen here
        (the init found its command before it reported ready)."""
        fifo = self._dir(container_id) / START_FIFO
        try:  # non-blocking: with no reader (the init is gone) this fails instead of hanging
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            raise Conflict(f"container {container_id} is not waiting to be started") from None
        try:
            (self._dir(container_id) / "started").touch()
            os.write(fd, b"s")
        finally:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(fifo)

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

        from berth.cgroups import warmth  # not on the monitor's start path

        if cgroup_procs:
            warmth.hold()  # the helper joins the cgroups once its interpreter is up
        try:
            helper = subprocess.Popen(
                argv,
                stdin=stdio.stdin,
                stdout=stdio.stdout,
                stderr=stdio.stderr,
                pass_fds=passed,
            )
        except BaseException:
            if cgroup_procs:
                warmth.release()
            raise
        finally:
            os.close(sync_w)
        reader = Messages(sync_r)
        try:
            failure = reader.read()  # EOF: the command was exec'd
        except SystemFailure:
            helper.kill()
            helper.wait()
            raise
        finally:
            reader.close()
            if cgroup_procs:
                warmth.release()
        if failure is not None:
            helper.wait()
            raise_failure(failure)
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
