"""Process-level shims for the container init: capabilities, prctl, pivot_root, hostname.

The order matters and lives in the caller (DESIGN §7b): drop the bounding set while
CAP_SETPCAP is held, keep capabilities across setuid, then no_new_privs, then capset.
"""

from __future__ import annotations

import ctypes
import os
import signal
import struct

from berth.sys._libc import check, libc

PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
PR_SET_NAME = 15
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
SYS_PIVOT_ROOT = 155  # x86_64
SYS_CAPSET = 126
SYS_CAPGET = 125
SYS_CLONE3 = 435  # x86_64, and the generic table (aarch64) alike
SYS_IOPRIO_GET = 252  # x86_64
IOPRIO_WHO_PROCESS = 1
CLONE_INTO_CGROUP = 0x200000000
# struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2): flags, pidfd, child_tid,
# parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup.
_CLONE_ARGS = struct.Struct("=11Q")
# The same libc, called with the GIL held: the child of a clone must come back holding it.
_libc_with_gil = ctypes.PyDLL(None, use_errno=True)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def prctl(option: int, arg2: int = 0, arg3: int = 0) -> int:
    result = int(libc.prctl(option, ctypes.c_ulong(arg2), ctypes.c_ulong(arg3), 0, 0))
    check(result, f"prctl({option})")
    return result


def last_capability() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as stream:
        return int(stream.read())


def drop_bounding(keep: set[int]) -> None:
    for number in range(last_capability() + 1):
        if number not in keep and libc.prctl(PR_CAPBSET_READ, number, 0, 0, 0) == 1:
            prctl(PR_CAPBSET_DROP, number)


def capset(effective: set[int], permitted: set[int], inheritable: set[int]) -> None:
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for index in range(2):

        def mask(numbers: set[int], index: int = index) -> int:
            return sum(1 << (n - 32 * index) for n in numbers if 32 * index <= n < 32 * (index + 1))

        data[index].effective = mask(effective)
        data[index].permitted = mask(permitted)
        data[index].inheritable = mask(inheritable)
    check(int(libc.syscall(SYS_CAPSET, ctypes.byref(header), data)), "capset")


def raise_ambient(numbers: set[int]) -> None:
    for number in numbers:
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, number)


def pivot_root(new_root: str, put_old: str) -> None:
    check(
        int(libc.syscall(SYS_PIVOT_ROOT, os.fsencode(new_root), os.fsencode(put_old))), "pivot_root"
    )


def sethostname(name: str) -> None:
    encoded = name.encode()
    check(int(libc.sethostname(encoded, len(encoded))), "sethostname")


def is_child_subreaper() -> bool:
    """Whether orphaned descendants are reparented to this process (PR_SET_CHILD_SUBREAPER):
    the runtime's caller must be one to waitpid() a container's pid 1."""
    value = ctypes.c_int(0)
    result = int(libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0))
    check(result, "prctl(PR_GET_CHILD_SUBREAPER)")
    return bool(value.value)


def fork_into_cgroup(cgroup_fd: int) -> int:
    """os.fork, the child born in the cgroup2 directory open as `cgroup_fd` (clone3 with
    CLONE_INTO_CGROUP, Linux 5.7): no migration into it afterwards, so none of a migration's
    wait for the kernel's cgroup_threadgroup_rwsem. Python's fork hooks run as in os.fork.

    For a single-threaded caller (the init). Raises OSError as os.fork does: ENOSYS before
    5.7, EBADF when the directory is not cgroup2's (a v1 hierarchy); the caller then forks
    and writes the child's pid to cgroup.procs instead."""
    flags = _CLONE_ARGS.pack(CLONE_INTO_CGROUP, 0, 0, 0, signal.SIGCHLD, 0, 0, 0, 0, 0, cgroup_fd)
    arguments = ctypes.create_string_buffer(flags, _CLONE_ARGS.size)
    python = ctypes.pythonapi
    python.PyOS_BeforeFork()
    pid = int(
        _libc_with_gil.syscall(
            ctypes.c_long(SYS_CLONE3), arguments, ctypes.c_size_t(_CLONE_ARGS.size)
        )
    )
    if pid == 0:
        python.PyOS_AfterFork_Child()
        return 0
    error = ctypes.get_errno()
    python.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(error, os.strerror(error))
    return pid


def set_name(name: bytes) -> None:
    """The calling thread's name (`comm`, 15 bytes at most): what `ps -o comm` and `top`
    show of it."""
    check(int(libc.prctl(PR_SET_NAME, ctypes.c_char_p(name[:15]), 0, 0, 0)), "prctl(PR_SET_NAME)")


def io_priority(pid: int) -> int:
    """Process `pid`'s I/O scheduling class and level (`ionice`), as ioprio_get gives them."""
    priority = int(libc.syscall(SYS_IOPRIO_GET, IOPRIO_WHO_PROCESS, pid))
    check(priority, "ioprio_get")
    return priority


def signal_thread(process: int, thread: int, number: int) -> None:
    """Signal `number` to one thread of `process` (tgkill): a signal sent to a process goes
    to any of its threads that doesn't block it, and Python runs its handler only on the
    main thread, which another thread's taking it doesn't wake from a lock's wait."""
    check(int(libc.tgkill(process, thread, number)), "tgkill")
