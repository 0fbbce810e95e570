"""Running one container's health probes from the monitor's selector loop without ever
blocking it (`HealthChecker`); `health` decides what their results mean and when the next is due.

A probe runs through the runtime's exec, as the container's own process does. Starting it
(`Runtime.exec`) takes a fresh Python helper's start-up time, so it happens on a short-lived
thread; everything else (output, exit, timeout) is handled by the loop. A probe that outlives
its timeout is killed and counts as a failure (exit code -1); none runs while the container is
paused. Imported only for a container with a healthcheck. Must not import the engine,
container or cli packages.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth.monitor.health import MAX_OUTPUT, HealthConfig, HealthState, Result, output_text

if TYPE_CHECKING:
    from berth.runtime import Runtime

# A probe's `spawn`: (argv, the fd for its stdout and stderr) -> the helper that parents it.
Spawn = Callable[[list[str], int], "subprocess.Popen[bytes]"]


def frozen(procs_files: Sequence[str]) -> bool:
    """Whether the container's cgroup is frozen (paused): Docker runs no probes then, and a
    helper joining a frozen cgroup would freeze too."""
    for procs in procs_files:
        directory = Path(procs).parent
        with contextlib.suppress(OSError):
            events = (directory / "cgroup.events").read_text()
            if "frozen 1" in events.splitlines():
                return True
        with contextlib.suppress(OSError):
            if (directory / "freezer.state").read_text().strip() in ("FROZEN", "FREEZING"):
                return True
    return False


def probe_process(
    bundle: Path, argv: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The OCI process object and seccomp profile for a probe: the container's own process
    (env, user, capabilities, cwd) running `argv` without a terminal, as Docker's exec does."""
    spec = json.loads((bundle / "config.json").read_text())
    process = dict(spec["process"])
    process["args"] = list(argv)
    process["terminal"] = False
    process.pop("consoleSize", None)
    seccomp: dict[str, Any] | None = (spec.get("linux") or {}).get("seccomp")
    return process, seccomp


def exec_spawner(
    runtime: Runtime, container_id: str, bundle: Path, cgroup_procs: Sequence[str]
) -> Spawn:
    """Probes run through the runtime's exec, as the container's own process runs."""

    def spawn(argv: list[str], output_fd: int) -> subprocess.Popen[bytes]:
        from berth.runtime import Stdio

        process, seccomp = probe_process(bundle, argv)
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return runtime.exec(
                container_id,
                process,
                Stdio(null, output_fd, output_fd),
                cgroup_procs=[Path(p) for p in cgroup_procs],
                seccomp_profile=seccomp,
            )
        finally:
            os.close(null)

    return spawn


@dataclass
class _Probe:
    start: float  # wall clock
    start_mono: float
    read_fd: int
    write_fd: int
    thread: threading.Thread | None = None
    helper: subprocess.Popen[bytes] | None = None
    error: str | None = None
    spawned: bool = False  # the thread is done (helper or error set)
    abandoned: bool = False  # stopped while the thread was still starting it
    lock: threading.Lock = field(default_factory=threading.Lock)
    deadline: float | None = None  # monotonic, from the moment the command runs
    output: bytearray = field(default_factory=bytearray)
    truncated: bool = False


