"""`rm -f` of a running container on the default network: every process of the container
ends (SIGKILL to pid 1 of its own pid namespace ends the rest with it; with the host's pid
namespace each process is told), and the remover itself releases what the start set up (its
monitor, told the container is being removed, runs no clean-up command of its own)."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.fixtures.netns import HostNamespace
from tests.fixtures.procs import running
from tests.fixtures.store import Berth, Store

SCRIPT = "sleep 300 & sleep 300 & exec sleep 300"


def _members(pid: int) -> set[int]:
    """The processes in `pid`'s mount namespace (the container's), `pid` included."""
    namespace = os.readlink(f"/proc/{pid}/ns/mnt")
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/mnt") == namespace:
                    found.add(int(entry))
            except OSError:
                continue
    return found


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if running(pid)}


@pytest.mark.parametrize("pid_mode", [[], ["--pid", "host"]])
def test_rm_f_ends_every_process_and_releases_the_network(
    berth: Berth, busybox: str, store: Store, host_ns: HostNamespace, pid_mode: list[str]
) -> None:
    started = berth("run", "-d", "--name", "busy", *pid_mode, busybox, "sh", "-c", SCRIPT)
    assert started.returncode == 0, started.stderr
    pid = json.loads(berth("inspect", "busy").stdout)[0]["State"]["Pid"]
    deadline = time.monotonic() + 10
    while len(members := _members(pid)) < 3:  # the two background sleeps are started
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert berth("rm", "-f", "busy").returncode == 0
    deadline = time.monotonic() + 5
    while _alive(members):
        assert time.monotonic() < deadline, f"still running: {_alive(members)}"
        time.sleep(0.05)
    assert berth("ps", "-aq").stdout == ""
    assert list((store.runroot / "netns").iterdir()) == []
    # The veth pair goes with the namespace, which the kernel frees in the background
    # (berth.network.host's `release`): soon, not necessarily before `rm` returns.
    deadline = time.monotonic() + 5
    while veths := [device for device in host_ns.devices() if device.startswith("veth")]:
        assert time.monotonic() < deadline, f"left behind: {veths}"
        time.sleep(0.05)
