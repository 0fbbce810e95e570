"""berth.cgroups against the real hierarchies of this host (v1 here; v2-only tests skip).

Every group lives under the session's parent (BERTH_CGROUP_PARENT) and is killed and
destroyed by the `group` fixture; processes join their group before exec through a
preexec_fn that writes their pid into `procs_files()`, as the runtime's init does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from berth.cgroups import CgroupManager, Resources, detect, open_cgroup
from berth.errors import InvalidArgument
from tests.conftest import CGROUP_PARENT

LAYOUT = detect()
if os.geteuid() != 0 or LAYOUT.version == 0:
    pytest.skip("needs root and a usable cgroup hierarchy", allow_module_level=True)

V1_ONLY = pytest.mark.skipif(LAYOUT.version != 1, reason="checks cgroup v1 files")
V2_ONLY = pytest.mark.skipif(
    LAYOUT.version != 2,
    reason=f"this host uses cgroup v1 for its controllers (layout: {LAYOUT.mode}); "
    "its cgroup2 mount holds no memory/pids/cpu controllers",
)
MiB = 1 << 20
PYTHON = sys.executable

Spawn = Callable[..., subprocess.Popen[bytes]]


def _files(manager: CgroupManager) -> dict[str, Path]:
    """Where each controller's files of `manager` are (one directory on v2)."""
    paths: dict[str, Path] = {}
    for procs in manager.procs_files():
        directory = procs.parent
        for controller in ("memory", "pids", "cpu", "cpuacct", "cpuset", "freezer"):
            if LAYOUT.version == 2:
                paths[controller] = directory
            else:
                hierarchy = LAYOUT.hierarchy(controller)
                if hierarchy is not None and directory.is_relative_to(hierarchy.mount_point):
                    paths[controller] = directory
    return paths


def _read(path: Path) -> str:
    return path.read_text().strip()


@pytest.fixture
def group() -> Iterator[CgroupManager]:
    manager = open_cgroup(f"t-{uuid.uuid4().hex[:12]}", parent=CGROUP_PARENT)
    try:
        yield manager
    finally:
        manager.kill_all(signal.SIGKILL)
        manager.destroy()


@pytest.fixture
def spawn(group: CgroupManager) -> Iterator[Spawn]:
    """spawn(argv...) starts a process already inside `group` (joined before exec)."""
    started: list[subprocess.Popen[bytes]] = []
    procs = [str(path) for path in group.procs_files()]

    def join() -> None:
        pid = str(os.getpid()).encode()
        for path in procs:
            fd = os.open(path, os.O_WRONLY)
            os.write(fd, pid)
            os.close(fd)

    def start(*argv: str, **kwargs: object) -> subprocess.Popen[bytes]:
        # Only os calls run between fork and exec, which is safe even with threads about.
        process = subprocess.Popen(argv, preexec_fn=join, **kwargs)  # type: ignore[call-overload]  # noqa: PLW1509
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _cpu_seconds(manager: CgroupManager, window: float) -> float:
    before = manager.stats().cpu_usage_ns
    time.sleep(window)
    return (manager.stats().cpu_usage_ns - before) / 1e9


def test_layout_of_this_host() -> None:
    assert LAYOUT.version in (1, 2)
    if LAYOUT.version == 1:
        for controller in ("memory", "pids", "cpu", "cpuacct", "cpuset", "freezer"):
            hierarchy = LAYOUT.hierarchy(controller)
            assert hierarchy is not None, controller
            assert (hierarchy.mount_point / "cgroup.procs").exists()
    else:
        assert LAYOUT.unified is not None
        assert {"memory", "pids", "cpu"} <= LAYOUT.controllers


def test_create_puts_the_group_under_the_parent_in_every_hierarchy(group: CgroupManager) -> None:
    group.create(Resources())
    group.create(Resources())  # idempotent
    assert group.procs_files()
    for procs in group.procs_files():
        assert procs.exists()
        assert procs.parent.parent.name == CGROUP_PARENT
    assert set(_files(group)) == {"memory", "pids", "cpu", "cpuacct", "cpuset", "freezer"}
    if LAYOUT.version == 1 and LAYOUT.hierarchy("cpu") is not LAYOUT.hierarchy("cpuacct"):
        assert _files(group)["cpu"] != _files(group)["cpuacct"]


