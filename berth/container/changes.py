"""`diff`: a container's changes to its image, read from its overlay upper directory, by
Docker's rules (moby's overlay changes walk):

- a walk of `containers/<id>/diff` in lexical order, each directory before its contents;
- a character device 0/0 is a whiteout: `D` of that path; a directory marked opaque
  (`trusted.overlay.opaque=y`) that exists in a lower layer is `D` too, its contents follow;
- anything else is `C` when the path exists in a lower layer, else `A`; a directory that
  exists below with the same size, mode and mtime is not listed (it was only copied up);
- the parent of an `A` or `D` is listed as `C` (once) unless already listed.

Docker keeps the mount points it creates (/etc/hosts, /proc, ...) in an init layer under the
container's, so they never show; berth creates them in the upper directory, so they are left
out here, with directories that were only copied up to hold them.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from berth.container.paths import ContainerPaths
    from berth.container.records import ContainerRecord
    from berth.container.services import Snapshots

MODIFY, ADD, DELETE = "C", "A", "D"
OPAQUE = "trusted.overlay.opaque"
# Always made by the runtime when missing, as Docker's init layer holds them.
RUNTIME_PATHS = (
    "/dev/console",
    "/dev/pts",
    "/dev/shm",
    "/etc/mtab",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/.dockerenv",
)


class Change(NamedTuple):  # not a dataclass: `build` imports this module on its RUN path
    kind: str  # "C", "A" or "D"
    path: str

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"


def _same_time(a: int, b: int) -> bool:
    """Docker's sameFsTime: equal, or the same second with one side's nanoseconds zero."""
    second = 1_000_000_000
    return a == b or (a // second == b // second and (a % second == 0 or b % second == 0))


def _lower(layers: list[Path], path: str) -> os.stat_result | None:
    for layer in layers:
        try:
            return os.lstat(os.path.join(layer, path.lstrip("/")))
        except OSError:
            continue
    return None


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


def changes(upper: Path, layers: list[Path], hidden: set[str] | None = None) -> list[Change]:
    """The changes in `upper` over `layers` (each a lower directory), `hidden` paths left out."""
    hidden = hidden or set()
    found: list[Change] = []
    changed_dirs: set[str] = set()

    def visit(host: str, path: str) -> None:
        try:
            names = sorted(os.listdir(host))
        except OSError:
            return
        for name in names:
            child_host = os.path.join(host, name)
            child = f"{path.rstrip('/')}/{name}"
            try:
                info = os.lstat(child_host)
            except OSError:
                continue
            is_dir = stat.S_ISDIR(info.st_mode)
            if child in hidden:
                continue
            kind: str | None
            lower = _lower(layers, child)
            whiteout = stat.S_ISCHR(info.st_mode) and info.st_rdev == 0
            if whiteout or (is_dir and _opaque(child_host) and lower is not None):
                kind = DELETE
            elif lower is None:
                kind = ADD
            elif (
                is_dir
                and stat.S_ISDIR(lower.st_mode)
                and info.st_size == lower.st_size
                and info.st_mode == lower.st_mode
                and _same_time(info.st_mtime_ns, lower.st_mtime_ns)
            ):
                kind = None
            else:
                kind = MODIFY
            if kind is not None:
                if is_dir:
                    changed_dirs.add(child)
                if kind in (ADD, DELETE):
                    parent = os.path.dirname(child)
                    if parent not in changed_dirs and parent != "/":
                        found.append(Change(MODIFY, parent))
                        changed_dirs.add(parent)
                found.append(Change(kind, child))
            if is_dir and not whiteout:
                visit(child_host, child)

    visit(str(upper), "/")
    return _without_holders(found, upper, layers, hidden)


def _without_holders(
    found: list[Change], upper: Path, layers: list[Path], hidden: set[str]
) -> list[Change]:
    """Drop a `C` directory that was only copied up to hold hidden mount points: nothing
    listed lies under it and its owner and mode are the lower layer's."""
    if not hidden:
        return found
    kept: list[Change] = []
    for change in found:
        if change.kind == MODIFY and any(h.startswith(change.path + "/") for h in hidden):
            below = any(c.path.startswith(change.path + "/") for c in found)
            lower = _lower(layers, change.path)
            try:
                info = os.lstat(os.path.join(upper, change.path.lstrip("/")))
            except OSError:
                info = None
            if (
                not below
                and lower is not None
                and info is not None
                and (info.st_mode, info.st_uid, info.st_gid)
                == (lower.st_mode, lower.st_uid, lower.st_gid)
            ):
                continue
        kept.append(change)
    return kept


def runtime_paths(bundle: Path) -> set[str]:
    """The runtime's own files and the kernel filesystems of the container's last spec
    (binds and volumes are the user's: Docker lists their mount points)."""
    hidden = set(RUNTIME_PATHS)
    try:
        spec = json.loads((bundle / "config.json").read_text())
    except (OSError, ValueError):
        return hidden
    for mount in spec.get("mounts") or []:
        if mount.get("type") == "bind":
            continue
        destination = os.path.normpath("/" + str(mount.get("destination") or ""))
        hidden.add(destination)
    return hidden


def runtime_stubs(bundle: Path) -> frozenset[str]:
    """`runtime_paths`, relative (`etc/hosts`): what a layer made of the upper leaves out."""
    return frozenset(path.lstrip("/") for path in runtime_paths(bundle))


def container_changes(
    paths: ContainerPaths, snapshots: Snapshots, record: ContainerRecord
) -> list[Change]:
    """The container's changes: its snapshot's upper over the layers beneath it."""
    return changes(
        snapshots.upper(record.id),
        snapshots.lowers(record.id),
        runtime_paths(paths.directory(record.id)),
    )
