"""Keeping the kernel's cgroup migration path warm while a new process waits to be placed.

Moving a process into a cgroup (a write to `cgroup.procs`: the monitor placing a container's
init, `exec`'s helper joining the container) takes the kernel's `cgroup_threadgroup_rwsem`
for writing, and the first writer after a quiet spell waits for an RCU grace period
(rcu_sync) before it may: 6-23 ms on the development machines, on the critical path of every
start. A writer that comes within a grace period of the previous one doesn't wait.

So from the moment a start begins (the CLI spawning its monitor, long before the init
exists) until the monitor has reported the start, a thread of the starting process keeps
writing the process into the cgroup it is in already (no move), every `PERIOD` seconds: the
first write pays the grace period on that thread, beside the start's other work, and the
placement finds the path warm (0.1 ms against 7 ms at the median, measured with a `sleep`
placed 15 times a few hundred ms apart). Each write holds the lock for microseconds; while
the path is warm, forks and exits on the machine take the lock's slower atomic path, so it is
kept warm only while something is about to be placed, and never longer than `LIMIT`.

Cheap (`_thread`, not threading): the CLI starts it before the engine's imports; the
thread reads the host's cgroup layout (`detect`, read once per process, which the start
needs anyway). Best effort: where this process can't write its own cgroup, nothing happens.
"""

from __future__ import annotations

import _thread
import os
import time

from berth.cgroups.layout import detect

PERIOD = 0.003
LIMIT = 2.0  # seconds after the newest `hold`: a start slower than this is stuck anyway


class Warmth:
    """The process's holds on the path, and whether its thread is running."""

    __slots__ = ("_deadline", "_holders", "_limit", "_lock", "_period", "_running")

    def __init__(self, limit: float = LIMIT, period: float = PERIOD) -> None:
        self._limit = limit
        self._period = period
        self._lock = _thread.allocate_lock()
        self._holders = 0
        self._deadline = 0.0
        self._running = False

    def hold(self) -> None:
        """Keep the path warm until the matching `release` (or `LIMIT` seconds from now)."""
        with self._lock:
            self._holders += 1
            self._deadline = time.monotonic() + self._limit
            if self._running:
                return
            self._running = True
        _thread.start_new_thread(self._keep_warm, ())

    def release(self) -> None:
        with self._lock:
            self._holders = max(0, self._holders - 1)

    def running(self) -> bool:
        with self._lock:
            return self._running

    def _wanted(self) -> bool:
        with self._lock:
            return self._holders > 0 and time.monotonic() <= self._deadline

    def _keep_warm(self) -> None:
        me = str(os.getpid()).encode()
        procs = own_procs_file()
        try:
            fd = -1 if procs is None else os.open(procs, os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            fd = -1
        try:
            while fd >= 0 and self._wanted():
                os.write(fd, me)
                time.sleep(self._period)
        except OSError:
            pass  # moved meanwhile, or refused: the start only loses its head start
        finally:
            with self._lock:
                self._running = False
            if fd >= 0:
                os.close(fd)


_WARMTH = Warmth()
hold = _WARMTH.hold
release = _WARMTH.release
running = _WARMTH.running


def own_procs_file() -> str | None:
    """The `cgroup.procs` of this process's own cgroup in a hierarchy it may write (the lock
    is the kernel's, shared by every hierarchy): the cgroup2 one first, where mounted."""
    layout = detect()
    for hierarchy in (layout.unified, *layout.v1):
        directory = hierarchy.current() if hierarchy is not None else None
        if directory is not None and os.access(directory / "cgroup.procs", os.W_OK):
            return str(directory / "cgroup.procs")
    return None
