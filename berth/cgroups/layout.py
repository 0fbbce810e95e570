"""Which cgroup hierarchies this host has, read from /proc/self/mountinfo.

Three layouts exist in the field: pure v2 (one cgroup2 mount holding the controllers), pure
v1 (a mount per controller, some joined like `cpu,cpuacct`), and hybrid (v1 controllers plus
a cgroup2 mount that holds few or none). Berth uses v2 only when the controllers it needs
live there. Detection is a pure function of the mountinfo text, so tests can feed samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

NEEDED_V2 = ("memory", "pids", "cpu")


@dataclass(frozen=True, slots=True)
class Layout:
    version: int
    unified: Path | None = None  # the cgroup2 mount point
    v1: dict[str, Path] = field(default_factory=dict)  # controller -> mount point


def parse(mountinfo: str, controllers_v2: str = "") -> Layout:
    """Layout from /proc/self/mountinfo text and the cgroup2 root's cgroup.controllers."""
    unified: Path | None = None
    v1: dict[str, Path] = {}
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 10:
            continue
        mount_point = Path(fields[4].replace("\\040", " "))
        after = line.split(" - ", 1)[1].split()
        fstype, options = after[0], after[2] if len(after) > 2 else ""
        if fstype == "cgroup2":
            unified = unified or mount_point
        elif fstype == "cgroup":
            for option in options.split(","):
                if option in (
                    "cpu",
                    "cpuacct",
                    "cpuset",
                    "memory",
                    "pids",
                    "freezer",
                    "blkio",
                    "devices",
                    "hugetlb",
                    "net_cls",
                    "net_prio",
                    "perf_event",
                ):
                    v1.setdefault(option, mount_point)
    available = set(controllers_v2.split())
    if unified is not None and all(c in available for c in NEEDED_V2):
        return Layout(2, unified, {})
    if v1:
        return Layout(1, unified, v1)
    if unified is not None:
        return Layout(2, unified, {})
    return Layout(0)


def detect() -> Layout:
    mountinfo = Path("/proc/self/mountinfo").read_text()
    probe = parse(mountinfo)
    controllers = ""
    if probe.unified is not None:
        try:
            controllers = (probe.unified / "cgroup.controllers").read_text()
        except OSError:
            controllers = ""
    return parse(mountinfo, controllers)
