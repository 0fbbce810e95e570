"""Namespaces and root changes: unshare, setns, chroot.

The process that calls these is always a fresh exec (an unpacker, a runtime init), never
the multi-threaded engine: unshare(CLONE_NEWNS) in a threaded process would leave the other
threads behind in the old namespace. Imports only ctypes, os and berth.errors.
"""

from __future__ import annotations

import ctypes
import os

from berth.sys._libc import check, error_of, libc

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

libc.unshare.argtypes = [ctypes.c_int]
libc.unshare.restype = ctypes.c_int
libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
libc.setns.restype = ctypes.c_int


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (CLONE_NEW* flags)."""
    check(libc.unshare(flags), f"unshare({flags:#x})")


def setns(fd: int, nstype: int = 0) -> None:
    """Join the namespace that `fd` (an open /proc/<pid>/ns/* file) refers to."""
    check(libc.setns(fd, nstype), f"setns({fd}, {nstype:#x})")


def chroot(path: str | os.PathLike[str]) -> None:
    """Change the root directory and move into it, so no path can name the old root."""
    try:
        os.chroot(path)
        os.chdir("/")
    except OSError as err:
        raise error_of(f"chroot {os.fspath(path)}", err) from err
