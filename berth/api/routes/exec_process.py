"""An exec instance and its process. dockerd keeps exec instances in memory, and so does the
server (`Shared.execs`); the process runs through the container tools facade — the
runtime's exec helper, a fresh process that parents it — with pipes for its stdio, or with
a pty made inside the container whose master comes back over a console socket.

Attached, its output goes to the hijacked connection as it comes and the client's input to
it; a client that goes away or detaches leaves it running, its output read and dropped.
Every helper is waited for, here or by a reaper thread when the server stops first, and its
exit code is kept for inspect before the connection closes (the docker CLI reads it then).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import select
import socket
import struct
import subprocess
import termios
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from berth.api import streams
from berth.api.routes.hijack import DEFAULT_DETACH_KEYS, Input, Output, parse_detach_keys
from berth.errors import BerthError, Conflict, from_os_error
from berth.runtime import Stdio

if TYPE_CHECKING:
    from berth.container.records import ContainerRecord
    from berth.engine import Engine

READ_SIZE = 64 * 1024
DRAIN_SECONDS = 2.0  # output still read after the process ended (a child may hold it open)
FAILED_TO_START = 126  # dockerd's code for an exec that could not start
WRITE_RETRY_SECONDS = 0.01  # while the process's input is full


@dataclass(slots=True)
class ExecInstance:
    """One `POST /containers/{id}/exec`: what to run, then how it runs and ended."""

    id: str
    container_id: str
    command: list[str]
    env: list[str]
    user: str
    workdir: str
    tty: bool
    privileged: bool
    attach_stdin: bool
    attach_stdout: bool
    attach_stderr: bool
    detach_keys: bytes
    console_size: tuple[int, int] | None
    created: float = field(default_factory=time.monotonic)
    claimed: bool = False  # a start took it (an instance runs once)
    running: bool = False
    exit_code: int | None = None
    ended: float | None = None
    pid: int = 0
    master: int | None = None  # the pty's master while a tty exec runs
    started: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self) -> None:
        with self.lock:
            if self.exit_code is not None:
                raise Conflict(f"exec command {self.id} has already run")
            if self.claimed:
                raise Conflict(f"exec command {self.id} is already running")
            self.claimed = True

    def begun(self, pid: int, master: int | None) -> None:
        with self.lock:
            self.running, self.pid, self.master = True, pid, master
        self.started.set()

    def end(self, code: int) -> None:
        with self.lock:
            self.running, self.exit_code, self.ended = False, code, time.monotonic()
            master, self.master = self.master, None
        if master is not None:
            os.close(master)
        self.started.set()

    def resize(self, rows: int, columns: int) -> None:
        with self.lock:
            if self.master is not None:
                size = struct.pack("HHHH", rows, columns, 0, 0)
                with contextlib.suppress(OSError):
                    fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)

    def document(self) -> dict[str, Any]:
        """`GET /exec/{id}/json`, in dockerd's shape (DetachKeys are bytes: base64)."""
        with self.lock:
            return {
                "ID": self.id,
                "Running": self.running,
                "ExitCode": self.exit_code,
                "ProcessConfig": {
                    "tty": self.tty,
                    "entrypoint": self.command[0],
                    "arguments": self.command[1:],
                    "privileged": self.privileged,
                    "user": self.user,
                },
                "OpenStdin": self.attach_stdin,
                "OpenStderr": self.attach_stderr,
                "OpenStdout": self.attach_stdout,
                "CanRemove": False,
                "ContainerID": self.container_id,
                "DetachKeys": base64.b64encode(self.detach_keys).decode(),
                "Pid": self.pid,
            }


class _Process:
    """A started exec: its helper, and our ends of its stdio. Input is written without
    blocking (a process that reads no stdin must not hold up the end of the exec)."""

    def __init__(
        self,
        helper: subprocess.Popen[bytes],
        outputs: dict[int, int],  # our read fd -> stream
        stdin: int | None,  # our write fd (the pty's master with a tty)
        tty: bool,
    ) -> None:
        self.helper = helper
        self.outputs = outputs
        self.stdin = stdin
        self.tty = tty
        self._lock = threading.Lock()
        if stdin is not None:
            os.set_blocking(stdin, False)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            with self._lock:
                if self.stdin is None:
                    return
                try:
                    written = os.write(self.stdin, view)
                except BlockingIOError:
                    written = 0
                except OSError:
                    return
            view = view[written:]
            if view and not written:
                time.sleep(WRITE_RETRY_SECONDS)

    def end_input(self) -> None:
        """The client's input ended: end-of-file for the process (a tty says it with ^D)."""
        if self.tty:
            self.write(b"\x04")
            return
        with self._lock:
            if self.stdin is not None:
                os.close(self.stdin)
                self.stdin = None

    def close(self) -> None:
        """Our ends, closed once nothing more is read or written (a tty's master is the
        instance's to close: resizes use it while the process lives)."""
        with self._lock:
            if not self.tty:
                for fd in self.outputs:
                    os.close(fd)
                if self.stdin is not None:
                    os.close(self.stdin)
            self.outputs, self.stdin = {}, None


