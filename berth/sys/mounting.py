"""mount(2) and umount2(2), and the overlay and bind mounts berth builds from them.

Overlay options are passed as mount data, which the kernel limits to one page: snapshots
use short numeric directory names (see layout) so that many layers fit. Paths holding the
option separators (',' ':' '\\') are refused rather than escaped. Imports only ctypes, os
and berth.errors; no subprocesses (no mount(8)).
"""

from __future__ import annotations

import ctypes
import os

from berth.errors import InvalidArgument
from berth.sys._libc import check, libc

TYPE_CHECKING = False  # the unpacker imports this module: pathlib costs it ~3 ms
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000

MNT_FORCE = 0x1
MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8

# The kernel copies at most one page of mount data.
_MAX_DATA = os.sysconf("SC_PAGE_SIZE") - 1
_OPTION_SEPARATORS = frozenset(",:\\")

libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
libc.mount.restype = ctypes.c_int
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.umount2.restype = ctypes.c_int


def _arg(value: str | os.PathLike[str] | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(
    source: str | os.PathLike[str] | None,
    target: str | os.PathLike[str],
    fstype: str | None = None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    """mount(2): attach `source` at `target`, or change a mount's flags or propagation."""
    result = libc.mount(_arg(source), _arg(target), _arg(fstype), flags, _arg(data))
    check(result, f"mount {source} on {os.fspath(target)} ({fstype}, {flags:#x}, {data})")


def umount(target: str | os.PathLike[str], flags: int = 0) -> None:
    """umount2(2): detach the mount at `target` (MNT_DETACH for a lazy unmount)."""
    check(libc.umount2(_arg(target), flags), f"umount {os.fspath(target)}")


def make_private(target: str | os.PathLike[str] = "/", *, recursive: bool = True) -> None:
    """Stop mount events propagating between this namespace and the host's."""
    mount(None, target, None, MS_PRIVATE | (MS_REC if recursive else 0))


def bind(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    readonly: bool = False,
    recursive: bool = False,
) -> None:
    """Bind `source` on `target`; read-only needs a second, remounting call."""
    mount(source, target, None, MS_BIND | (MS_REC if recursive else 0))
    if readonly:
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def overlay_options(lowerdirs: Sequence[Path], upper: Path | None, work: Path | None) -> str:
    """The overlay mount data; `lowerdirs` are ordered topmost first, as the kernel wants."""
    if not lowerdirs:
        raise InvalidArgument("an overlay needs at least one lower directory")
    if (upper is None) != (work is None):
        raise InvalidArgument("an overlay needs both an upper and a work directory, or neither")
    paths = [*lowerdirs, *([upper, work] if upper and work else [])]
    for path in paths:
        if _OPTION_SEPARATORS.intersection(str(path)):
            raise InvalidArgument(f"overlay path {path} contains ',', ':' or '\\'")
    options = "lowerdir=" + ":".join(str(p) for p in lowerdirs)
    if upper is not None and work is not None:
        options += f",upperdir={upper},workdir={work}"
    if len(options) > _MAX_DATA:
        raise InvalidArgument(
            f"overlay options for {len(lowerdirs)} layers exceed the kernel's {_MAX_DATA} bytes",
            hint="use shorter snapshot paths",
        )
    return options


def mount_overlay(
    lowerdirs: Sequence[Path],
    upper: Path | None,
    work: Path | None,
    target: Path,
    *,
    readonly: bool = False,
    nodev: bool = False,
) -> None:
    """Mount an overlay of `lowerdirs` (topmost first) with an optional upper on `target`;
    `nodev`: device nodes in it can't be opened.

    Without an upper the view is read-only. The kernel refuses an overlay of one lower and no
    upper, so that case is a read-only bind of the lower directory (a bottom layer's whiteouts
    hide nothing, so nothing is lost).
    """
    if upper is None and not readonly:
        raise InvalidArgument("a writable overlay needs an upper directory")
    if upper is None and len(lowerdirs) == 1:
        bind(lowerdirs[0], target, readonly=True)
        return
    options = overlay_options(lowerdirs, upper, work)
    flags = (MS_RDONLY if readonly else 0) | (MS_NODEV if nodev else 0)
    mount("overlay", target, "overlay", flags, options)
