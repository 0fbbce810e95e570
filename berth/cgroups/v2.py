"""cgroup v2: one directory under the unified hierarchy. Imports berth.errors and the stdlib.

A v2 group only has the controllers its parent lists in cgroup.subtree_control, and a
non-root group with processes cannot delegate any (the no-internal-process rule). So
`create` enables the controllers level by level from the mount down; berth's parent group
never holds processes itself, only the containers' groups do.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from pathlib import Path

from berth.cgroups import files
from berth.cgroups.resources import (
    Resources,
    Stats,
    cpu_max,
    keyed,
    limit_or_none,
    shares_to_weight,
    swap_max,
)
from berth.errors import BerthError, SystemFailure

WANTED = ("cpu", "cpuset", "memory", "pids")
FREEZE_PATIENCE = 5.0


class V2:
    """A container's group under the unified hierarchy; see `CgroupManager`."""

    version = 2

    def __init__(self, mount_point: Path, relative: Path) -> None:
        self.mount_point = mount_point
        self.path = mount_point / relative

    def paths(self) -> list[Path]:
        return [self.path]

    def create(self, resources: Resources) -> None:
        created: list[Path] = []
        refused: dict[str, str] = {}
        try:
            level = self.mount_point
            for part in self.path.relative_to(self.mount_point).parts:
                refused.update(_delegate(level))
                level = level / part
                if files.make_dir(level):
                    created.append(level)
            self._check_controllers(resources, refused)
            self.update(resources)
        except BaseException:
            for path in reversed(created):
                with contextlib.suppress(OSError):
                    path.rmdir()
            raise

    def _check_controllers(self, resources: Resources, refused: dict[str, str]) -> None:
        """Fail with the reason now, rather than with a missing file later.

        `refused` maps a controller to why an ancestor would not delegate it.
        """
        have = set(files.read(self.path / "cgroup.controllers").split())
        needs = {
            "memory": (resources.memory, resources.memory_swap, resources.memory_reservation),
            "cpu": (resources.cpu_quota, resources.cpu_period, resources.cpu_shares),
            "cpuset": (resources.cpuset_cpus, resources.cpuset_mems),
            "pids": (resources.pids_limit,),
        }
        for controller, values in needs.items():
            if controller not in have and any(value not in (None, "", 0) for value in values):
                reason = refused.get(controller)
                raise SystemFailure(
                    f"the {controller} controller is not available in {self.path}"
                    + (f": {reason}" if reason else ""),
                    hint="it must be enabled in cgroup.subtree_control of every ancestor, "
                    "and an ancestor other than the root can't while it holds processes",
                )

    def update(self, resources: Resources) -> None:
        if resources.memory is not None:
            limit = "max" if resources.memory < 0 else str(resources.memory)
            files.write(self.path / "memory.max", limit)
        if resources.memory_swap is not None:
            swap_file = self.path / "memory.swap.max"
            if swap_file.exists():
                memory = resources.memory
                if memory is None:
                    memory = limit_or_none(files.read(self.path / "memory.max"))
                files.write(swap_file, swap_max(memory, resources.memory_swap))
            else:
                files.warn("swap accounting is off in this kernel: memory+swap limit ignored")
        if resources.memory_reservation is not None:
            files.write(self.path / "memory.low", str(resources.memory_reservation))
        if resources.memory_swappiness is not None:  # as dockerd on v2: ignored, said so
            files.warn("cgroup v2 has no memory swappiness: memory swappiness discarded")
        if resources.oom_kill_disable:
            files.warn("cgroup v2 can't disable the OOM killer: OomKillDisable discarded")
        line = cpu_max(resources.cpu_quota, resources.cpu_period, files.read(self.path / "cpu.max"))
        if line is not None:
            files.write(self.path / "cpu.max", line)
        if resources.cpu_shares:
            files.write(self.path / "cpu.weight", str(shares_to_weight(resources.cpu_shares)))
        if resources.cpuset_cpus:
            files.write(self.path / "cpuset.cpus", resources.cpuset_cpus)
        if resources.cpuset_mems:
            files.write(self.path / "cpuset.mems", resources.cpuset_mems)
        if resources.pids_limit is not None:
            limit = "max" if resources.pids_limit <= 0 else str(resources.pids_limit)
            files.write(self.path / "pids.max", limit)

    def procs_files(self) -> list[Path]:
        return [self.path / "cgroup.procs"]

    def add(self, pid: int) -> None:
        files.write(self.path / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        return sorted(files.read_pids(self.path / "cgroup.procs"))

    def _set_frozen(self, frozen: bool) -> None:
        """cgroup.freeze, then wait for cgroup.events to report the state reached."""
        files.write(self.path / "cgroup.freeze", "1" if frozen else "0")
        deadline = time.monotonic() + FREEZE_PATIENCE
        while keyed(files.read(self.path / "cgroup.events")).get("frozen", 0) != int(frozen):
            if time.monotonic() > deadline:
                raise SystemFailure(
                    f"the processes in {self.path} did not {'freeze' if frozen else 'thaw'}"
                )
            time.sleep(0.002)

    def freeze(self) -> None:
        self._set_frozen(True)

    def thaw(self) -> None:
        self._set_frozen(False)

    def stats(self) -> Stats:
        return Stats(
            memory_usage=files.read_int(self.path / "memory.current"),
            memory_limit=limit_or_none(files.read(self.path / "memory.max")),
            cpu_usage_ns=keyed(files.read(self.path / "cpu.stat")).get("usage_usec", 0) * 1000,
            pids_current=files.read_int(self.path / "pids.current"),
            oom_kills=self._oom_kills(),
        )

    def _oom_kills(self) -> int:
        return keyed(files.read(self.path / "memory.events")).get("oom_kill", 0)

    def oom_killed(self) -> bool:
        return self._oom_kills() > 0

    def kill_all(self, sig: int) -> None:
        """SIGKILL through cgroup.kill (kernel >= 5.14: atomic, forks can't escape);
        otherwise freeze (fatal signals still kill frozen tasks on v2), signal, thaw."""
        if not self.pids():
            return  # nothing to signal, or the group is gone: freezing it would fail
        kill_file = self.path / "cgroup.kill"
        if sig == signal.SIGKILL and kill_file.exists():
            files.write(kill_file, "1")
            return
        was_frozen = keyed(files.read(self.path / "cgroup.events")).get("frozen", 0) == 1
        if not was_frozen:
            self.freeze()
        try:
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        finally:
            if not was_frozen:
                self.thaw()

    def destroy(self) -> None:
        files.remove_tree(self.path)


def _delegate(level: Path) -> dict[str, str]:
    """Enable the wanted controllers `level` offers in its cgroup.subtree_control.

    One controller per write, so one that can't be enabled doesn't stop the others. Returns
    why each refused one was refused; `create` reports it only if a limit needs it.
    """
    offered = set(files.read(level / "cgroup.controllers").split())
    enabled = set(files.read(level / "cgroup.subtree_control").split())
    refused: dict[str, str] = {}
    for controller in WANTED:
        if controller in offered and controller not in enabled:
            try:
                files.write(level / "cgroup.subtree_control", f"+{controller}")
            except BerthError as error:
                cause = error.__context__
                if isinstance(cause, OSError) and cause.errno == errno.EBUSY:
                    refused[controller] = (
                        f"{level} holds processes of its own (the no-internal-process rule)"
                    )
                else:
                    refused[controller] = error.message
                files.warn("cannot enable %s in %s: %s", controller, level, refused[controller])
    return refused
