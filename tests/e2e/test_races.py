"""Lifecycle commands racing on one container, and `--rm` that must remove: one container is
one instance (one init, one monitor) whatever the interleaving of start, stop, restart,
kill, pause and rm, and a container started with `--rm` is gone with everything it held once
it exits — detached, or after its `run` was killed. Real processes, real cgroups; every
container a test starts is removed by the test."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fixtures.netns import HostNamespace
from tests.fixtures.procs import parent_of, running
from tests.fixtures.store import Berth, Store

ACTIONS = ("start", "stop", "restart", "kill", "pause", "unpause")


def _processes_of(container_id: str) -> list[tuple[int, str]]:
    """(pid, comm) of every process in the container's cgroups."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cgroups = Path(entry.path, "cgroup").read_text()
            comm = Path(entry.path, "comm").read_text().strip()
        except OSError:
            continue
        if container_id in cgroups:
            found.append((int(entry.name), comm))
    return found


def _monitors_of(store: Store, container_id: str) -> list[int]:
    """berth's monitors hold their container's monitor.log (in its run dir) as stdout;
    conmon (BERTH_MONITOR=conmon) works in that run dir, and so does its exit command for a
    moment (writing to monitor.log too): conmon's child, not a second monitor."""
    run_dir = str(store.runroot / "containers" / container_id)
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            target = os.readlink(Path(entry.path, "fd", "1"))
            conmon = os.readlink(Path(entry.path, "cwd")) == run_dir and (
                Path(entry.path, "comm").read_text() == "conmon\n"
            )
        except OSError:
            continue
        if target.startswith(run_dir) or conmon:
            found.append(int(entry.name))
    return [pid for pid in found if parent_of(pid) not in found]  # not conmon's exit command


def _instances(container_id: str) -> int:
    """The container's processes: its command's one (`sleep`), or its init before it has
    exec'd the command: a pause right after a start may freeze it there, as runc's does
    (`start` returns once the init is released, not once it has exec'd); unpaused, it does."""
    return len(_processes_of(container_id))


def _in_parallel(calls: list[Callable[[], object]]) -> None:
    with ThreadPoolExecutor(len(calls)) as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()


