"""Keeping the cgroup migration path warm (berth.cgroups.warmth), with the real kernel files.

What is looked at: a process keeping the path warm from inside cgroups of its own stays in
them (the thread writes the process into its own cgroup, never elsewhere: a wrong path would
move it), the thread runs while held and stops on release, or at its limit when nobody
releases it. The latency it buys is a benchmark's (bench/README.md, "Containers").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.cgroups import CgroupManager, Resources, detect, open_cgroup
from berth.cgroups.warmth import Warmth, own_procs_file
from tests.conftest import CGROUP_PARENT

LAYOUT = detect()
if os.geteuid() != 0 or LAYOUT.version == 0:
    pytest.skip("needs root and a usable cgroup hierarchy", allow_module_level=True)

CHILD = """
import json, time
from berth.cgroups.warmth import Warmth, own_procs_file
before = open("/proc/self/cgroup").read()
warmth = Warmth()
warmth.hold()
time.sleep(0.2)
held = warmth.running()
during = open("/proc/self/cgroup").read()
warmth.release()
deadline = time.monotonic() + 5
while warmth.running() and time.monotonic() < deadline:
    time.sleep(0.01)
print(json.dumps({"before": before, "during": during, "after": open("/proc/self/cgroup").read(),
                  "held": held, "stopped": not warmth.running(), "procs": own_procs_file()}))
"""


@pytest.fixture
def own_groups() -> Iterator[list[Path]]:
    """`cgroup.procs` files of fresh cgroups in every hierarchy, the cgroup2 one included
    even where it holds no controller (the one the warmth prefers)."""
    manager: CgroupManager = open_cgroup(f"w-{uuid.uuid4().hex[:12]}", parent=CGROUP_PARENT)
    manager.create(Resources())
    extra: Path | None = None
    procs = list(manager.procs_files())
    if LAYOUT.version == 1 and LAYOUT.unified is not None:
        extra = LAYOUT.unified.mount_point / f"{CGROUP_PARENT}-w-{uuid.uuid4().hex[:12]}"
        extra.mkdir()
        procs.append(extra / "cgroup.procs")
    try:
        yield procs
    finally:
        manager.kill_all(signal.SIGKILL)
        manager.destroy()
        if extra is not None:
            for _ in range(100):  # the child's exit reaches the cgroup a moment later
                try:
                    extra.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)


def test_a_process_keeping_the_path_warm_stays_in_its_own_cgroups(
    own_groups: list[Path],
) -> None:
    def join() -> None:
        for path in own_groups:
            fd = os.open(path, os.O_WRONLY)
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)

    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        preexec_fn=join,  # only os calls run between fork and exec
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    seen = json.loads(child.stdout)
    assert seen["held"] and seen["stopped"]
    assert seen["before"] == seen["during"] == seen["after"]
    assert any(seen["procs"] == str(path) for path in own_groups), seen["procs"]


def test_the_thread_stops_at_its_limit_when_never_released() -> None:
    if own_procs_file() is None:
        pytest.skip("this process can't write its own cgroup")
    warmth = Warmth(limit=0.2)
    warmth.hold()
    assert warmth.running()
    deadline = time.monotonic() + 5
    while warmth.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not warmth.running()


def test_holds_are_counted() -> None:
    if own_procs_file() is None:
        pytest.skip("this process can't write its own cgroup")
    warmth = Warmth()
    warmth.hold()
    warmth.hold()
    warmth.release()
    time.sleep(0.1)
    assert warmth.running()  # one hold is left
    warmth.release()
    deadline = time.monotonic() + 5
    while warmth.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not warmth.running()
