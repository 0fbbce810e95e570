"""A container fills the store's filesystem (a real, small tmpfs): reads still work, the
commands that free space (stop, kill, rm -f) work, other writes say "no space left on
device" and change nothing, the monitor survives (dropping log records, counted, and saying
so once there is room again), and a pull that fills the disk leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.images import Catalogue
from tests.fixtures.netns import HostNamespace
from tests.fixtures.store import Berth, Store, mount_store, unmount_store

FILL = "while true; do echo tick; sleep 0.05; done & dd if=/dev/zero of=/fill bs=1M; sleep 1000"


@pytest.fixture
def small(store: Store, host_ns: HostNamespace, tmp_path: Path) -> Iterator[Berth]:
    """berth on a 64 MiB store (its runroot on the big one: /run is not /var/lib)."""
    mounted = mount_store(tmp_path / "small", size="64m")
    runner = Berth(Store(mounted.mountpoint, mounted.root, store.runroot), prefix=host_ns.prefix)
    try:
        yield runner
    finally:
        for container_id in runner("ps", "-aq", "--no-trunc").stdout.split():
            runner("rm", "-f", container_id)
        runner("network", "prune", "-f")  # the default bridge, kept between containers
        leftovers = unmount_store(mounted)
    assert leftovers == [], leftovers


def _free(berth: Berth) -> int:
    stats = os.statvfs(berth.store.root)
    return stats.f_bavail * stats.f_frsize


def _fill(berth: Berth, registry: Catalogue) -> str:
    reference = registry["base"].reference
    assert berth("pull", "-q", reference).returncode == 0
    started = berth("run", "-d", "--name", "filler", reference, "sh", "-c", FILL)
    assert started.returncode == 0, started.stderr
    deadline = time.monotonic() + 60
    while _free(berth) > 0:
        assert time.monotonic() < deadline, "the container never filled the disk"
        time.sleep(0.1)
    return started.stdout.strip()


def _clean(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_reads_work_and_other_writes_refuse_on_a_full_disk(
    small: Berth, registry: Catalogue
) -> None:
    container_id = _fill(small, registry)
    for command in (
        ["ps"],
        ["ps", "-a"],
        ["inspect", "filler"],
        ["logs", "--tail", "1", "filler"],
        ["images"],
        ["volume", "ls"],
        ["network", "ls"],
        ["system", "df"],
    ):
        result = small(*command)
        assert result.returncode == 0, (command, result.stderr)
    assert small("inspect", "-f", "{{.State.Status}}", "filler").stdout.strip() == "running"
    before = small("ps", "-aq").stdout
    for command, code in (
        (["create", registry["base"].reference, "true"], 125),
        (["volume", "create", "more"], 1),
        (["network", "create", "more"], 1),
    ):
        result = small(*command)
        _clean(result)
        assert result.returncode == code, (command, result.stderr)
        assert "no space left on device" in result.stderr, (command, result.stderr)
    assert small("ps", "-aq").stdout == before
    assert small("volume", "ls", "-q").stdout == ""
    # The monitor survived its log's full disk: the container is still managed.
    assert small("stop", "-t", "1", "filler").returncode == 0
    assert small("inspect", "-f", "{{.State.Status}}", "filler").stdout.strip() == "exited"
    assert small("rm", "filler").returncode == 0
    assert _free(small) > 32 << 20  # the container's writes went with it
    assert not (small.store.root / "containers" / container_id).exists()


def test_rm_f_of_the_container_that_filled_it(small: Berth, registry: Catalogue) -> None:
    _fill(small, registry)
    removed = small("rm", "-f", "filler")
    assert removed.returncode == 0, removed.stderr
    assert small("ps", "-aq").stdout == ""
    assert _free(small) > 32 << 20
    assert small("ps").returncode == 0
    assert (small.store.root / "reserve").is_file()  # the reserve is back, for next time


def test_kill_on_a_full_disk(small: Berth, registry: Catalogue) -> None:
    _fill(small, registry)
    killed = small("kill", "filler")
    assert killed.returncode == 0, killed.stderr
    assert small("wait", "filler").stdout.strip() == "137"
    assert small("rm", "filler").returncode == 0


def test_the_monitor_drops_log_records_and_says_so(small: Berth, registry: Catalogue) -> None:
    """berth's own monitor counts the records it drops and says so; conmon does not."""
    small.env["BERTH_MONITOR"] = "berth"
    _fill(small, registry)

    def dropped() -> int:
        state = json.loads(small("inspect", "filler").stdout)[0]["State"]
        return int(state.get("LogRecordsDropped", 0))

    deadline = time.monotonic() + 30
    while not dropped():  # ticks go on; once the log's last page is full, they are dropped
        assert time.monotonic() < deadline, "no log record was ever dropped"
        time.sleep(0.2)
    assert small("exec", "filler", "rm", "/fill").returncode == 0
    deadline = time.monotonic() + 20
    while "log records dropped" not in (logs := small("logs", "filler")).stderr:
        assert time.monotonic() < deadline, logs.stderr[-500:]
        time.sleep(0.1)
    document = json.loads(small("inspect", "filler").stdout)[0]
    assert document["State"]["LogRecordsDropped"] > 0
    assert document["State"]["Running"]
    time.sleep(0.3)
    assert small("logs", "--tail", "2", "filler").stdout == "tick\ntick\n"  # logging again
    assert small("rm", "-f", "filler").returncode == 0


def test_a_pull_that_fills_the_disk_leaves_nothing(small: Berth, registry: Catalogue) -> None:
    """The catalogue's large image doesn't fit once a file takes most of the store."""
    assert small("images").returncode == 0  # the store, with its reserve
    ballast = small.store.root / "ballast"
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={ballast}", "bs=1M", "count=48"],
        capture_output=True,
        check=False,
    )
    before = _free(small)
    result = small("pull", registry["large"].reference)
    _clean(result)
    assert result.returncode == 1, result.stderr
    assert "no space left on device" in result.stderr
    ballast.unlink()
    assert small("images", "-q").stdout == ""
    tmp = small.store.root / "tmp"
    assert not any(p.name.startswith("unpack-") for p in tmp.iterdir())
    ingests = small.store.root / "content" / "ingest"
    assert not ingests.exists() or list(ingests.iterdir()) == []
    # All it wrote is gone, but for the database's journal.
    assert _free(small) >= before + (48 << 20) - (1 << 20)
