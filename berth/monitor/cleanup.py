"""What the monitor undoes once its container is done: the published ports' reservations and
the DNS resolver (released before "exited" is published, so a start right after can take the
ports again), the OOM verdict read from the cgroup before it goes, the rootfs mount and the
cgroup, and last the berth command that removes the container (`run --rm`) or frees its network.

The cgroup and sys modules are imported only when needed (the monitor preloads them while the
launcher still prepares the container); the cgroup layout is found before the container comes.
Must not import the engine, container or cli packages: the last step is an exec of berth's CLI.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from berth.errors import BerthError

if TYPE_CHECKING:
    from berth.cgroups import CgroupManager
    from berth.cgroups import Layout as CgroupLayout
    from berth.monitor.config import MonitorConfig
    from berth.monitor.resolver import Resolver


class Cleanup:
    """One container's leftovers; `resolver` is set by the monitor once it serves DNS."""

    __slots__ = ("_cgroup_layout", "_cgroup_manager", "config", "resolver")

    def __init__(self, config: MonitorConfig, cgroup_layout: CgroupLayout | None) -> None:
        self.config = config
        self._cgroup_layout = cgroup_layout
        self._cgroup_manager: CgroupManager | None = None
        self.resolver: Resolver | None = None

    def _cgroup(self) -> CgroupManager:
        """The container's cgroup (the layout found before the container came, if it was)."""
        if self._cgroup_manager is None:
            from berth.cgroups import open_cgroup

            self._cgroup_manager = open_cgroup(
                str(self.config.cgroup_name),
                parent=self.config.cgroup_parent,
                layout=self._cgroup_layout,
            )
        return self._cgroup_manager

    def oom_killed(self) -> bool:
        if not self.config.cgroup_name:
            return False
        try:
            return self._cgroup().oom_killed()
        except BerthError:
            return False

    def release_held(self) -> None:
        """Close the published ports' reservations and stop the resolver: the container is
        done with them, and a start right after must be able to take the ports again."""
        for fd in self.config.held_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.resolver is not None:
            self.resolver.stop()
            self.resolver = None

    def unmount_and_destroy(self) -> None:
        """Unmount the container's rootfs (and shared /dev/shm) and remove its cgroup."""
        from berth.sys import MNT_DETACH, umount

        for path in (self.config.rootfs, self.config.shm):
            if path:
                with contextlib.suppress(BerthError):
                    umount(Path(path), MNT_DETACH)
        if self.config.cgroup_name:
            with contextlib.suppress(BerthError):
                self._cgroup().destroy()


def cgroup_layout() -> CgroupLayout | None:
    from berth.cgroups import detect

    try:
        return detect()
    except (BerthError, OSError):
        return None  # found again when needed, and failing then where it matters


def exec_last_step(config: MonitorConfig, heard: bool, environment: bytes | None = None) -> None:
    """Become the berth command that removes the container (`run --rm`) or frees its network;
    returns only when there is nothing to run: a container being removed (`rm -f`) is
    released by its remover, which waits for this process (a second berth command here
    would double the wait, ~50 ms). `environment`: the launcher's, as the zygote passed it
    (None: this process's own)."""
    from berth.monitor.config import REMOVE_REQUESTED

    argv: list[str] = []
    if config.auto_remove_argv:
        if not heard:  # a client that heard the exit removes the container itself
            argv = list(config.auto_remove_argv)
    elif config.cleanup_argv and not os.path.exists(f"{config.run_dir}/{REMOVE_REQUESTED}"):
        argv = list(config.cleanup_argv)  # free the network now
    if not argv:
        return
    from berth.monitor.launch import decode_environment

    given = None if environment is None else decode_environment(environment)
    os.execve(argv[0], argv, os.environ if given is None else given)