def _wait_gone(berth: Berth, name: str, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if name not in berth("ps", "-a", "--format", "{{.Names}}").stdout.split():
            return True
        time.sleep(0.1)
    return False


def test_concurrent_starts_run_one_instance(berth: Berth, busybox: str, store: Store) -> None:
    container_id = berth("create", "--name", "once", busybox, "sleep", "1000").stdout.strip()
    _in_parallel([lambda: berth("start", "once") for _ in range(5)])
    assert _instances(container_id) == 1
    assert len(_monitors_of(store, container_id)) == 1
    assert berth("rm", "-f", "once").returncode == 0
    assert _processes_of(container_id) == []
    assert _monitors_of(store, container_id) == []


def test_starts_racing_stops_leave_at_most_one_instance(
    berth: Berth, busybox: str, store: Store
) -> None:
    container_id = berth("create", "--name", "racy", busybox, "sleep", "1000").stdout.strip()
    calls: list[Callable[[], object]] = []
    for _ in range(5):
        calls += [lambda: berth("start", "racy"), lambda: berth("stop", "-t", "1", "racy")]
    _in_parallel(calls)
    assert _instances(container_id) <= 1
    assert len(_monitors_of(store, container_id)) <= 1
    status = berth("inspect", "-f", "{{.State.Status}}", "racy").stdout.strip()
    assert status in ("running", "exited")
    assert (status == "running") == (_instances(container_id) == 1)
    assert berth("rm", "-f", "racy").returncode == 0
    assert _processes_of(container_id) == []


def test_a_pause_racing_a_stop_never_leaves_it_frozen(berth: Berth, busybox: str) -> None:
    """Whatever the order, the stop wins: it thaws a paused container, and a pause that
    comes while it is being stopped is refused (a frozen process would never die)."""
    container_id = berth(
        "create", "--name", "cold", "--stop-timeout", "1", busybox, "sleep", "1000"
    ).stdout.strip()
    for _ in range(4):
        assert berth("start", "cold").returncode == 0
        _in_parallel([lambda: berth("pause", "cold"), lambda: berth("stop", "cold")])
        assert berth("inspect", "-f", "{{.State.Status}}", "cold").stdout.strip() == "exited"
        assert _instances(container_id) == 0
    assert berth("rm", "cold").returncode == 0


@pytest.mark.parametrize("seed", [1, 2])
def test_random_lifecycle_commands_racing_on_one_container(
    berth: Berth, busybox: str, store: Store, seed: int
) -> None:
    """Four workers fire random lifecycle commands at one container; after every round the
    container is one instance at most, in a state that matches its processes, and `rm -f`
    at any point leaves nothing."""
    chooser = random.Random(seed)
    container_id = berth(
        "create", "--name", "storm", "--stop-timeout", "1", busybox, "sleep", "1000"
    ).stdout.strip()
    for _ in range(6):
        actions = [chooser.choice(ACTIONS) for _ in range(4)]
        _in_parallel([lambda a=action: berth(a, "storm") for action in actions])
        status = berth("inspect", "-f", "{{.State.Status}}", "storm").stdout.strip()
        assert status in ("created", "running", "paused", "exited"), actions
        assert _instances(container_id) == (1 if status in ("running", "paused") else 0), (
            actions,
            status,
        )
        assert len(_monitors_of(store, container_id)) <= 1, actions
    removers = [lambda: berth("rm", "-f", "storm"), lambda: berth("start", "storm")]
    _in_parallel([*removers, lambda: berth("kill", "storm")])
    if "storm" in berth("ps", "-a", "--format", "{{.Names}}").stdout.split():
        assert berth("rm", "-f", "storm").returncode == 0
    assert _processes_of(container_id) == []
    assert _monitors_of(store, container_id) == []


def test_run_detached_with_rm_removes_the_container(berth: Berth, busybox: str) -> None:
    started = berth("run", "-d", "--rm", "--name", "brief", "-p", "8088:80", busybox, "sleep", "1")
    assert started.returncode == 0, started.stderr
    container_id = started.stdout.strip()
    assert _wait_gone(berth, "brief"), berth("ps", "-a").stdout
    assert _processes_of(container_id) == []
    rootfs = f"containers/{container_id}/rootfs"
    assert not any(rootfs in line for line in Path("/proc/mounts").read_text().splitlines())
    assert "8088" not in berth("port", "brief").stdout
    # Its published port is free again: the next container can have it.
    again = berth("run", "--rm", "-p", "8088:80", busybox, "true")
    assert again.returncode == 0, again.stderr


def test_run_with_rm_whose_cli_is_killed_still_removes(
    berth: Berth, busybox: str, store: Store
) -> None:
    cli = berth.popen(
        "run", "--rm", "--name", "orphaned", busybox, "sleep", "2",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while "orphaned" not in berth("ps", "--format", "{{.Names}}").stdout.split():
            assert time.monotonic() < deadline, "the container never started"
            time.sleep(0.05)
    finally:
        cli.send_signal(signal.SIGKILL)
        cli.wait()
    assert _wait_gone(berth, "orphaned"), berth("ps", "-a").stdout


def test_rm_f_after_the_runroot_was_wiped(
    berth: Berth, busybox: str, store: Store, host_ns: HostNamespace
) -> None:
    """/run cleaned without a reboot while a container runs: it is still listed as running
    (its monitor lives), and rm -f ends its processes, its monitor, its cgroup and its port
    (the cgroup is its processes' handle in the store)."""
    started = berth("run", "-d", "--name", "survivor", "-p", "8089:80", busybox, "sleep", "1000")
    assert started.returncode == 0, started.stderr
    container_id = started.stdout.strip()
    monitors = _monitors_of(store, container_id)
    assert _instances(container_id) == 1 and len(monitors) == 1
    subprocess.run(["rm", "-rf", str(store.runroot)], capture_output=True, check=False)
    store.runroot.mkdir(exist_ok=True)
    assert berth("inspect", "-f", "{{.State.Status}}", "survivor").stdout.strip() == "running"
    removed = berth("rm", "-f", "survivor")
    assert removed.returncode == 0, removed.stderr
    assert _processes_of(container_id) == []
    assert not any(running(pid) for pid in monitors)
    cgroups = Path("/sys/fs/cgroup/pids") / os.environ["BERTH_CGROUP_PARENT"] / container_id
    assert not cgroups.exists()
    rules = host_ns.run("nft", "list", "ruleset").stdout
    assert "8089" not in rules
    again = berth("run", "--rm", "-p", "8089:80", busybox, "true")  # the port is free
    assert again.returncode == 0, again.stderr
