"""Layout detection from sample /proc/self/mountinfo + /proc/self/cgroup texts, and the pure
renderings of limits into cgroup file values."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.cgroups import open_cgroup
from berth.cgroups.layout import parse, parse_proc_cgroup
from berth.cgroups.manager import group_path
from berth.cgroups.resources import (
    Resources,
    cpu_max,
    keyed,
    limit_or_none,
    memory_first,
    shares_to_weight,
    swap_max,
)
from berth.cgroups.v2 import V2
from berth.errors import InvalidArgument, SystemFailure

PURE_V2_MOUNTS = """\
22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
25 23 0:24 / /sys/fs/cgroup rw,nosuid,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
28 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
"""
PURE_V2_CGROUP = "0::/user.slice/user-1000.slice/session-3.scope\n"

V1_JOINED_MOUNTS = """\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
35 31 0:32 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
36 31 0:33 / /sys/fs/cgroup/freezer rw,nosuid - cgroup cgroup rw,freezer
37 31 0:34 / /sys/fs/cgroup/cpuset rw,nosuid - cgroup cgroup rw,cpuset,clone_children
38 31 0:35 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid - cgroup cgroup rw,net_cls,net_prio
"""
V1_JOINED_CGROUP = """\
8:net_cls,net_prio:/
7:cpuset:/
6:freezer:/
5:pids:/user.slice/user-0.slice
4:memory:/user.slice/user-0.slice
3:cpu,cpuacct:/user.slice
1:name=systemd:/user.slice/user-0.slice/session-1.scope
"""

# The development machines: separate cpu and cpuacct, the caller in a non-root memory
# cgroup, and a cgroup2 mount holding only hugetlb.
HYBRID_MOUNTS = """\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_CGROUP = """\
9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/9bffdf0474156e7c927dbf7643fb09a4
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
"""


def test_pure_v2() -> None:
    layout = parse(PURE_V2_MOUNTS, PURE_V2_CGROUP, "cpuset cpu io memory hugetlb pids rdma\n")
    assert (layout.version, layout.mode) == (2, "v2")
    assert layout.unified is not None
    assert layout.unified.mount_point == Path("/sys/fs/cgroup")
    assert layout.v1 == ()
    assert {"cpu", "memory", "pids", "cpuset"} <= layout.controllers
    assert layout.unified.current() == Path(
        "/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope"
    )


def test_pure_v2_without_reading_controllers_is_still_v2() -> None:
    """The two /proc texts alone decide: no controller is bound to a v1 hierarchy."""
    assert parse(PURE_V2_MOUNTS, PURE_V2_CGROUP).version == 2


def test_v1_with_cpu_and_cpuacct_joined() -> None:
    layout = parse(V1_JOINED_MOUNTS, V1_JOINED_CGROUP)
    assert (layout.version, layout.mode) == (1, "v1")
    cpu, cpuacct = layout.hierarchy("cpu"), layout.hierarchy("cpuacct")
    assert cpu is not None and cpu is cpuacct
    assert cpu.mount_point == Path("/sys/fs/cgroup/cpu,cpuacct")
    assert cpu.current() == Path("/sys/fs/cgroup/cpu,cpuacct/user.slice")
    memory = layout.hierarchy("memory")
    assert memory is not None
    assert memory.current() == Path("/sys/fs/cgroup/memory/user.slice/user-0.slice")
    assert layout.hierarchy("hugetlb") is None
    assert {"net_cls", "net_prio", "cpuset", "freezer"} <= layout.controllers
    # name=systemd carries no controller: not a hierarchy berth manages
    assert all(h.mount_point.name != "systemd" for h in layout.v1)


def test_hybrid_with_a_nearly_empty_cgroup2_uses_v1() -> None:
    layout = parse(HYBRID_MOUNTS, HYBRID_CGROUP, "hugetlb\n")
    assert (layout.version, layout.mode) == (1, "hybrid")
    assert layout.unified is not None
    assert layout.unified.controllers == frozenset({"hugetlb"})
    cpu, cpuacct = layout.hierarchy("cpu"), layout.hierarchy("cpuacct")
    assert cpu is not None and cpuacct is not None and cpu is not cpuacct
    memory = layout.hierarchy("memory")
    assert memory is not None
    assert memory.cgroup == "/process_api/9bffdf0474156e7c927dbf7643fb09a4"
    assert "hugetlb" not in layout.controllers


