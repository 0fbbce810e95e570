"""A container's processes as /proc shows them, for the runtime's caller side.

A pid alone is not an identity: after the container exits the kernel may give its number to
another process, and signalling that one would be a bug. So the runtime records pid 1's start
time (field 22 of /proc/PID/stat, clock ticks since boot) and checks it before each signal.
The container's members are the processes in its mount namespace: every process the init
or an exec started is there, even in a container that shares the host's pid namespace.
Stdlib only.
"""

from __future__ import annotations

import contextlib
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def _stat_fields(pid: int) -> list[bytes] | None:
    """Fields 3.. of /proc/PID/stat (after the command, which may hold spaces and parens).
    Read with one read(2), no buffered text file: `ps` with 50 containers reads 50."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, 4096).rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    finally:
        os.close(fd)


def start_time(pid: int) -> int | None:
    """When `pid` started (ticks since boot), or None if there is no such process."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def alive(pid: int, started: int | None = None) -> bool:
    """Whether `pid` runs (not a zombie) and, given `started`, is still the same process."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in (b"Z", b"X"):
        return False
    return started is None or int(fields[19]) == started


def members(pid: int) -> list[int]:
    """The pids sharing `pid`'s mount namespace, `pid` last; just `pid` if that namespace is
    the caller's own (a container without a mount namespace: no way to tell its processes)."""
    try:
        namespace = os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return []
    if namespace == os.readlink("/proc/self/ns/mnt"):
        return [pid]
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != pid:
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{entry}/ns/mnt") == namespace:
                    found.append(int(entry))
    return [*found, pid]


def signal_all(pid: int, sig: int) -> None:
    """Send `sig` to every member of `pid`'s container; members may exit meanwhile. SIGKILL
    to the first process of a pid namespace is enough: the kernel kills the others of that
    namespace as it dies (and looking for the members reads every process's namespace,
    ~10 ms with a thousand processes)."""
    import signal  # not at the top: `ps` imports this module, and signal's enums cost it ~3 ms

    if sig == signal.SIGKILL and _first_of_its_pid_namespace(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        return
    for member in members(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, sig)


def _first_of_its_pid_namespace(pid: int) -> bool:
    """Whether `pid` is pid 1 of a pid namespace of its own (NSpid in /proc/PID/status: its
    number in each namespace it is in, the innermost last)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("NSpid:"):
                    numbers = line.split()[1:]
                    return len(numbers) > 1 and numbers[-1] == "1"
    except OSError:
        pass
    return False


def reaped() -> Iterator[tuple[int, int]]:
    """(pid, wait status) of each child that has ended, reaped now, until none is left."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, status


def wait_or_kill(pid: int, seconds: float, still_it: Callable[[], bool] | None = None) -> None:
    """Until process `pid` has exited (a pidfd turns readable the moment it does: no
    polling); SIGKILLed if it is still there after `seconds` (and `still_it()` says the pid
    is still the same process)."""
    import select
    import signal

    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if not select.select([pidfd], [], [], seconds)[0] and (still_it is None or still_it()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    finally:
        os.close(pidfd)
