"""Typed syscall shims over ctypes: mounts, namespaces, root changes.

The only package where OSError from the host becomes a berth error kind. Stdlib (ctypes,
os) and berth.errors only: no subprocesses, nothing above it in the layers.
"""

import importlib

TYPE_CHECKING = False  # typing costs the CLI's quick paths ~2 ms (berth.sys.rootpath)
if TYPE_CHECKING:
    from typing import Any

    from berth.sys.mounting import (
        MNT_DETACH,
        MNT_FORCE,
        MS_BIND,
        MS_MOVE,
        MS_NOATIME,
        MS_NODEV,
        MS_NOEXEC,
        MS_NOSUID,
        MS_PRIVATE,
        MS_RDONLY,
        MS_REC,
        MS_REMOUNT,
        MS_SHARED,
        MS_SLAVE,
        UMOUNT_NOFOLLOW,
        bind,
        make_private,
        mount,
        mount_overlay,
        overlay_options,
        umount,
    )
    from berth.sys.namespace import (
        CLONE_NEWCGROUP,
        CLONE_NEWIPC,
        CLONE_NEWNET,
        CLONE_NEWNS,
        CLONE_NEWPID,
        CLONE_NEWUSER,
        CLONE_NEWUTS,
        chroot,
        setns,
        unshare,
    )

# Loaded on first use: `from berth.sys.filelock import FileLock` (the store's locks) must not
# pay for ctypes and the libc bindings (~2 ms) in a command that never mounts anything.
_LAZY = {
    "MNT_DETACH": "berth.sys.mounting",
    "MNT_FORCE": "berth.sys.mounting",
    "MS_BIND": "berth.sys.mounting",
    "MS_MOVE": "berth.sys.mounting",
    "MS_NOATIME": "berth.sys.mounting",
    "MS_NODEV": "berth.sys.mounting",
    "MS_NOEXEC": "berth.sys.mounting",
    "MS_NOSUID": "berth.sys.mounting",
    "MS_PRIVATE": "berth.sys.mounting",
    "MS_RDONLY": "berth.sys.mounting",
    "MS_REC": "berth.sys.mounting",
    "MS_REMOUNT": "berth.sys.mounting",
    "MS_SHARED": "berth.sys.mounting",
    "MS_SLAVE": "berth.sys.mounting",
    "UMOUNT_NOFOLLOW": "berth.sys.mounting",
    "bind": "berth.sys.mounting",
    "make_private": "berth.sys.mounting",
    "mount": "berth.sys.mounting",
    "mount_overlay": "berth.sys.mounting",
    "overlay_options": "berth.sys.mounting",
    "umount": "berth.sys.mounting",
    "CLONE_NEWCGROUP": "berth.sys.namespace",
    "CLONE_NEWIPC": "berth.sys.namespace",
    "CLONE_NEWNET": "berth.sys.namespace",
    "CLONE_NEWNS": "berth.sys.namespace",
    "CLONE_NEWPID": "berth.sys.namespace",
    "CLONE_NEWUSER": "berth.sys.namespace",
    "CLONE_NEWUTS": "berth.sys.namespace",
    "chroot": "berth.sys.namespace",
    "setns": "berth.sys.namespace",
    "unshare": "berth.sys.namespace",
}

__all__ = [
    "CLONE_NEWCGROUP",
    "CLONE_NEWIPC",
    "CLONE_NEWNET",
    "CLONE_NEWNS",
    "CLONE_NEWPID",
    "CLONE_NEWUSER",
    "CLONE_NEWUTS",
    "MNT_DETACH",
    "MNT_FORCE",
    "MS_BIND",
    "MS_MOVE",
    "MS_NOATIME",
    "MS_NODEV",
    "MS_NOEXEC",
    "MS_NOSUID",
    "MS_PRIVATE",
    "MS_RDONLY",
    "MS_REC",
    "MS_REMOUNT",
    "MS_SHARED",
    "MS_SLAVE",
    "UMOUNT_NOFOLLOW",
    "bind",
    "chroot",
    "make_private",
    "mount",
    "mount_overlay",
    "overlay_options",
    "setns",
    "umount",
    "unshare",
]


def __getattr__(name: str) -> "Any":
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'berth.sys' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