class HealthChecker:
    """Runs one container's probes from the monitor's loop.

    The loop calls `deadline()` for its select timeout, `tick()` after every wake-up,
    `readable()` when the probe's output pipe (registered with data "health") is readable,
    and `reaped(pid, status)` for every child it reaps that is not the container.
    `on_change` is called whenever the published document changes.
    """

    def __init__(
        self,
        config: HealthConfig,
        spawn: Spawn,
        *,
        selector: selectors.BaseSelector,
        wake: Callable[[], None],
        on_change: Callable[[], None],
        paused: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.state = HealthState(config)
        self._spawn = spawn
        self._selector = selector
        self._wake = wake
        self._on_change = on_change
        self._paused = paused
        self._clock = clock
        self._wall = wall
        self._started: float | None = None  # monotonic time of the container's start
        self._next: float | None = None
        self._probe: _Probe | None = None
        self._early: dict[int, int] = {}  # exits reaped before the spawning thread returned

    # -- the loop's interface ---------------------------------------------------------------

    def begin(self) -> None:
        """The container (re)started: starting, first probe one interval from now."""
        self.stop()
        self.state.restart()
        self._started = self._clock()
        self._next = self._started + self.state.next_interval(0.0)

    def stop(self) -> None:
        """The container stopped: no more probes; one in flight is killed and forgotten."""
        probe, self._probe = self._probe, None
        self._next = None
        self._started = None
        if probe is not None:
            with probe.lock:
                probe.abandoned = not probe.spawned
            if probe.abandoned:
                probe.write_fd = -1  # the starting thread still needs it, and closes it
            elif probe.helper is not None:
                _kill(probe.helper)
            self._close(probe)

    def document(self) -> dict[str, Any]:
        return self.state.document()

    def deadline(self) -> float | None:
        probe = self._probe
        if probe is not None:
            return probe.deadline  # None while spawning: the thread wakes the loop
        return self._next

    def tick(self) -> None:
        now = self._clock()
        probe = self._probe
        if probe is None:
            if self._next is not None and now >= self._next:
                self._launch(now)
            return
        if probe.spawned and probe.deadline is None:
            self._spawned(probe, now)
            probe = self._probe
        if probe is not None and probe.deadline is not None and now >= probe.deadline:
            self._timed_out(probe)

    def readable(self) -> None:
        probe = self._probe
        if probe is not None:
            self._read(probe)

    def reaped(self, pid: int, status: int) -> None:
        probe = self._probe
        if probe is None:
            return
        if probe.helper is not None and probe.helper.pid == pid:
            self._exited(probe, status)
        elif not probe.spawned:
            self._early[pid] = status
            while len(self._early) > 64:
                self._early.pop(next(iter(self._early)))

    # -- a probe's life --------------------------------------------------------------------

    def _launch(self, now: float) -> None:
        if self._paused():
            self._schedule(now)
            return
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(read_fd, False)
        probe = _Probe(self._wall(), now, read_fd, write_fd)
        self._selector.register(read_fd, selectors.EVENT_READ, "health")
        self._probe = probe
        self._early.clear()
        probe.thread = threading.Thread(
            target=self._spawn_thread, args=(probe,), name="health-probe", daemon=True
        )
        probe.thread.start()

    def _spawn_thread(self, probe: _Probe) -> None:
        try:
            probe.helper = self._spawn(list(self.config.argv), probe.write_fd)
        except Exception as error:  # the top of the thread: the probe failed to start
            probe.error = str(getattr(error, "message", None) or error)
        with probe.lock:
            probe.spawned = True
            abandoned = probe.abandoned
        if abandoned:  # stopped while starting: the write end is ours to close
            if probe.helper is not None:
                _kill(probe.helper)
            os.close(probe.write_fd)
            return
        self._wake()

    def _spawned(self, probe: _Probe, now: float) -> None:
        if probe.write_fd >= 0:
            os.close(probe.write_fd)
            probe.write_fd = -1
        if probe.helper is None:
            self._finish(probe, -1, probe.error or "the health check failed to start")
            return
        probe.deadline = now + self.config.timeout
        status = self._early.pop(probe.helper.pid, None)
        self._early.clear()
        if status is not None:
            self._exited(probe, status)

    def _exited(self, probe: _Probe, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        if probe.helper is not None:
            probe.helper.returncode = code  # reaped here: the Popen must not wait again
        if probe.deadline is None:
            # Reaped before the loop saw the thread finish: wait for that first.
            self._early[probe.helper.pid if probe.helper else -1] = status
            return
        self._read(probe)
        self._finish(probe, code if code >= 0 else 128 - code, None)

    def _timed_out(self, probe: _Probe) -> None:
        if probe.helper is not None:
            _kill(probe.helper)
        self._read(probe)
        message = f"Health check exceeded timeout ({self.config.timeout_text})"
        captured = output_text(bytes(probe.output), probe.truncated)
        self._finish(probe, -1, f"{message}: {captured}" if captured else message)

    def _read(self, probe: _Probe) -> None:
        while True:
            try:
                data = os.read(probe.read_fd, 65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not data:
                return
            room = MAX_OUTPUT - len(probe.output)
            if room > 0:
                probe.output += data[:room]
            if len(data) > max(room, 0):
                probe.truncated = True

    def _finish(self, probe: _Probe, code: int, output: str | None) -> None:
        self._close(probe)
        self._probe = None
        if output is None:
            output = output_text(bytes(probe.output), probe.truncated)
        result = Result(probe.start, self._wall(), code, output)
        started = self._started if self._started is not None else probe.start_mono
        self.state.record(result, probe.start_mono - started)
        self._schedule(self._clock())
        self._on_change()

    def _schedule(self, now: float) -> None:
        started = self._started if self._started is not None else now
        self._next = now + self.state.next_interval(now - started)

    def _close(self, probe: _Probe) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(probe.read_fd)
        for fd in (probe.read_fd, probe.write_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        probe.read_fd = probe.write_fd = -1


def _kill(helper: subprocess.Popen[bytes]) -> None:
    """Kill a probe: the command (the helper's child, inside the container) and the helper.
    The helper is reaped by the monitor's loop like any other child."""
    pid = helper.pid
    with contextlib.suppress(OSError, ValueError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(child), signal.SIGKILL)
    if helper.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
