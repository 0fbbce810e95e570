"""A child born in its cgroup (berth.sys.process.fork_into_cgroup: clone3's
CLONE_INTO_CGROUP), against the real kernel: in the cgroup2 hierarchy (this hybrid host's
nearly empty one, or a v2 host's), and refused for a v1 directory, where the caller falls back
to fork and a cgroup.procs write."""

from __future__ import annotations

import errno
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.cgroups import detect
from berth.runtime.init import _fork_pid1
from berth.sys.process import fork_into_cgroup
from tests.conftest import CGROUP_PARENT

LAYOUT = detect()
if os.geteuid() != 0 or LAYOUT.unified is None:
    pytest.skip("needs root and a cgroup2 mount", allow_module_level=True)


@pytest.fixture
def cgroup2_dir() -> Iterator[Path]:
    assert LAYOUT.unified is not None
    directory = LAYOUT.unified.mount_point / f"{CGROUP_PARENT}-birth-{uuid.uuid4().hex[:12]}"
    directory.mkdir()
    try:
        yield directory
    finally:
        for _ in range(100):  # a reaped child leaves the cgroup a moment later
            try:
                directory.rmdir()
                break
            except OSError:
                time.sleep(0.05)


def _child_cgroup(cgroup_fd: int) -> tuple[str, int]:
    """The cgroup2 line of /proc/self/cgroup as the child born into `cgroup_fd` sees it,
    and its exit code."""
    read, write = os.pipe()
    pid = fork_into_cgroup(cgroup_fd)
    if pid == 0:
        try:
            lines = Path("/proc/self/cgroup").read_text().splitlines()
            os.write(write, next(line for line in lines if line.startswith("0::")).encode())
        finally:
            os._exit(3)
    os.close(write)
    try:
        seen = os.read(read, 4096).decode()
    finally:
        os.close(read)
    _, status = os.waitpid(pid, 0)
    return seen, os.waitstatus_to_exitcode(status)


def test_the_child_is_born_in_the_cgroup(cgroup2_dir: Path) -> None:
    fd = os.open(cgroup2_dir, os.O_RDONLY)
    try:
        seen, code = _child_cgroup(fd)
    finally:
        os.close(fd)
    assert LAYOUT.unified is not None
    relative = cgroup2_dir.relative_to(LAYOUT.unified.mount_point)
    assert seen == f"0::/{relative}"
    assert code == 3  # the child ran on in Python and exited as it said


@pytest.mark.skipif(LAYOUT.version != 1, reason="needs a v1 hierarchy")
def test_a_v1_directory_is_refused() -> None:
    hierarchy = LAYOUT.hierarchy("pids") or LAYOUT.v1[0]
    fd = os.open(hierarchy.mount_point, os.O_RDONLY)
    try:
        with pytest.raises(OSError) as refused:
            fork_into_cgroup(fd)
    finally:
        os.close(fd)
    assert refused.value.errno == errno.EBADF


def _fork_and_reap(cgroup_procs: list[str]) -> list[str]:
    """What the init's fork of pid 1 leaves to join (the child exits at once)."""
    child, to_join = _fork_pid1(cgroup_procs)
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)
    return to_join


def test_the_init_has_pid1_born_in_a_cgroup2_directory(cgroup2_dir: Path) -> None:
    assert _fork_and_reap([str(cgroup2_dir / "cgroup.procs")]) == []


@pytest.mark.skipif(LAYOUT.version != 1, reason="needs a v1 hierarchy")
def test_the_init_forks_pid1_for_v1_to_move_it() -> None:
    hierarchy = LAYOUT.hierarchy("pids") or LAYOUT.v1[0]
    procs = [str(hierarchy.mount_point / "cgroup.procs")]
    assert _fork_and_reap(procs) == procs
