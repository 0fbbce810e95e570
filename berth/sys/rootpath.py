"""A path inside a container's root filesystem, resolved as if that root were `/`.

Symlinks are followed the way openat2's RESOLVE_IN_ROOT follows them: an absolute link
restarts at the root and `..` stops at it, so an image's links can never point a host-side
operation (volume copy-up, `cp`) outside the rootfs. The last component is followed only
when asked (`cp` copies a link itself, as Docker's does without -L).

Used only on a root no container process can change at the same time (a container not yet
started, a stopped one, the runtime's init placing mounts before the container runs) or
inside a chroot, where the kernel contains the rest. Stdlib and berth.errors only.
"""

from __future__ import annotations

import os

from berth.errors import InvalidArgument

MAX_SYMLINKS = 40


def resolve_in_root(root: str, path: str, *, follow_last: bool = True) -> str:
    """The host path of `path` inside `root`; never outside it."""
    parts = [p for p in path.split("/") if p and p != "."]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate) and (parts or follow_last):
            hops += 1
            if hops > MAX_SYMLINKS:
                raise InvalidArgument(f"too many levels of symbolic links in {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)
