"""Where a container's things live: its directory in the store (spec, /etc files, log), its
run directory (the monitor's config, status and attach socket), its start lock, its cgroup."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from berth.layout import Layout

if TYPE_CHECKING:
    from berth.sys.filelock import FileLock

CGROUP_PARENT_ENV = "BERTH_CGROUP_PARENT"


class ContainerPaths:
    __slots__ = ("layout", "run_dirs")

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        # The run directories' parent as text: listings build a path per container from it
        # (a pathlib join costs more than the read that follows).
        self.run_dirs = f"{layout.runroot}/containers"

    def directory(self, container_id: str) -> Path:
        return self.layout.containers / container_id

    def rootfs(self, container_id: str) -> Path:
        """The mount point of the container's root while it runs."""
        return self.directory(container_id) / "rootfs"

    def shm(self, container_id: str) -> Path:
        """Where a shareable IPC namespace's /dev/shm is mounted on the host while it runs."""
        return self.directory(container_id) / "shm"

    def log(self, container_id: str) -> Path:
        """Docker's json-file log."""
        return self.directory(container_id) / f"{container_id}-json.log"

    def run_dir(self, container_id: str) -> Path:
        return self.layout.runroot / "containers" / container_id

    @property
    def runtime_root(self) -> Path:
        return self.layout.runroot / "runtime"

    @property
    def cgroup_parent(self) -> str:
        return os.environ.get(CGROUP_PARENT_ENV, "berth")

    def start_lock(self, container_id: str) -> FileLock:
        """Held while a container starts: nothing may release what a start is setting up."""
        from berth.sys.filelock import FileLock

        return FileLock(self.start_lock_path(container_id))

    def start_lock_path(self, container_id: str) -> Path:
        return self.layout.locks / f"start-{container_id}"