@V1_ONLY
def test_v1_limits_are_written(group: CgroupManager) -> None:
    group.create(
        Resources(
            memory=64 * MiB,
            memory_swap=96 * MiB,
            memory_reservation=32 * MiB,
            cpu_quota=150_000,
            cpu_shares=512,
            cpuset_cpus="0",
            pids_limit=42,
        )
    )
    files = _files(group)
    assert _read(files["memory"] / "memory.limit_in_bytes") == str(64 * MiB)
    memsw = files["memory"] / "memory.memsw.limit_in_bytes"
    if memsw.exists():
        assert _read(memsw) == str(96 * MiB)
    assert _read(files["memory"] / "memory.soft_limit_in_bytes") == str(32 * MiB)
    assert _read(files["cpu"] / "cpu.cfs_quota_us") == "150000"
    assert _read(files["cpu"] / "cpu.cfs_period_us") == "100000"
    assert _read(files["cpu"] / "cpu.shares") == "512"
    assert _read(files["cpuset"] / "cpuset.cpus") == "0"
    assert _read(files["pids"] / "pids.max") == "42"


@V1_ONLY
def test_v1_cpuset_is_inherited_when_not_given(group: CgroupManager) -> None:
    group.create(Resources())
    cpuset = _files(group)["cpuset"]
    root = LAYOUT.hierarchy("cpuset")
    assert root is not None
    assert _read(cpuset / "cpuset.cpus") == _read(root.mount_point / "cpuset.cpus")
    assert _read(cpuset / "cpuset.mems") == _read(root.mount_point / "cpuset.mems")


@V2_ONLY
def test_v2_limits_are_written(group: CgroupManager) -> None:
    group.create(
        Resources(
            memory=64 * MiB,
            memory_swap=96 * MiB,
            memory_reservation=32 * MiB,
            cpu_quota=150_000,
            cpu_shares=1024,
            pids_limit=42,
        )
    )
    directory = group.procs_files()[0].parent
    assert _read(directory / "memory.max") == str(64 * MiB)
    if (directory / "memory.swap.max").exists():
        assert _read(directory / "memory.swap.max") == str(32 * MiB)
    assert _read(directory / "memory.low") == str(32 * MiB)
    assert _read(directory / "cpu.max") == "150000 100000"
    assert _read(directory / "cpu.weight") == "100"
    assert _read(directory / "pids.max") == "42"
    parent = directory.parent
    assert {"cpu", "memory", "pids"} <= set(_read(parent / "cgroup.subtree_control").split())


@V2_ONLY
def test_v2_freeze_reports_in_cgroup_events(group: CgroupManager, spawn: Spawn) -> None:
    group.create(Resources())
    spawn("sleep", "30")
    group.freeze()
    events = (group.procs_files()[0].parent / "cgroup.events").read_text()
    assert "frozen 1" in events
    group.thaw()


def test_add_and_pids(group: CgroupManager) -> None:
    group.create(Resources())
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        group.add(sleeper.pid)
        assert group.pids() == [sleeper.pid]
        for procs in group.procs_files():
            assert str(sleeper.pid) in procs.read_text().split()
        assert group.stats().pids_current == 1
    finally:
        sleeper.kill()
        sleeper.wait()
    deadline = time.monotonic() + 5
    while group.pids() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert group.pids() == []


