"""The libc handle and the one place where a failed syscall becomes a berth error.

Python 3.11 has no os.mount/unshare/setns, so berth calls libc through ctypes. Every shim
in this package checks its return value with `check`, which turns errno into SystemFailure
(the host refused an operation) or NotFound, keeping the OSError as `__cause__` so a caller
that must tolerate one errno (EINVAL from umount of something not mounted) can look at it.
Imports only ctypes and berth.errors.
"""

from __future__ import annotations

import ctypes
import errno
import os

from berth.errors import BerthError, NotFound, SystemFailure

# CDLL(None) is the already loaded libc: no ctypes.util.find_library, which runs ldconfig.
libc = ctypes.CDLL(None, use_errno=True)


def error_of(call: str, err: OSError) -> BerthError:
    """The berth error kind for a failed system call."""
    message = f"{call}: {err.strerror or os.strerror(err.errno or 0)}"
    if err.errno in (errno.ENOENT, errno.ENOTDIR):
        return NotFound(message)
    return SystemFailure(message)


def check(result: int, call: str) -> None:
    """Raise the berth error for errno when a libc call returned -1."""
    if result == -1:
        code = ctypes.get_errno()
        err = OSError(code, os.strerror(code))
        raise error_of(call, err) from err
