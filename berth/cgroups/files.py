"""Reading and writing cgroup control files, with OSError turned into berth error kinds.

A value the kernel rejects (EINVAL, EBUSY for a memory limit below usage, ERANGE) is the
caller's InvalidArgument; anything else is a SystemFailure. Every message names the file.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from berth.errors import InvalidArgument, NotFound, SystemFailure


def warn(message: str, *args: object) -> None:
    """A warning in the cgroups' log; logging is imported only then (~3 ms of every start)."""
    import logging

    logging.getLogger("berth.cgroups").warning(message, *args)


REJECTED = (errno.EINVAL, errno.EBUSY, errno.ERANGE, errno.EOVERFLOW)
REMOVE_PATIENCE = 5.0


def write(path: Path, value: str) -> None:
    """Write `value` in one write(2): cgroup files act on each write call separately."""
    try:
        # O_TRUNC is ignored by cgroupfs and makes plain-file stand-ins behave the same.
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except OSError as error:
        raise _kind(error, path, value) from None
    try:
        os.write(fd, value.encode())
    except OSError as error:
        raise _kind(error, path, value) from None
    finally:
        os.close(fd)


def _kind(error: OSError, path: Path, value: str) -> Exception:
    reason = error.strerror or str(error)
    if error.errno == errno.ENOENT and not path.parent.is_dir():
        return NotFound(f"cgroup {path.parent} does not exist")
    if error.errno == errno.ENOENT:
        return SystemFailure(
            f"cgroup file {path} does not exist",
            hint="is the controller mounted (v1) or enabled in the parent (v2)?",
        )
    if error.errno == errno.ESRCH:
        return NotFound(f"cannot write {value!r} to {path}: no such process")
    if error.errno in REJECTED:
        return InvalidArgument(f"the kernel rejected {value!r} for {path}: {reason}")
    return SystemFailure(f"cannot write {value!r} to {path}: {reason}")


def read(path: Path) -> str:
    """The file's text, or "" when it is gone (a group removed under us reads as empty)."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
    except OSError as error:
        raise SystemFailure(f"cannot read {path}: {error.strerror}") from None


def read_int(path: Path) -> int:
    text = read(path).strip()
    return int(text) if text.lstrip("-").isdigit() else 0


def read_pids(path: Path) -> list[int]:
    return [int(word) for word in read(path).split()]


def make_dir(path: Path) -> bool:
    """mkdir one level; True when this call created it (so a failed create can undo it)."""
    try:
        path.mkdir()
    except FileExistsError:
        return False
    except OSError as error:
        raise SystemFailure(f"cannot create cgroup {path}: {error.strerror}") from None
    return True


def remove_tree(path: Path) -> None:
    """rmdir `path` and any child groups, deepest first; gone already (or meanwhile: the
    monitor and a command may both remove an exited container's group) is fine.

    rmdir fails with EBUSY while a group still has tasks: the last ones may be exiting right
    now (a killed container's processes leave the group a moment after the signal), so retry
    for a few seconds before giving up.
    """
    try:  # the container's monitor may be removing the same tree right now
        children = sorted(path.iterdir(), reverse=True)
    except (FileNotFoundError, NotADirectoryError):
        return
    for child in children:
        if child.is_dir():
            remove_tree(child)
    deadline = time.monotonic() + REMOVE_PATIENCE
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno != errno.EBUSY or time.monotonic() > deadline:
                tasks = read(path / "cgroup.procs").split()
                raise SystemFailure(
                    f"cannot remove cgroup {path}: {error.strerror}"
                    + (f" (processes still in it: {' '.join(tasks[:10])})" if tasks else "")
                ) from None
            time.sleep(0.01)
