"""cgroup v1: one directory per hierarchy (memory, pids, cpu, cpuacct, cpuset, freezer), which
may be joined (`cpu,cpuacct` is one directory). Imports berth.errors and the stdlib only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from berth.cgroups import files
from berth.cgroups.layout import Layout
from berth.cgroups.resources import (
    DEFAULT_CPU_PERIOD,
    Resources,
    Stats,
    keyed,
    limit_or_none,
    memory_first,
)
from berth.errors import InvalidArgument, SystemFailure

# The hierarchies a container joins. devices/blkio/net_* are left alone: berth sets no
# rules there, and every extra hierarchy is one more cgroup.procs write at start.
USED = ("memory", "pids", "cpu", "cpuacct", "cpuset", "freezer")
FREEZE_PATIENCE = 5.0
# A task in vfork or an uninterruptible sleep can keep FREEZING for a while; thawing and
# freezing again lets it reach the freezer point (runc does the same).
FREEZE_RETRY_AFTER = 0.1


class V1:
    """A container's group in every v1 hierarchy berth uses; see `CgroupManager`."""

    version = 1

    def __init__(self, layout: Layout, relative: Path) -> None:
        self._dirs: dict[str, Path] = {}
        for controller in USED:
            hierarchy = layout.hierarchy(controller)
            if hierarchy is not None:
                self._dirs[controller] = hierarchy.mount_point / relative
        self.relative = relative

    def paths(self) -> list[Path]:
        """The group's directories, one per hierarchy (joined ones once)."""
        return list(dict.fromkeys(self._dirs.values()))

    def _dir(self, controller: str) -> Path | None:
        return self._dirs.get(controller)

    def create(self, resources: Resources) -> None:
        """mkdir in every hierarchy (parents too), then apply `resources`; undo what this
        call created if a limit is refused, so a failed `run` leaves nothing behind."""
        created: list[Path] = []
        try:
            for path in self.paths():
                created.extend(self._make(path))
            cpuset = self._dir("cpuset")
            if cpuset is not None:
                self._inherit_cpuset(cpuset)
            self.update(resources)
        except BaseException:
            for path in reversed(created):
                with contextlib.suppress(OSError):
                    path.rmdir()
            raise

    @staticmethod
    def _make(path: Path) -> list[Path]:
        missing = [p for p in [path, *path.parents] if not p.exists()]
        return [p for p in reversed(missing) if files.make_dir(p)]

    def _inherit_cpuset(self, path: Path) -> None:
        """A new v1 cpuset group starts with no cpus and no mems, and no task can join it
        then; fill each empty level from its parent, top down."""
        levels = [path, *(p for p in path.parents if p.is_relative_to(self._root(path)))]
        for level in reversed(levels[:-1]):
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not files.read(level / name).strip():
                    files.write(level / name, files.read(level.parent / name).strip())

    def _root(self, path: Path) -> Path:
        """The hierarchy's mount point for a group path."""
        root = path
        for _ in self.relative.parts:
            root = root.parent
        return root

    def update(self, resources: Resources) -> None:
        self._memory(resources)
        self._cpu(resources)
        cpuset = self._dir("cpuset")
        if cpuset is not None:
            if resources.cpuset_cpus:
                files.write(cpuset / "cpuset.cpus", resources.cpuset_cpus)
            if resources.cpuset_mems:
                files.write(cpuset / "cpuset.mems", resources.cpuset_mems)
        elif resources.cpuset_cpus or resources.cpuset_mems:
            raise SystemFailure("the cpuset cgroup controller is not mounted")
        pids = self._dir("pids")
        if resources.pids_limit is not None:
            if pids is None:
                raise SystemFailure("the pids cgroup controller is not mounted")
            limit = "max" if resources.pids_limit <= 0 else str(resources.pids_limit)
            files.write(pids / "pids.max", limit)

    def _memory(self, resources: Resources) -> None:
        memory = self._dir("memory")
        wanted = (resources.memory, resources.memory_swap, resources.memory_reservation)
        if memory is None:
            if any(value is not None for value in wanted):
                raise SystemFailure("the memory cgroup controller is not mounted")
            return
        limit_file = memory / "memory.limit_in_bytes"
        memsw_file = memory / "memory.memsw.limit_in_bytes"
        swap = resources.memory_swap
        if swap is not None and not memsw_file.exists():
            # Docker does the same: without swap accounting the limit can't be enforced.
            files.warn("swap accounting is off in this kernel: memory+swap limit ignored")
            swap = None
        if swap is not None and swap >= 0:
            effective = resources.memory
            if effective is None:
                effective = limit_or_none(files.read(limit_file))
            if effective is not None and effective >= 0 and swap < effective:
                raise InvalidArgument(
                    f"memory+swap limit {swap} must be at least the memory limit {effective}"
                )
        if resources.memory is not None and swap is not None:
            current_memsw = limit_or_none(files.read(memsw_file))
            if memory_first(resources.memory, -1 if current_memsw is None else current_memsw):
                files.write(limit_file, str(resources.memory))
                files.write(memsw_file, str(swap))
            else:
                files.write(memsw_file, str(swap))
                files.write(limit_file, str(resources.memory))
        elif resources.memory is not None:
            current_memsw = limit_or_none(files.read(memsw_file)) if memsw_file.exists() else None
            if current_memsw is not None and not memory_first(resources.memory, current_memsw):
                raise InvalidArgument(
                    "memory limit should be smaller than the memory+swap limit already set; "
                    "update the memory+swap limit at the same time"
                )
            files.write(limit_file, str(resources.memory))
        elif swap is not None:
            files.write(memsw_file, str(swap))
        if resources.memory_reservation is not None:
            files.write(memory / "memory.soft_limit_in_bytes", str(resources.memory_reservation))
        if resources.memory_swappiness is not None:
            files.write(memory / "memory.swappiness", str(resources.memory_swappiness))
        if resources.oom_kill_disable is not None:
            files.write(memory / "memory.oom_control", "1" if resources.oom_kill_disable else "0")

    def _cpu(self, resources: Resources) -> None:
        cpu = self._dir("cpu")
        wanted = (resources.cpu_shares, resources.cpu_quota, resources.cpu_period)
        if cpu is None:
            if any(value is not None for value in wanted):
                raise SystemFailure("the cpu cgroup controller is not mounted")
            return
        if resources.cpu_shares:
            files.write(cpu / "cpu.shares", str(resources.cpu_shares))
        period = resources.cpu_period
        if period is None and resources.cpu_quota is not None and resources.cpu_quota > 0:
            period = DEFAULT_CPU_PERIOD
        period_pending = False
        if period is not None:
            try:
                files.write(cpu / "cpu.cfs_period_us", str(period))
            except InvalidArgument:
                # A shorter period can make old_quota/new_period exceed the parent's
                # bandwidth; with a new quota coming, set the period again after it.
                if resources.cpu_quota is None:
                    raise
                period_pending = True
        if resources.cpu_quota is not None:
            quota = resources.cpu_quota if resources.cpu_quota > 0 else -1
            files.write(cpu / "cpu.cfs_quota_us", str(quota))
        if period_pending:
            files.write(cpu / "cpu.cfs_period_us", str(period))

    def procs_files(self) -> list[Path]:
        return [path / "cgroup.procs" for path in self.paths()]

    def add(self, pid: int) -> None:
        for path in self.procs_files():
            files.write(path, str(pid))

    def pids(self) -> list[int]:
        """Every process in the group, in any of its hierarchies."""
        found: set[int] = set()
        for path in self.procs_files():
            found.update(files.read_pids(path))
        return sorted(found)

    def _freezer_state(self) -> str:
        freezer = self._dir("freezer")
        return files.read(freezer / "freezer.state").strip() if freezer else ""

    def freeze(self) -> None:
        """FROZEN, and wait until every task is: FREEZING is not frozen yet."""
        freezer = self._require_freezer()
        deadline = time.monotonic() + FREEZE_PATIENCE
        retry_after = FREEZE_RETRY_AFTER
        while True:
            files.write(freezer / "freezer.state", "FROZEN")
            retry_at = time.monotonic() + retry_after
            retry_after *= 2  # a large group may just need longer: don't keep undoing it
            while time.monotonic() < retry_at:
                if self._freezer_state() == "FROZEN":
                    return
                time.sleep(0.002)
            if time.monotonic() > deadline:
                files.write(freezer / "freezer.state", "THAWED")
                raise SystemFailure(f"the processes in {freezer} did not freeze")
            files.write(freezer / "freezer.state", "THAWED")

    def thaw(self) -> None:
        freezer = self._require_freezer()
        files.write(freezer / "freezer.state", "THAWED")
        deadline = time.monotonic() + FREEZE_PATIENCE
        while self._freezer_state() not in ("THAWED", ""):
            if time.monotonic() > deadline:
                raise SystemFailure(f"the processes in {freezer} did not thaw")
            time.sleep(0.002)

    def _require_freezer(self) -> Path:
        freezer = self._dir("freezer")
        if freezer is None:
            raise SystemFailure("the freezer cgroup controller is not mounted")
        return freezer

    def stats(self) -> Stats:
        memory, cpuacct, pids = self._dir("memory"), self._dir("cpuacct"), self._dir("pids")
        return Stats(
            memory_usage=files.read_int(memory / "memory.usage_in_bytes") if memory else 0,
            memory_limit=(
                limit_or_none(files.read(memory / "memory.limit_in_bytes")) if memory else None
            ),
            cpu_usage_ns=files.read_int(cpuacct / "cpuacct.usage") if cpuacct else 0,
            pids_current=files.read_int(pids / "pids.current") if pids else len(self.pids()),
            oom_kills=self._oom_kills(),
        )

    def _oom_kills(self) -> int:
        """memory.oom_control's oom_kill counter (kernel >= 4.13; 0 before)."""
        memory = self._dir("memory")
        if memory is None:
            return 0
        return keyed(files.read(memory / "memory.oom_control")).get("oom_kill", 0)

    def oom_killed(self) -> bool:
        return self._oom_kills() > 0

    def kill_all(self, sig: int) -> None:
        """Signal every process, frozen meanwhile so none can fork a child past the list.

        A group that was paused stays paused unless the signal is SIGKILL: a frozen task
        only dies once thawed.
        """
        if not self.pids():
            return  # nothing to signal, or the group is gone: freezing it would fail
        if self._dir("freezer") is None:
            _signal(self.pids(), sig)
            return
        was_frozen = self._freezer_state() == "FROZEN"
        if not was_frozen:
            self.freeze()
        try:
            _signal(self.pids(), sig)
        finally:
            if not was_frozen or sig == signal.SIGKILL:
                self.thaw()

    def destroy(self) -> None:
        for path in self.paths():
            files.remove_tree(path)


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
