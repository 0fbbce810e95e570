"""Which cgroup hierarchies this host has, and where this process sits in each.

Three layouts exist in the field: pure v2 (one cgroup2 mount holding every controller), pure
v1 (a mount per hierarchy, some joined like `cpu,cpuacct`), and hybrid (v1 controllers plus
a cgroup2 mount holding few or none: systemd's "unified" mount, or hugetlb alone as on the
development machines). A controller lives in exactly one hierarchy: if /proc/self/cgroup
binds memory, pids or cpu to a v1 hierarchy, berth must use v1; otherwise the cgroup2 mount.

`parse` is a pure function of /proc/self/mountinfo, /proc/self/cgroup and (optionally) the
cgroup2 root's cgroup.controllers, so tests feed it samples; `detect` reads the real ones.
Stdlib only; NamedTuples, not dataclasses, which would cost every container start ~5 ms of
imports (the CLI's and the monitor's).
"""

import functools
import re
from pathlib import Path, PurePosixPath
from typing import NamedTuple

# The v1 controllers a kernel may bind to a hierarchy (names in mount options and
# /proc/self/cgroup); named hierarchies like name=systemd carry no controller.
V1_CONTROLLERS = frozenset(
    {
        "blkio",
        "cpu",
        "cpuacct",
        "cpuset",
        "devices",
        "freezer",
        "hugetlb",
        "memory",
        "misc",
        "net_cls",
        "net_prio",
        "perf_event",
        "pids",
        "rdma",
    }
)
# The controllers whose limits containers need: where these live decides the version.
ESSENTIAL = ("memory", "pids", "cpu")
_OCTAL = re.compile(r"\\([0-7]{3})")


class Hierarchy(NamedTuple):
    """One mounted hierarchy: its mount point, the controllers bound to it, and where the
    calling process sits in it.

    `root` is the cgroup the mount shows at its mount point (mountinfo's 4th field; "/"
    except for bind mounts of a subtree, e.g. in some containers). `cgroup` is this process's
    cgroup in the hierarchy, as /proc/self/cgroup names it ("" when not listed).
    """

    mount_point: Path
    controllers: frozenset[str]
    root: str = "/"
    cgroup: str = ""

    def current(self) -> Path | None:
        """The directory of the caller's own cgroup, or None when the mount can't show it."""
        if not self.cgroup:
            return None
        path, root = PurePosixPath(self.cgroup), PurePosixPath(self.root)
        if path != root and root not in path.parents:
            return None
        return self.mount_point / path.relative_to(root)


class Layout(NamedTuple):
    """`version` 1 or 2 is what berth uses (0: no usable cgroups); `mode` says what the host
    has: "v1", "v2", "hybrid" (v1 controllers + a cgroup2 mount) or "none".

    `v1` holds one entry per mounted v1 hierarchy with controllers; `unified` the cgroup2
    mount if any; `controllers` what the version in use offers.
    """

    version: int
    mode: str
    v1: tuple[Hierarchy, ...] = ()
    unified: Hierarchy | None = None
    controllers: frozenset[str] = frozenset()

    def hierarchy(self, controller: str) -> Hierarchy | None:
        """The v1 hierarchy holding `controller`, if mounted."""
        for hierarchy in self.v1:
            if controller in hierarchy.controllers:
                return hierarchy
        return None


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    return _OCTAL.sub(lambda match: chr(int(match.group(1), 8)), field)


def parse_proc_cgroup(text: str) -> tuple[dict[frozenset[str], str], str | None]:
    """/proc/self/cgroup: v1 controller sets -> path, and the v2 ("0::") path if listed."""
    v1: dict[frozenset[str], str] = {}
    unified: str | None = None
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        number, controllers, path = parts
        if number == "0" and not controllers:
            unified = path
        elif controllers:
            v1[frozenset(controllers.split(","))] = path
    return v1, unified


def parse(mountinfo: str, proc_cgroup: str = "", unified_controllers: str | None = None) -> Layout:
    """The layout from the texts of /proc/self/mountinfo and /proc/self/cgroup.

    `unified_controllers` is the cgroup2 root's cgroup.controllers when known; it refines the
    v2 controller list (and a v2 mount offering none of the essential controllers is not
    used), but the version is decided from the v1 bindings, which the two texts give.
    """
    memberships, unified_path = parse_proc_cgroup(proc_cgroup)
    v1: list[Hierarchy] = []
    unified: Hierarchy | None = None
    seen: set[frozenset[str]] = set()
    for line in mountinfo.splitlines():
        left, separator, right = line.partition(" - ")
        if not right.startswith("cgroup"):  # most of a busy host's lines: containers' mounts
            continue
        fields, tail = left.split(), right.split()
        if not separator or len(fields) < 5 or len(tail) < 3:
            continue
        fstype, options = tail[0], tail[2].split(",")
        if fstype not in ("cgroup", "cgroup2"):
            continue
        root, mount_point = _unescape(fields[3]), Path(_unescape(fields[4]))
        if fstype == "cgroup2" and unified is None:
            unified = Hierarchy(mount_point, frozenset(), root, unified_path or "")
        elif fstype == "cgroup":
            bound = frozenset(option for option in options if option in V1_CONTROLLERS)
            named = frozenset(option for option in options if option.startswith("name="))
            # Several mounts of one hierarchy (bind mounts) show the same tree: keep the first.
            if not bound or bound in seen:
                continue
            seen.add(bound)
            v1.append(Hierarchy(mount_point, bound, root, memberships.get(bound | named, "")))
    bound_v1 = {c for hierarchy in v1 for c in hierarchy.controllers}
    bound_v1 |= {c for controllers in memberships for c in controllers if c in V1_CONTROLLERS}
    if unified is not None and unified_controllers is not None:
        offered = frozenset(unified_controllers.split())
        unified = Hierarchy(unified.mount_point, offered, unified.root, unified.cgroup)
    mode = "v1" if v1 else "none"
    if v1 and unified is not None:
        mode = "hybrid"
    elif unified is not None:
        mode = "v2"
    if any(controller in bound_v1 for controller in ESSENTIAL):
        if not v1:
            return Layout(0, mode, (), unified)
        return Layout(1, mode, tuple(v1), unified, frozenset(bound_v1 & _mounted(v1)))
    if unified is not None and (
        unified_controllers is None or any(c in unified.controllers for c in ESSENTIAL)
    ):
        return Layout(2, mode, tuple(v1), unified, unified.controllers)
    if v1:
        return Layout(1, mode, tuple(v1), unified, frozenset(_mounted(v1)))
    return Layout(0, mode, (), unified)


def _mounted(v1: list[Hierarchy]) -> set[str]:
    return {controller for hierarchy in v1 for controller in hierarchy.controllers}


@functools.cache
def detect() -> Layout:
    """The layout of the host as this process sees it, read once: a start asks more than
    once, and on a busy host /proc/self/mountinfo is long (every container's mounts: ~6 ms
    with 500 running); the host's cgroup mounts don't change under a running command."""
    mountinfo = Path("/proc/self/mountinfo").read_text()
    try:
        proc_cgroup = Path("/proc/self/cgroup").read_text()
    except OSError:
        proc_cgroup = ""
    probe = parse(mountinfo, proc_cgroup)
    controllers: str | None = None
    if probe.unified is not None:
        try:
            controllers = (probe.unified.mount_point / "cgroup.controllers").read_text()
        except OSError:
            controllers = None
    return parse(mountinfo, proc_cgroup, controllers)
