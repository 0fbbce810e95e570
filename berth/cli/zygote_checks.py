"""What the preloaded CLI checks before it runs a client's command in a child of its own.

The child is a fork of the zygote, not of the client: it has the zygote's credentials,
namespaces, root, cgroup, capabilities, limits, scheduling and security settings. It may run the
command only where the client's are the same, read by the zygote from the client's /proc
(a client can't lie about them); anything else would let a confined client act outside
its confinement. And only while the code the zygote loaded is what is on disk: an upgrade
or an edit must take effect at the next command, as it does for a CLI that starts afresh.
"""

from __future__ import annotations

import os
import sys

from berth.errors import BerthError
from berth.sys.process import io_priority

# /proc/PID/status lines: credentials, capabilities, no_new_privs, seccomp, umask, cpusets.
_STATUS_FIELDS = (
    b"Uid",
    b"Gid",
    b"Groups",
    b"CapInh",
    b"CapPrm",
    b"CapEff",
    b"CapBnd",
    b"CapAmb",
    b"NoNewPrivs",
    b"Seccomp",
    b"Umask",
    b"Cpus_allowed",
    b"Mems_allowed",
)
# Files of /proc/PID that a process inherits from its parent and that shape what it may do.
# (Its audit identity, loginuid, too: a command is logged as its user's.)
_PROC_FILES = ("cgroup", "limits", "oom_score_adj", "personality", "attr/current", "loginuid")


def confinement(pid: int) -> tuple[object, ...] | None:
    """Everything of process `pid` that its children inherit and that a child of the zygote
    must share with a client it runs a command for; None when it can't all be read."""
    proc = f"/proc/{pid}"
    try:
        names = sorted(os.listdir(f"{proc}/ns"))
        namespaces = tuple(os.readlink(f"{proc}/ns/{name}") for name in names)
        root = os.stat(f"{proc}/root")
        with open(f"{proc}/status", "rb") as file:
            lines = file.read().splitlines()
        status = tuple(line for line in lines if line.partition(b":")[0] in _STATUS_FIELDS)
        files = tuple(_read(f"{proc}/{name}") for name in _PROC_FILES)
        scheduling = (
            os.getpriority(os.PRIO_PROCESS, pid),
            os.sched_getscheduler(pid),
            os.sched_getparam(pid).sched_priority,
            io_priority(pid),
        )
    except (OSError, BerthError):  # gone, or not ours to read
        return None
    return namespaces, (root.st_dev, root.st_ino), status, files, scheduling


def _read(path: str) -> bytes | None:
    """The file's content; None where it can't be read (no LSM to give `attr/current`)."""
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError:
        return None


class LoadedCode:
    """The files of the modules the zygote has imported, as they were when it did."""

    __slots__ = ("_stamps",)

    def __init__(self) -> None:
        self._stamps: dict[str, tuple[int, int, int] | None] = {}

    def add_imported(self) -> None:
        """Note the files of the modules imported since the last call."""
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and path not in self._stamps:
                self._stamps[path] = _stamp(path)

    def changed(self) -> bool:
        """Whether any of them was changed, replaced or removed since."""
        return any(_stamp(path) != stamp for path, stamp in self._stamps.items())


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns
