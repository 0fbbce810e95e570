"""Network namespaces kept by a bind mount of their nsfs file (as `ip netns add` does, but at
a path berth chooses, under the runroot), created and entered by the calling thread only.

Network namespaces belong to a thread, not a process: `unshare(CLONE_NEWNET)` and `setns` move
just the calling thread, so the engine can step into a namespace and back without disturbing
its other threads, and a child it starts meanwhile is born inside.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from berth.errors import BerthError
from berth.sys import CLONE_NEWNET, MNT_DETACH, bind, setns, umount, unshare

THREAD_NETNS = "/proc/thread-self/ns/net"


def create(path: Path) -> None:
    """A new, empty network namespace (only `lo`, down), kept alive by a mount on `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    own = os.open(THREAD_NETNS, os.O_RDONLY | os.O_CLOEXEC)
    try:
        unshare(CLONE_NEWNET)
        try:
            bind(THREAD_NETNS, path)
        finally:
            setns(own, CLONE_NEWNET)
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    finally:
        os.close(own)


@contextlib.contextmanager
def entered(path: Path) -> Iterator[None]:
    """Run the block (and the children it starts) inside the namespace at `path`."""
    own = os.open(THREAD_NETNS, os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns(target, CLONE_NEWNET)
        finally:
            os.close(target)
        try:
            yield
        finally:
            setns(own, CLONE_NEWNET)
    finally:
        os.close(own)


def remove(path: Path) -> None:
    """Drop the mount that keeps the namespace; the kernel frees it (and the container ends of
    its veth pairs) once no process is left inside."""
    if os.path.ismount(path):
        with contextlib.suppress(BerthError):
            umount(path, MNT_DETACH)
    with contextlib.suppress(OSError):
        path.unlink()