def test_hybrid_decided_from_proc_cgroup_alone() -> None:
    assert parse(HYBRID_MOUNTS, HYBRID_CGROUP).version == 1


def test_unified_mount_holding_the_controllers_wins_over_leftover_v1_mounts() -> None:
    """systemd hosts may keep a named v1 hierarchy next to a full cgroup2."""
    mounts = PURE_V2_MOUNTS + (
        "40 25 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
    )
    layout = parse(mounts, "1:name=systemd:/\n0::/init.scope\n", "cpu memory pids\n")
    assert (layout.version, layout.mode) == (2, "v2")


def test_subtree_bind_mount_maps_the_callers_cgroup() -> None:
    """In a container without a cgroup namespace the mount shows a subtree (root field)."""
    mounts = "50 40 0:30 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    layout = parse(mounts, "4:memory:/docker/abc/sub\n")
    memory = layout.hierarchy("memory")
    assert memory is not None
    assert memory.current() == Path("/sys/fs/cgroup/memory/sub")
    outside = parse(mounts, "4:memory:/elsewhere\n").hierarchy("memory")
    assert outside is not None and outside.current() is None


def test_duplicate_mounts_of_one_hierarchy_keep_the_first() -> None:
    mounts = V1_JOINED_MOUNTS + "60 1 0:34 / /mnt/mem rw - cgroup cgroup rw,memory\n"
    memory = parse(mounts, V1_JOINED_CGROUP).hierarchy("memory")
    assert memory is not None and memory.mount_point == Path("/sys/fs/cgroup/memory")


def test_no_cgroups_at_all() -> None:
    layout = parse("27 1 254:0 / / rw - ext4 /dev/vda rw\n", "")
    assert (layout.version, layout.mode) == (0, "none")
    with pytest.raises(SystemFailure):
        open_cgroup("x", parent="berth-unit", layout=layout)


def test_escaped_mount_point() -> None:
    mounts = "32 31 0:29 / /sys/fs/cgroup/my\\040mem rw - cgroup cgroup rw,memory\n"
    memory = parse(mounts, "").hierarchy("memory")
    assert memory is not None and memory.mount_point == Path("/sys/fs/cgroup/my mem")


def test_parse_proc_cgroup() -> None:
    v1, unified = parse_proc_cgroup(V1_JOINED_CGROUP + "0::/\n")
    assert v1[frozenset({"cpu", "cpuacct"})] == "/user.slice"
    assert v1[frozenset({"name=systemd"})] == "/user.slice/user-0.slice/session-1.scope"
    assert unified == "/"


@pytest.mark.parametrize(
    ("shares", "weight"),
    [(2, 1), (1, 1), (1024, 100), (512, 59), (2048, 174), (262144, 10000), (10**6, 10000)],
)
def test_shares_to_weight(shares: int, weight: int) -> None:
    assert shares_to_weight(shares) == weight


def test_shares_to_weight_is_monotonic_and_in_range() -> None:
    weights = [shares_to_weight(s) for s in range(2, 262145, 97)]
    assert weights == sorted(weights)
    assert min(weights) >= 1 and max(weights) <= 10000


@pytest.mark.parametrize(
    ("quota", "period", "current", "line"),
    [
        (150000, None, "max 100000\n", "150000 100000"),
        (150000, 50000, "max 100000\n", "150000 50000"),
        (None, 50000, "20000 100000\n", "20000 50000"),
        (-1, None, "20000 100000\n", "max 100000"),
        (None, None, "20000 100000\n", None),
        (25000, None, "", "25000 100000"),
    ],
)
def test_cpu_max(quota: int | None, period: int | None, current: str, line: str | None) -> None:
    assert cpu_max(quota, period, current) == line


