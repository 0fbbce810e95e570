"""The `CgroupManager` protocol and `open_cgroup`, which picks V1 or V2 for this host.

A container's group is `<hierarchy>/<parent>/<name>`, relative to each hierarchy's mount
point and not to the caller's own cgroup: every berth process (CLI, monitor, API service)
must find the same group whatever cgroup it was started in.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Protocol

from berth.cgroups.layout import Layout, detect
from berth.cgroups.resources import Resources, Stats
from berth.cgroups.v1 import V1
from berth.cgroups.v2 import V2
from berth.errors import InvalidArgument, SystemFailure


class CgroupManager(Protocol):
    """One container's cgroup, in every hierarchy it needs.

    Lifecycle: `create` (idempotent) before the container's init starts; the runtime's init
    writes its own pid into `procs_files()` before unsharing, so every later process is born
    inside; `update`/`freeze`/`thaw`/`stats`/`kill_all` while it runs; `destroy` after it
    exited (never raises when the group is already gone).
    """

    version: int

    def create(self, resources: Resources) -> None: ...
    def update(self, resources: Resources) -> None: ...
    def procs_files(self) -> list[Path]: ...
    def add(self, pid: int) -> None: ...
    def pids(self) -> list[int]: ...
    def freeze(self) -> None: ...
    def thaw(self) -> None: ...
    def stats(self) -> Stats: ...
    def oom_killed(self) -> bool: ...
    def kill_all(self, sig: int) -> None: ...
    def destroy(self) -> None: ...


def group_path(name: str, parent: str) -> Path:
    """`parent/name` as a relative path; refuses names that would leave berth's subtree."""
    if not name or "/" in name or name in (".", ".."):
        raise InvalidArgument(f"invalid cgroup name {name!r}")
    parts = PurePosixPath(parent.strip("/")).parts
    if not parts or any(part in (".", "..") for part in parts):
        raise InvalidArgument(f"invalid cgroup parent {parent!r}")
    return Path(*parts, name)


def open_cgroup(name: str, *, parent: str = "berth", layout: Layout | None = None) -> CgroupManager:
    """The manager for `<hierarchy>/<parent>/<name>`; nothing is created until `create`."""
    relative = group_path(name, parent)
    layout = layout or detect()
    if layout.version == 1:
        return V1(layout, relative)
    if layout.version == 2 and layout.unified is not None:
        return V2(layout.unified.mount_point, relative)
    raise SystemFailure(
        "no usable cgroup hierarchy is mounted on this host",
        hint="mount cgroup2 at /sys/fs/cgroup, or the v1 memory, pids and cpu controllers",
    )
