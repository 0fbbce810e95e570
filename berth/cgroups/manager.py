"""The cgroup manager: create a group with limits, move processes in, freeze, read stats,
notice OOM kills, and remove it. `V1` writes a group per controller hierarchy, `V2` one group
under the unified hierarchy; both answer the same `CgroupManager` protocol."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from berth.cgroups.layout import Layout, detect
from berth.errors import InvalidArgument, NotFound, SystemFailure

V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct", "cpuset", "freezer")
FREEZE_WAIT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Resources:
    """Limits; None leaves a limit unset."""

    memory: int | None = None
    memory_swap: int | None = None  # memory + swap; -1 unlimited
    memory_reservation: int | None = None
    cpu_quota: int | None = None  # microseconds per period
    cpu_period: int | None = None
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: int | None = None


@dataclass(frozen=True, slots=True)
class Stats:
    memory_usage: int
    memory_limit: int | None
    cpu_usage_ns: int
    pids_current: int
    oom_kills: int


class CgroupManager(Protocol):
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


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except FileNotFoundError:
        raise NotFound(f"cgroup file {path} does not exist") from None
    except OSError as error:
        kind = InvalidArgument if error.errno in (22, 16) else SystemFailure
        raise kind(f"cannot write {value!r} to {path}: {error.strerror}") from None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _keyed(text: str) -> dict[str, int]:
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values


def _remove(directory: Path) -> None:
    """rmdir, retrying while the last processes finish exiting."""
    deadline = time.monotonic() + 5
    while directory.exists():
        try:
            directory.rmdir()
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno != 16 or time.monotonic() > deadline:  # EBUSY
                raise SystemFailure(f"cannot remove cgroup {directory}: {error.strerror}") from None
            time.sleep(0.01)


class V1:
    version = 1

    def __init__(self, layout: Layout, relative: Path) -> None:
        self.dirs = {
            name: mount / relative for name, mount in layout.v1.items() if name in V1_CONTROLLERS
        }

    def _dir(self, controller: str) -> Path | None:
        return self.dirs.get(controller)

    def create(self, resources: Resources) -> None:
        for controller, directory in self.dirs.items():
            if controller == "cpuset":
                self._prepare_cpuset(directory)
            directory.mkdir(parents=True, exist_ok=True)
        self.update(resources)

    def _prepare_cpuset(self, directory: Path) -> None:
        """A new v1 cpuset group starts empty: copy cpus and mems down from the parents."""
        chain = []
        current = directory
        while not (current / "cpuset.cpus").exists() or current == directory:
            chain.append(current)
            current = current.parent
        for child in reversed(chain):
            child.mkdir(exist_ok=True)
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not _read(child / name).strip():
                    _write(child / name, _read(child.parent / name).strip())

    def update(self, resources: Resources) -> None:
        memory = self._dir("memory")
        if memory is not None:
            limit = resources.memory
            swap = resources.memory_swap
            memsw = memory / "memory.memsw.limit_in_bytes"
            if limit is not None:
                # The kernel wants memsw >= memory at every moment: order the writes.
                if swap is not None and memsw.exists() and swap != -1 and swap > limit:
                    _write(memsw, str(swap))
                    _write(memory / "memory.limit_in_bytes", str(limit))
                else:
                    _write(memory / "memory.limit_in_bytes", str(limit))
                    if memsw.exists():
                        _write(memsw, str(-1 if swap in (None, -1) else swap))
            if resources.memory_reservation is not None:
                _write(memory / "memory.soft_limit_in_bytes", str(resources.memory_reservation))
        cpu = self._dir("cpu")
        if cpu is not None:
            if resources.cpu_shares is not None:
                _write(cpu / "cpu.shares", str(resources.cpu_shares))
            if resources.cpu_quota is not None:
                _write(cpu / "cpu.cfs_period_us", str(resources.cpu_period or 100_000))
                _write(cpu / "cpu.cfs_quota_us", str(resources.cpu_quota))
        cpuset = self._dir("cpuset")
        if cpuset is not None:
            if resources.cpuset_cpus:
                _write(cpuset / "cpuset.cpus", resources.cpuset_cpus)
            if resources.cpuset_mems:
                _write(cpuset / "cpuset.mems", resources.cpuset_mems)
        pids = self._dir("pids")
        if pids is not None and resources.pids_limit is not None:
            limit_text = "max" if resources.pids_limit <= 0 else str(resources.pids_limit)
            _write(pids / "pids.max", limit_text)

    def procs_files(self) -> list[Path]:
        return [directory / "cgroup.procs" for directory in self.dirs.values()]

    def add(self, pid: int) -> None:
        for path in self.procs_files():
            _write(path, str(pid))

    def pids(self) -> list[int]:
        directory = self._dir("pids") or self._dir("memory") or next(iter(self.dirs.values()))
        return [int(p) for p in _read(directory / "cgroup.procs").split()]

    def _freezer(self, state: str) -> None:
        freezer = self._dir("freezer")
        if freezer is None:
            raise SystemFailure("the freezer cgroup controller is not available")
        _write(freezer / "freezer.state", state)
        deadline = time.monotonic() + FREEZE_WAIT_SECONDS
        while _read(freezer / "freezer.state").strip() != state:
            if time.monotonic() > deadline:
                raise SystemFailure(f"the container's processes did not reach {state}")
            time.sleep(0.01)

    def freeze(self) -> None:
        self._freezer("FROZEN")

    def thaw(self) -> None:
        self._freezer("THAWED")

    def stats(self) -> Stats:
        memory = self._dir("memory")
        limit = None
        usage = 0
        if memory is not None:
            usage = int(_read(memory / "memory.usage_in_bytes") or 0)
            raw_limit = int(_read(memory / "memory.limit_in_bytes") or 0)
            limit = raw_limit if raw_limit < (1 << 62) else None
        cpuacct = self._dir("cpuacct")
        cpu_usage = int(_read(cpuacct / "cpuacct.usage") or 0) if cpuacct else 0
        pids = self._dir("pids")
        current = int(_read(pids / "pids.current") or 0) if pids else len(self.pids())
        return Stats(usage, limit, cpu_usage, current, self._oom_kills())

    def _oom_kills(self) -> int:
        memory = self._dir("memory")
        if memory is None:
            return 0
        return _keyed(_read(memory / "memory.oom_control")).get("oom_kill", 0)

    def oom_killed(self) -> bool:
        return self._oom_kills() > 0

    def kill_all(self, sig: int) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def destroy(self) -> None:
        for directory in self.dirs.values():
            _remove(directory)


class V2:
    version = 2

    def __init__(self, layout: Layout, relative: Path) -> None:
        assert layout.unified is not None
        self.mount = layout.unified
        self.dir = layout.unified / relative

    def create(self, resources: Resources) -> None:
        # Enable the controllers on the way down: a group gets only what its parent delegates.
        current = self.mount
        for part in self.dir.relative_to(self.mount).parts:
            wanted = set(_read(current / "cgroup.controllers").split()) & {
                "cpu",
                "memory",
                "pids",
                "cpuset",
            }
            enabled = set(_read(current / "cgroup.subtree_control").split())
            for controller in sorted(wanted - enabled):
                with contextlib.suppress(InvalidArgument, SystemFailure):
                    _write(current / "cgroup.subtree_control", f"+{controller}")
            current = current / part
            current.mkdir(exist_ok=True)
        self.update(resources)

    def update(self, resources: Resources) -> None:
        if resources.memory is not None:
            _write(self.dir / "memory.max", str(resources.memory))
            if resources.memory_swap is not None and (self.dir / "memory.swap.max").exists():
                swap = (
                    "max"
                    if resources.memory_swap == -1
                    else str(max(resources.memory_swap - resources.memory, 0))
                )
                _write(self.dir / "memory.swap.max", swap)
        if resources.memory_reservation is not None:
            _write(self.dir / "memory.low", str(resources.memory_reservation))
        if resources.cpu_quota is not None:
            _write(self.dir / "cpu.max", f"{resources.cpu_quota} {resources.cpu_period or 100_000}")
        if resources.cpu_shares is not None:
            _write(self.dir / "cpu.weight", str(shares_to_weight(resources.cpu_shares)))
        if resources.cpuset_cpus:
            _write(self.dir / "cpuset.cpus", resources.cpuset_cpus)
        if resources.cpuset_mems:
            _write(self.dir / "cpuset.mems", resources.cpuset_mems)
        if resources.pids_limit is not None:
            limit = "max" if resources.pids_limit <= 0 else str(resources.pids_limit)
            _write(self.dir / "pids.max", limit)

    def procs_files(self) -> list[Path]:
        return [self.dir / "cgroup.procs"]

    def add(self, pid: int) -> None:
        _write(self.dir / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        return [int(p) for p in _read(self.dir / "cgroup.procs").split()]

    def _freeze(self, value: str, frozen: bool) -> None:
        _write(self.dir / "cgroup.freeze", value)
        deadline = time.monotonic() + FREEZE_WAIT_SECONDS
        while _keyed(_read(self.dir / "cgroup.events")).get("frozen") != int(frozen):
            if time.monotonic() > deadline:
                raise SystemFailure("the container's processes did not freeze")
            time.sleep(0.01)

    def freeze(self) -> None:
        self._freeze("1", True)

    def thaw(self) -> None:
        self._freeze("0", False)

    def stats(self) -> Stats:
        raw = _read(self.dir / "memory.max").strip()
        return Stats(
            memory_usage=int(_read(self.dir / "memory.current") or 0),
            memory_limit=int(raw) if raw.isdigit() else None,
            cpu_usage_ns=_keyed(_read(self.dir / "cpu.stat")).get("usage_usec", 0) * 1000,
            pids_current=int(_read(self.dir / "pids.current") or 0),
            oom_kills=_keyed(_read(self.dir / "memory.events")).get("oom_kill", 0),
        )

    def oom_killed(self) -> bool:
        return _keyed(_read(self.dir / "memory.events")).get("oom_kill", 0) > 0

    def kill_all(self, sig: int) -> None:
        if sig == signal.SIGKILL and (self.dir / "cgroup.kill").exists():
            _write(self.dir / "cgroup.kill", "1")
            return
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def destroy(self) -> None:
        _remove(self.dir)


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000), as runc converts."""
    if shares <= 0:
        return 100
    return 1 + ((shares - 2) * 9999) // 262142


def open_cgroup(name: str, *, parent: str = "berth") -> V1 | V2:
    layout = detect()
    relative = Path(parent) / name
    if layout.version == 2:
        return V2(layout, relative)
    if layout.version == 1:
        return V1(layout, relative)
    raise SystemFailure("no cgroup hierarchy is mounted on this host")
