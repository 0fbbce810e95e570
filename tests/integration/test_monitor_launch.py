"""The monitor launcher: a real `python -m berth.monitor` started ahead of its container.

What is looked at: the processes carrying a probe variable in their environment (the monitor
inherits the launcher's), and what `hand_over` reports when the monitor can't hold the
container it was given. Starting a container itself is the e2e tests' part.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from berth.errors import SystemFailure
from berth.monitor.launch import MonitorLauncher
from tests.fixtures.procs import parent_of

PROBE = "BERTH_TEST_LAUNCH_PROBE"
SETTLE_SECONDS = 10


def carriers(token: str) -> list[int]:
    """Pids whose environment holds PROBE=token."""
    wanted = f"{PROBE}={token}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            environ = Path(entry.path, "environ").read_bytes()
        except OSError:
            continue
        if wanted in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def detached(token: str) -> list[int]:
    """The carriers that are not our children: the monitor, once the first process (our
    child, which only forks it off) has done so."""
    ours = os.getpid()
    return [pid for pid in carriers(token) if parent_of(pid) not in (ours, 0)]


def wait_until_gone(token: str) -> list[int]:
    deadline = time.monotonic() + SETTLE_SECONDS
    while (left := carriers(token)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    value = uuid.uuid4().hex
    monkeypatch.setenv(PROBE, value)
    return value


def test_a_launcher_closed_unused_leaves_no_monitor(token: str) -> None:
    launcher = MonitorLauncher()
    assert carriers(token), "the monitor runs (and imports) before it is handed anything"
    launcher.close()
    assert wait_until_gone(token) == []


def test_a_monitor_that_cannot_read_its_container_reports_why(token: str, tmp_path: Path) -> None:
    (tmp_path / "monitor.json").write_text("{not json")
    report = MonitorLauncher().hand_over(tmp_path, [])
    assert report["exit_code"] == 125
    assert "monitor failed: cannot read" in report["error"] and "monitor.json" in report["error"]
    assert wait_until_gone(token) == []


def test_a_monitor_gone_before_the_hand_over_is_a_clear_failure(token: str, tmp_path: Path) -> None:
    launcher = MonitorLauncher()
    deadline = time.monotonic() + SETTLE_SECONDS
    while not (monitors := detached(token)) and time.monotonic() < deadline:
        time.sleep(0.01)  # until the first process has forked the monitor off
    assert len(monitors) == 1
    os.kill(monitors[0], signal.SIGKILL)  # a crash: the one fault made here on purpose
    assert wait_until_gone(token) == []
    with pytest.raises(SystemFailure, match="the container monitor failed to start"):
        launcher.hand_over(tmp_path, [])
    with pytest.raises(SystemFailure, match="handed over already"):
        launcher.hand_over(tmp_path, [])
