"""Rotated files for the logs conmon writes with max-file > 1, rotated by the store's
supervisor (`berth.monitor.supervisor`).

conmon 2.1.6 keeps no rotated files (at `--log-size-max` it starts its log over, and what the
log held is gone), so for these logs it is given no size limit and the supervisor rotates them
as berth's monitor does: once `<log>` has reached max-size, under the exclusive lock of
`<log>.base`, the files are moved along (`berth.monitor.files.move_along`), `<log>` becomes
`<log>.1`, and conmon is told to reopen its log (`2 0 0` on its control FIFO); once it has
begun the new `<log>`, the base moves on by the final size of `<log>.1` and the lock is
released, so `logs` reads the files as it reads berth's monitor's, whole and in order. The
size is looked at every `FAST_SECONDS` while the log grows, less often (up to `SLOW_SECONDS`)
while it doesn't: a file passes max-size by what conmon writes meanwhile (Docker's by less
than a record). A log is watched from before its container starts (`watch`, given conmon's
pid) until the exit command says conmon has written all it will (`settle`: a last rotation
then needs no reopen, conmon no longer serving its control FIFO), or until that conmon exits
without it (its container being removed: nothing more is rotated); with no supervisor, it
grows unrotated until the next start.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import time
from pathlib import Path

from berth.monitor import conmon
from berth.monitor.config import MonitorConfig
from berth.monitor.files import move_along, open_base, read_base, write_base

FAST_SECONDS = 0.02  # between looks at a growing log, and at a reopen under way
SLOW_SECONDS = 1.0  # the longest between looks at a log that doesn't grow
REOPEN_SECONDS = 2.0  # the longest a reopen is waited for (conmon gone or stuck: given up)


class _Log:
    __slots__ = (
        "base",
        "conmon",
        "due",
        "interval",
        "max_files",
        "max_size",
        "path",
        "reopening",
        "run_dir",
        "size",
    )

    def __init__(self, config: MonitorConfig, conmon_pidfd: int) -> None:
        self.path = Path(config.log_path)
        self.run_dir = Path(config.run_dir)
        self.max_size, self.max_files = config.log_max_size, config.log_max_files
        self.conmon = conmon_pidfd
        self.base = open_base(self.path)
        self.size = -1
        self.interval = FAST_SECONDS
        self.due = time.monotonic()
        self.reopening = 0.0  # since when conmon was told to reopen (the base lock held)


class LogRotations:
    """The rotating logs, from the supervisor's loop: it asks `deadline()` for its timeout
    and calls `tick()` after every wake-up."""

    def __init__(self) -> None:
        self._logs: dict[str, _Log] = {}  # by container id

    def watching(self) -> bool:
        return bool(self._logs)

    def watch(self, run_dir: str, conmon_pid: int) -> None:
        """Rotate the log of the container of `run_dir`, which conmon `conmon_pid` writes,
        until that conmon exits."""
        config = MonitorConfig.read(Path(run_dir))
        self.forget(config.id)
        if not config.keeps_rotated_files():
            return
        try:
            pidfd = os.pidfd_open(conmon_pid)
        except ProcessLookupError:
            return
        self._logs[config.id] = _Log(config, pidfd)

    def forget(self, container_id: str) -> None:
        """No more rotations (the container removed, or its conmon gone without a word from
        its exit command: being removed): one under way is finished, and no new file begun
        in a directory its remover may be deleting."""
        log = self._logs.pop(container_id, None)
        if log is not None:
            if log.reopening:
                self._reopened(log, begin=False)
            os.close(log.base)
            os.close(log.conmon)

    def settle(self, container_id: str) -> None:
        """conmon has written all it will: a rotation under way finished, a log past
        max-size rotated a last time, the watch ended."""
        log = self._logs.get(container_id)
        if log is not None:
            if log.reopening:
                self._reopened(log)
            else:
                self._look(log, final=True)
            self.forget(container_id)

    def deadline(self) -> float | None:
        return min((log.due for log in self._logs.values()), default=None)

    def tick(self) -> None:
        now = time.monotonic()
        for container_id, log in list(self._logs.items()):
            if log.due > now:
                continue
            if log.reopening:
                if log.path.exists() or now - log.reopening > REOPEN_SECONDS:
                    self._reopened(log)
            elif select.select([log.conmon], [], [], 0)[0]:  # conmon has exited
                self.forget(container_id)
                continue
            else:
                self._look(log)
            log.due = time.monotonic() + (FAST_SECONDS if log.reopening else log.interval)

    def _look(self, log: _Log, final: bool = False) -> None:
        try:
            size = os.stat(log.path).st_size
        except FileNotFoundError:
            return
        grew, log.size = size != log.size, size
        log.interval = FAST_SECONDS if grew else min(log.interval * 2, SLOW_SECONDS)
        if size < log.max_size:
            return
        fcntl.flock(log.base, fcntl.LOCK_EX)
        name = str(log.path)
        try:
            move_along(name, log.max_files)
            os.rename(name, f"{name}.1")
        except OSError:  # the container's directory removed meanwhile
            fcntl.flock(log.base, fcntl.LOCK_UN)
            return
        log.reopening = time.monotonic()
        if final:
            self._reopened(log)
            return
        try:
            conmon.control(log.run_dir, "2 0 0\n")
        except OSError:  # conmon gone meanwhile (being removed?): no new file begun
            self._reopened(log, begin=False)

    def _reopened(self, log: _Log, begin: bool = True) -> None:
        """conmon writes the new `<log>` (or will write no more: with `begin`, an empty one is
        begun, as berth's monitor leaves one), and the base moved on by what `<log>.1`
        holds."""
        with contextlib.suppress(OSError):
            if begin:
                os.close(os.open(log.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
            rotated = os.stat(f"{log.path}.1").st_size
            write_base(log.base, read_base(log.base) + rotated)
        fcntl.flock(log.base, fcntl.LOCK_UN)
        log.reopening, log.size, log.interval = 0.0, -1, FAST_SECONDS