def test_spawned_children_are_born_inside(group: CgroupManager, spawn: Spawn) -> None:
    group.create(Resources())
    shell = spawn("sh", "-c", "sleep 30 & sleep 30 & wait")
    deadline = time.monotonic() + 5
    while len(group.pids()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert shell.pid in group.pids()
    assert len(group.pids()) == 3


def test_memory_limit_oom_kills_a_hog(group: CgroupManager, spawn: Spawn) -> None:
    # memory+swap = memory, so a host with swap cannot page the hog out instead.
    group.create(Resources(memory=48 * MiB, memory_swap=48 * MiB))
    assert not group.oom_killed()
    hog = spawn(PYTHON, "-c", "b = []\nwhile True: b.append(bytearray(1 << 20))")
    assert hog.wait(timeout=60) == -signal.SIGKILL
    assert group.oom_killed()
    assert group.stats().oom_kills >= 1


def test_pids_limit_makes_fork_fail(group: CgroupManager, spawn: Spawn) -> None:
    group.create(Resources(pids_limit=4))
    forker = spawn(
        PYTHON,
        "-c",
        "import os, sys, time\n"
        "n = 0\n"
        "for _ in range(10):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except BlockingIOError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        time.sleep(30)\n"
        "        os._exit(0)\n"
        "    n += 1\n"
        "print(n, flush=True)\n"
        "time.sleep(30)\n",
        stdout=subprocess.PIPE,
    )
    assert forker.stdout is not None
    assert forker.stdout.readline().strip() == b"3"  # itself + 3 children = 4
    assert group.stats().pids_current == 4


def test_cpu_quota_caps_a_busy_loop(group: CgroupManager, spawn: Spawn) -> None:
    group.create(Resources(cpu_quota=25_000, cpu_period=100_000))  # --cpus=0.25
    spawn(PYTHON, "-c", "while True: pass")
    time.sleep(0.3)  # let it start and hit the quota
    used = _cpu_seconds(group, 1.0)
    assert 0.02 < used <= 0.6


def test_freeze_stops_progress_and_thaw_resumes(group: CgroupManager, spawn: Spawn) -> None:
    group.create(Resources())
    busy = spawn(PYTHON, "-c", "while True: pass")
    time.sleep(0.2)
    group.freeze()
    if LAYOUT.version == 1:
        assert _read(_files(group)["freezer"] / "freezer.state") == "FROZEN"
    time.sleep(0.05)
    assert _cpu_seconds(group, 0.3) < 0.01
    state = Path(f"/proc/{busy.pid}/stat").read_text().rpartition(")")[2].split()[0]
    assert state in ("D", "S", "T")  # frozen tasks sleep; a running one would show R
    group.freeze()  # freezing a frozen group is fine
    group.thaw()
    if LAYOUT.version == 1:
        assert _read(_files(group)["freezer"] / "freezer.state") == "THAWED"
    assert _cpu_seconds(group, 0.3) > 0.05


def test_stats_are_sane(group: CgroupManager, spawn: Spawn) -> None:
    group.create(Resources(memory=256 * MiB))
    spawn(PYTHON, "-c", "b = bytearray(20 << 20)\nwhile True: pass")
    time.sleep(0.5)
    stats = group.stats()
    assert stats.memory_limit == 256 * MiB
    assert 10 * MiB < stats.memory_usage < 256 * MiB
    assert stats.cpu_usage_ns > 0
    assert stats.pids_current == 1
    assert stats.oom_kills == 0


def test_stats_of_an_unlimited_group(group: CgroupManager) -> None:
    group.create(Resources())
    stats = group.stats()
    assert stats.memory_limit is None
    assert stats.pids_current == 0


def test_update_changes_limits(group: CgroupManager) -> None:
    group.create(Resources(memory=64 * MiB, memory_swap=64 * MiB, pids_limit=10))
    # raise past the memory+swap in force: memsw must be written first on v1
    group.update(Resources(memory=128 * MiB, memory_swap=256 * MiB))
    assert group.stats().memory_limit == 128 * MiB
    # lower both: memory must be written first on v1
    group.update(Resources(memory=32 * MiB, memory_swap=32 * MiB))
    assert group.stats().memory_limit == 32 * MiB
    group.update(Resources(pids_limit=0, cpu_quota=50_000))
    files = _files(group)
    if LAYOUT.version == 1:
        assert _read(files["pids"] / "pids.max") == "max"
        assert _read(files["cpu"] / "cpu.cfs_quota_us") == "50000"
        group.update(Resources(cpu_quota=-1))
        assert _read(files["cpu"] / "cpu.cfs_quota_us") == "-1"
    else:
        assert _read(files["pids"] / "pids.max") == "max"
        assert _read(files["cpu"] / "cpu.max") == "50000 100000"


@V1_ONLY
def test_memory_above_the_memsw_in_force_is_refused(group: CgroupManager) -> None:
    group.create(Resources(memory=64 * MiB, memory_swap=64 * MiB))
    if not (_files(group)["memory"] / "memory.memsw.limit_in_bytes").exists():
        pytest.skip("swap accounting is off in this kernel")
    with pytest.raises(InvalidArgument, match="memory\\+swap"):
        group.update(Resources(memory=128 * MiB))
    assert group.stats().memory_limit == 64 * MiB


def test_swap_below_memory_is_refused(group: CgroupManager) -> None:
    group.create(Resources(memory=64 * MiB))
    with pytest.raises(InvalidArgument):
        group.update(Resources(memory_swap=32 * MiB))


def test_a_value_the_kernel_rejects_names_the_file(group: CgroupManager) -> None:
    group.create(Resources())
    with pytest.raises(InvalidArgument, match=r"cpuset\.cpus"):
        group.update(Resources(cpuset_cpus="4096"))


def test_failed_create_leaves_no_group(group: CgroupManager) -> None:
    with pytest.raises(InvalidArgument):
        group.create(Resources(cpuset_cpus="4096"))
    for procs in group.procs_files():
        assert not procs.parent.exists()


def test_kill_all_signals_every_process(group: CgroupManager, spawn: Spawn) -> None:
    group.create(Resources())
    shell = spawn("sh", "-c", "sleep 30 & sleep 30 & wait")
    deadline = time.monotonic() + 5
    while len(group.pids()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    group.kill_all(signal.SIGTERM)
    assert shell.wait(timeout=5) == -signal.SIGTERM
    deadline = time.monotonic() + 5
    while group.pids() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert group.pids() == []


def test_kill_all_sigkill_reaches_a_frozen_group(group: CgroupManager, spawn: Spawn) -> None:
    group.create(Resources())
    sleeper = spawn("sleep", "30")
    group.freeze()
    group.kill_all(signal.SIGKILL)
    assert sleeper.wait(timeout=5) == -signal.SIGKILL


def test_destroy_removes_everything_and_is_idempotent(group: CgroupManager) -> None:
    group.create(Resources(memory=64 * MiB))
    directories = [procs.parent for procs in group.procs_files()]
    assert all(directory.is_dir() for directory in directories)
    group.destroy()
    assert not any(directory.exists() for directory in directories)
    group.destroy()


def _destroy_into(manager: CgroupManager, errors: list[BaseException]) -> None:
    try:
        manager.destroy()
    except BaseException as error:
        errors.append(error)


def test_two_destroys_at_once_both_succeed() -> None:
    """An exited container's group is removed by its monitor and by the command that saw
    the exit, at the same moment: neither may fail because the other removed it first."""
    errors: list[BaseException] = []
    for _ in range(30):
        name = f"t-{uuid.uuid4().hex[:12]}"
        first, second = (open_cgroup(name, parent=CGROUP_PARENT) for _ in range(2))
        first.create(Resources())
        threads = [
            threading.Thread(target=_destroy_into, args=(manager, errors))
            for manager in (first, second)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert not any(procs.parent.exists() for procs in first.procs_files())


def test_destroy_waits_for_exiting_processes(group: CgroupManager, spawn: Spawn) -> None:
    group.create(Resources())
    sleeper = spawn("sleep", "30")
    group.kill_all(signal.SIGKILL)
    group.destroy()  # retries while the killed process leaves the group
    assert all(not procs.exists() for procs in group.procs_files())
    sleeper.wait(timeout=5)


def test_destroy_of_a_group_never_created() -> None:
    open_cgroup(f"t-{uuid.uuid4().hex[:12]}", parent=CGROUP_PARENT).destroy()


def test_memory_limit_below_usage_is_refused(group: CgroupManager, spawn: Spawn) -> None:
    group.create(Resources(memory=256 * MiB, memory_swap=256 * MiB))
    holder = spawn(
        PYTHON,
        "-c",
        "import sys, time\nb = bytearray(64 << 20)\nprint(1, flush=True)\ntime.sleep(30)",
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"1"
    if LAYOUT.version == 2:
        pytest.skip("v2 reclaims or OOM-kills instead of refusing a memory.max below usage")
    with pytest.raises(InvalidArgument, match=r"memory\.limit_in_bytes"):
        group.update(Resources(memory=16 * MiB))
    assert holder.poll() is None


# The hybrid layout's cgroup2 mount holds no controller, but the core of v2 works there:
# cgroup.procs, cgroup.freeze + cgroup.events, cgroup.kill and cpu.stat's usage_usec. These
# tests drive V2 on it, so the v2 lifecycle is exercised on v1 hosts too.
UNIFIED = LAYOUT.unified if LAYOUT.version == 1 else None
ON_HYBRID = pytest.mark.skipif(
    UNIFIED is None or not (UNIFIED.mount_point / "cgroup.procs").exists(),
    reason="needs the hybrid layout's cgroup2 mount (v2 hosts run the tests above on v2)",
)


@pytest.fixture
def v2_group() -> Iterator[CgroupManager]:
    from berth.cgroups.v2 import V2

    assert UNIFIED is not None
    manager = V2(UNIFIED.mount_point, Path(CGROUP_PARENT, f"t-{uuid.uuid4().hex[:12]}"))
    try:
        yield manager
    finally:
        manager.kill_all(signal.SIGKILL)
        manager.destroy()


def _spawn_into(manager: CgroupManager, *argv: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(argv)
    manager.add(process.pid)
    return process


@ON_HYBRID
def test_v2_lifecycle_on_the_unified_mount(v2_group: CgroupManager) -> None:
    v2_group.create(Resources())
    v2_group.create(Resources())
    busy = _spawn_into(v2_group, PYTHON, "-c", "while True: pass")
    try:
        assert v2_group.pids() == [busy.pid]
        time.sleep(0.2)
        assert v2_group.stats().cpu_usage_ns > 0
        v2_group.freeze()
        events = (v2_group.procs_files()[0].parent / "cgroup.events").read_text()
        assert "frozen 1" in events
        assert _cpu_seconds(v2_group, 0.3) < 0.01
        v2_group.thaw()
        assert _cpu_seconds(v2_group, 0.3) > 0.05
        v2_group.kill_all(signal.SIGTERM)
        assert busy.wait(timeout=5) == -signal.SIGTERM
    finally:
        busy.kill()
        busy.wait()


@ON_HYBRID
def test_v2_kill_all_sigkill_uses_cgroup_kill(v2_group: CgroupManager) -> None:
    v2_group.create(Resources())
    sleeper = _spawn_into(v2_group, "sleep", "30")
    v2_group.freeze()
    v2_group.kill_all(signal.SIGKILL)
    assert sleeper.wait(timeout=5) == -signal.SIGKILL
    v2_group.destroy()
    assert not v2_group.procs_files()[0].parent.exists()
    v2_group.destroy()


@ON_HYBRID
def test_v2_refuses_limits_whose_controller_is_not_delegated(v2_group: CgroupManager) -> None:
    from berth.errors import SystemFailure

    with pytest.raises(SystemFailure, match="memory controller"):
        v2_group.create(Resources(memory=64 * MiB))
    assert not v2_group.procs_files()[0].parent.exists()


def test_kill_all_of_a_group_never_created_is_a_no_op() -> None:
    open_cgroup(f"t-{uuid.uuid4().hex[:12]}", parent=CGROUP_PARENT).kill_all(signal.SIGKILL)


def test_update_of_a_group_never_created_is_not_found() -> None:
    from berth.errors import NotFound

    with pytest.raises(NotFound, match="does not exist"):
        open_cgroup(f"t-{uuid.uuid4().hex[:12]}", parent=CGROUP_PARENT).update(
            Resources(pids_limit=5)
        )