def spawn(
    engine: Engine, instance: ExecInstance, record: ContainerRecord, *, attached: bool
) -> _Process:
    """Start the instance's process: with a pty when it has a TTY and a client to talk to,
    else with pipes for the streams the client attached (the rest, and a detached process's,
    on /dev/null)."""
    null = os.open(os.devnull, os.O_RDWR)
    theirs: list[int] = [null]
    ours: list[int] = []
    outputs: dict[int, int] = {}
    stdin = stdout = stderr = null
    stdin_w: int | None = None
    console: tuple[socket.socket, socket.socket] | None = None
    try:
        if attached and instance.tty:
            console = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        elif attached:
            if instance.attach_stdin:
                stdin, stdin_w = os.pipe()
                theirs.append(stdin)
                ours.append(stdin_w)
            if instance.attach_stdout:
                read, stdout = os.pipe()
                theirs.append(stdout)
                ours.append(read)
                outputs[read] = streams.STDOUT
            if instance.attach_stderr:
                read, stderr = os.pipe()
                theirs.append(stderr)
                ours.append(read)
                outputs[read] = streams.STDERR
        helper = engine.container_tools.exec(
            record,
            instance.command,
            env=instance.env,
            user=instance.user or None,
            workdir=instance.workdir or None,
            tty=instance.tty and console is not None,
            stdio=Stdio(stdin, stdout, stderr),
            console_socket=console[1].fileno() if console is not None else None,
            console_size=instance.console_size if console is not None else None,
            privileged=instance.privileged,
        )
    except BaseException:
        for fd in ours:
            os.close(fd)
        if console is not None:
            console[0].close()
        raise
    finally:
        for fd in theirs:
            os.close(fd)
        if console is not None:
            console[1].close()
    if console is None:
        instance.begun(_process_pid(helper.pid), None)
        return _Process(helper, outputs, stdin_w, tty=False)
    with console[0]:
        _, fds, _, _ = socket.recv_fds(console[0], 16, 1)
    if not fds:  # the process ended before its terminal was made: nothing to relay
        instance.begun(_process_pid(helper.pid), None)
        return _Process(helper, {}, None, tty=True)
    master = fds[0]
    os.set_inheritable(master, False)
    instance.begun(_process_pid(helper.pid), master)
    return _Process(helper, {master: streams.STDOUT}, master, tty=True)


def _process_pid(helper: int) -> int:
    """The process's own pid (the helper's child), as dockerd reports it; the helper's when
    it can't be read."""
    try:
        with open(f"/proc/{helper}/task/{helper}/children") as children:
            first = children.read().split()
    except OSError:
        return helper
    return int(first[0]) if first else helper


def run_attached(
    engine: Engine,
    instance: ExecInstance,
    record: ContainerRecord,
    sock: socket.socket,
    ahead: bytes,
    *,
    framed_tty: bool,
    stopping: threading.Event,
) -> None:
    """Run the instance with its streams on the hijacked `sock` until the process ends (or
    the server stops), then record its exit code."""
    output = Output(sock, tty=framed_tty)
    try:
        process = spawn(engine, instance, record, attached=True)
    except (BerthError, OSError) as error:  # after the answer's head: said in the stream
        failure = from_os_error(error) if isinstance(error, OSError) else error
        output.text(failure.message)
        instance.end(int(getattr(failure, "exit_status", FAILED_TO_START)))
        return
    client: Input | None = None
    if instance.attach_stdin:

        def detached() -> None:
            output.gone = True  # the process runs on; the client hears no more
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

        client = Input(
            sock,
            ahead,
            process.write,
            ended=process.end_input,
            detached=detached,
            detach=(instance.detach_keys or parse_detach_keys(DEFAULT_DETACH_KEYS))
            if instance.tty
            else b"",
        )
        client.start()
    try:
        _pump(process, output, stopping)
    finally:
        if client is not None:
            client.finish()
        process.close()
    _finish(instance, process, stopping)


def run_detached(engine: Engine, instance: ExecInstance, record: ContainerRecord) -> None:
    """Start the instance with no client; a thread waits for it and records its end."""
    process = spawn(engine, instance, record, attached=False)
    threading.Thread(target=_wait, args=(instance, process.helper), daemon=True).start()


def _pump(process: _Process, output: Output, stopping: threading.Event) -> None:
    """Relay the process's output until it is closed, or for DRAIN_SECONDS after the process
    ended (a child it left behind may hold it open)."""
    open_fds = list(process.outputs)
    drain_until: float | None = None
    while open_fds and not stopping.is_set():
        timeout = 0.5 if drain_until is None else max(0.0, drain_until - time.monotonic())
        try:
            ready, _, _ = select.select(open_fds, [], [], timeout)
        except InterruptedError:
            continue
        for fd in ready:
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                continue
            except OSError:  # EIO: the pty has no slave left
                data = b""
            if data:
                output.write(process.outputs[fd], data)
            else:
                open_fds.remove(fd)
        if drain_until is None and process.helper.poll() is not None:
            drain_until = time.monotonic() + DRAIN_SECONDS
        elif drain_until is not None and time.monotonic() >= drain_until:
            break


def _finish(instance: ExecInstance, process: _Process, stopping: threading.Event) -> None:
    """Wait for the process and record its exit code; one still running when the server
    stops is left to a reaper thread."""
    while process.helper.poll() is None:
        if stopping.is_set():
            threading.Thread(target=_wait, args=(instance, process.helper), daemon=True).start()
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.helper.wait(0.5)
    _wait(instance, process.helper)


def _wait(instance: ExecInstance, helper: subprocess.Popen[bytes]) -> None:
    code = helper.wait()
    instance.end(128 - code if code < 0 else code)