def test_swap_max() -> None:
    assert swap_max(64 << 20, 96 << 20) == str(32 << 20)
    assert swap_max(64 << 20, 64 << 20) == "0"
    assert swap_max(64 << 20, -1) == "max"
    assert swap_max(None, -1) == "max"
    with pytest.raises(InvalidArgument):
        swap_max(64 << 20, 32 << 20)
    with pytest.raises(InvalidArgument):
        swap_max(None, 96 << 20)


def test_v1_memory_write_order() -> None:
    unlimited = 9223372036854771712
    assert memory_first(64 << 20, -1)  # memsw unlimited: memory first is always fine
    assert memory_first(64 << 20, unlimited)
    assert memory_first(64 << 20, 128 << 20)  # lowering under the memsw in force
    assert not memory_first(256 << 20, 128 << 20)  # raising past it: memsw first
    assert not memory_first(-1, 128 << 20)


def test_limit_and_keyed_parsing() -> None:
    assert limit_or_none("max\n") is None
    assert limit_or_none("9223372036854771712\n") is None
    assert limit_or_none("67108864\n") == 64 << 20
    assert keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")["oom_kill"] == 3
    assert keyed("usage_usec 1234\nuser_usec 1000\n") == {"usage_usec": 1234, "user_usec": 1000}


@pytest.mark.parametrize(
    ("name", "parent"),
    [("", "berth"), ("a/b", "berth"), ("..", "berth"), ("x", "../etc"), ("x", "")],
)
def test_group_names_stay_under_the_parent(name: str, parent: str) -> None:
    with pytest.raises(InvalidArgument):
        group_path(name, parent)


def test_group_path() -> None:
    assert group_path("abc", "/berth/nested/") == Path("berth/nested/abc")


V2_FILES = ("memory.max", "memory.swap.max", "memory.low", "cpu.max", "cpu.weight")
V2_FILES += ("cpuset.cpus", "cpuset.mems", "pids.max")


def _fake_v2_group(tmp_path: Path) -> tuple[V2, Path]:
    """A directory standing in for a v2 group: writes land in plain files, so what V2
    writes (and in which files) is checked on hosts that can't run v2 limits."""
    directory = tmp_path / "berth-unit" / "c1"
    directory.mkdir(parents=True)
    for name in V2_FILES:
        (directory / name).write_text("")
    return V2(tmp_path, Path("berth-unit", "c1")), directory


def test_v2_update_writes_each_file(tmp_path: Path) -> None:
    group, directory = _fake_v2_group(tmp_path)
    group.update(
        Resources(
            memory=64 << 20,
            memory_swap=96 << 20,
            memory_reservation=32 << 20,
            cpu_quota=150_000,
            cpu_shares=512,
            cpuset_cpus="0-1",
            cpuset_mems="0",
            pids_limit=0,
        )
    )
    written = {name: (directory / name).read_text() for name in V2_FILES}
    assert written == {
        "memory.max": str(64 << 20),
        "memory.swap.max": str(32 << 20),
        "memory.low": str(32 << 20),
        "cpu.max": "150000 100000",
        "cpu.weight": "59",
        "cpuset.cpus": "0-1",
        "cpuset.mems": "0",
        "pids.max": "max",
    }


def test_v2_swap_alone_uses_the_memory_limit_in_force(tmp_path: Path) -> None:
    group, directory = _fake_v2_group(tmp_path)
    (directory / "memory.max").write_text(f"{64 << 20}\n")
    group.update(Resources(memory_swap=128 << 20))
    assert (directory / "memory.swap.max").read_text() == str(64 << 20)
    (directory / "memory.max").write_text("max\n")
    with pytest.raises(InvalidArgument, match="needs a memory limit"):
        group.update(Resources(memory_swap=128 << 20))


def test_v2_period_alone_keeps_the_quota(tmp_path: Path) -> None:
    group, directory = _fake_v2_group(tmp_path)
    (directory / "cpu.max").write_text("50000 100000\n")
    group.update(Resources(cpu_period=50_000))
    assert (directory / "cpu.max").read_text() == "50000 50000"
