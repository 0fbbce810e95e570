"""Healthchecks: the pure state machine (Docker's rules over results and times), the
configuration's parsing, and the checker's probe life with host processes for probes."""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Callable

import pytest

from berth.container.creating import merge_image_config
from berth.monitor.health import (
    HEALTHY,
    STARTING,
    UNHEALTHY,
    HealthConfig,
    HealthState,
    Result,
    go_duration,
    output_text,
)
from berth.monitor.probes import HealthChecker

MS = 1_000_000
S = 1_000_000_000


def _config(**overrides: object) -> HealthConfig:
    document: dict[str, object] = {"Test": ["CMD-SHELL", "true"], **overrides}
    parsed = HealthConfig.parse(document)
    assert parsed is not None
    return parsed


def _result(code: int, start: float = 0.0) -> Result:
    return Result(start, start + 0.1, code, "")


# -- configuration -------------------------------------------------------------------------


def test_defaults_are_dockers() -> None:
    config = _config()
    assert config.argv == ("/bin/sh", "-c", "true")
    assert (config.interval, config.timeout, config.start_period) == (30.0, 30.0, 0.0)
    assert (config.start_interval, config.retries, config.timeout_text) == (5.0, 3, "30s")


def test_durations_are_nanoseconds() -> None:
    config = _config(Interval=200 * MS, Timeout=1500 * MS, StartPeriod=2 * S, Retries=2)
    assert (config.interval, config.timeout, config.start_period) == (0.2, 1.5, 2.0)
    assert (config.retries, config.timeout_text) == (2, "1.5s")


@pytest.mark.parametrize(
    ("test", "shell", "argv"),
    [
        (["CMD", "curl", "-f", "http://localhost/"], [], ("curl", "-f", "http://localhost/")),
        (["CMD-SHELL", "exit 0"], [], ("/bin/sh", "-c", "exit 0")),
        (["CMD-SHELL", "exit 0"], ["/bin/ash", "-eo"], ("/bin/ash", "-eo", "exit 0")),
    ],
)
def test_probe_argv(test: list[str], shell: list[str], argv: tuple[str, ...]) -> None:
    parsed = HealthConfig.parse({"Test": test}, shell)
    assert parsed is not None and parsed.argv == argv


@pytest.mark.parametrize(
    "healthcheck", [None, {}, {"Test": []}, {"Test": ["NONE"]}, {"Test": ["CMD"]}, {"Test": ["X"]}]
)
def test_no_probe(healthcheck: dict[str, object] | None) -> None:
    assert HealthConfig.parse(healthcheck) is None


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (0, "0s"),
        (200 * MS, "200ms"),
        (1500 * MS, "1.5s"),
        (30 * S, "30s"),
        (90 * S, "1m30s"),
        (3600 * S, "1h0m0s"),
        (1500, "1.5µs"),
        (7, "7ns"),
        (-2 * S, "-2s"),
    ],
)
def test_go_duration(nanoseconds: int, text: str) -> None:
    assert go_duration(nanoseconds) == text


def test_output_keeps_4096_bytes() -> None:
    assert output_text(b"ok\n", False) == "ok\n"
    long = output_text(b"a" * 5000, False)
    assert long == "a" * 4096 + "..."
    assert output_text(b"a" * 4096, True).endswith("...")
    assert output_text(b"\xff", False) == "\ufffd"


def test_image_healthcheck_fills_what_the_run_options_leave_unset() -> None:
    image = {"Healthcheck": {"Test": ["CMD", "probe"], "Interval": 5 * S, "Retries": 4}}
    merged = merge_image_config({"Healthcheck": {"Test": [], "Interval": 1 * S}}, image)
    assert merged["Healthcheck"] == {"Test": ["CMD", "probe"], "Interval": 1 * S, "Retries": 4}
    disabled = merge_image_config({"Healthcheck": {"Test": ["NONE"]}}, image)
    assert disabled["Healthcheck"]["Test"] == ["NONE"]
    assert merge_image_config({}, image)["Healthcheck"] == image["Healthcheck"]


# -- the state machine ----------------------------------------------------------------------


def test_retries_failures_make_it_unhealthy_and_a_success_healthy() -> None:
    state = HealthState(_config(Retries=2))
    assert state.status == STARTING
    assert not state.record(_result(1), 1.0)
    assert (state.status, state.failing_streak) == (STARTING, 1)
    assert state.record(_result(1), 2.0)
    assert (state.status, state.failing_streak) == (UNHEALTHY, 2)
    state.record(_result(7), 3.0)
    assert (state.status, state.failing_streak) == (UNHEALTHY, 3)
    assert state.record(_result(0), 4.0)
    assert (state.status, state.failing_streak) == (HEALTHY, 0)


def test_a_healthy_container_needs_retries_failures_too() -> None:
    state = HealthState(_config(Retries=3))
    state.record(_result(0), 1.0)
    state.record(_result(1), 2.0)
    state.record(_result(-1), 3.0)
    assert (state.status, state.failing_streak) == (HEALTHY, 2)
    state.record(_result(1), 4.0)
    assert state.status == UNHEALTHY


def test_failures_in_the_start_period_do_not_count_while_starting() -> None:
    state = HealthState(_config(StartPeriod=10 * S, Retries=1))
    for since in (1.0, 5.0, 9.9):
        state.record(_result(1), since)
    assert (state.status, state.failing_streak) == (STARTING, 0)
    state.record(_result(1), 10.0)
    assert (state.status, state.failing_streak) == (UNHEALTHY, 1)


def test_after_a_success_the_start_period_no_longer_protects() -> None:
    state = HealthState(_config(StartPeriod=10 * S, Retries=1))
    state.record(_result(0), 1.0)
    state.record(_result(1), 2.0)
    assert state.status == UNHEALTHY


def test_the_log_keeps_the_last_five_and_survives_a_restart() -> None:
    state = HealthState(_config(Retries=1))
    for code in range(7):
        state.record(_result(code, float(code)), 100.0)
    assert [entry.exit_code for entry in state.log] == [2, 3, 4, 5, 6]
    state.restart()
    assert (state.status, state.failing_streak, len(state.log)) == (STARTING, 0, 5)


def test_document_is_dockers_shape() -> None:
    state = HealthState(_config())
    state.record(Result(0.5, 1.25, 0, "fine\n"), 1.0)
    assert state.document() == {
        "Status": HEALTHY,
        "FailingStreak": 0,
        "Log": [
            {
                "Start": "1970-01-01T00:00:00.500000000Z",
                "End": "1970-01-01T00:00:01.250000000Z",
                "ExitCode": 0,
                "Output": "fine\n",
            }
        ],
    }


def test_intervals() -> None:
    plain = HealthState(_config(Interval=2 * S))
    assert plain.next_interval(0.0) == 2.0
    state = HealthState(_config(Interval=10 * S, StartPeriod=60 * S, StartInterval=1 * S))
    assert state.next_interval(0.0) == 1.0  # starting, in the start period
    assert state.next_interval(55.0) == 5.0  # never past the start period's end
    assert state.next_interval(60.0) == 10.0
    state.record(_result(0), 1.0)
    assert state.next_interval(5.0) == 10.0  # healthy: the normal interval


# -- the checker, with host processes as probes -----------------------------------------------


def _host_spawn(argv: list[str], output_fd: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output_fd, stderr=output_fd)


class _Loop:
    """The monitor's loop, reduced to what the checker needs."""

    def __init__(self, config: HealthConfig) -> None:
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.changes = 0
        self.checker = HealthChecker(
            config,
            _host_spawn,
            selector=self.selector,
            wake=self._wake,
            on_change=self._changed,
        )

    def _wake(self) -> None:
        os.write(self.wake_w, b"\0")

    def _changed(self) -> None:
        self.changes += 1

    def run_until(self, done: Callable[[], bool], seconds: float = 10.0) -> None:
        end = time.monotonic() + seconds
        while not done():
            assert time.monotonic() < end, "the checker did not get there in time"
            due = self.checker.deadline()
            timeout = 0.05 if due is None else min(0.05, max(0.0, due - time.monotonic()))
            for key, _ in self.selector.select(timeout):
                if key.data == "wake":
                    os.read(self.wake_r, 4096)
                elif key.data == "health":
                    self.checker.readable()
            self._reap()
            self.checker.tick()

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.checker.reaped(pid, status)

    def close(self) -> None:
        self.checker.stop()
        self._reap()
        self.selector.close()
        os.close(self.wake_r)
        os.close(self.wake_w)


def _loop(test: list[str], **overrides: object) -> _Loop:
    config = HealthConfig.parse({"Test": test, **overrides})
    assert config is not None
    return _Loop(config)


def test_checker_records_exit_codes_and_output() -> None:
    loop = _loop(["CMD-SHELL", "echo out; echo err >&2; exit 3"], Interval=50 * MS, Retries=2)
    try:
        loop.checker.begin()
        state = loop.checker.state
        loop.run_until(lambda: state.status == UNHEALTHY)
        assert [entry.exit_code for entry in state.log] == [3, 3]
        assert state.log[-1].output == "out\nerr\n"
        assert state.log[0].start <= state.log[0].end <= state.log[1].start
        assert loop.changes == 2
    finally:
        loop.close()


def test_checker_kills_a_probe_at_its_timeout() -> None:
    loop = _loop(["CMD-SHELL", "echo begun; exec sleep 30"], Interval=20 * MS, Timeout=200 * MS)
    try:
        loop.checker.begin()
        state = loop.checker.state
        started = time.monotonic()
        loop.run_until(lambda: len(state.log) == 1)
        assert time.monotonic() - started < 5
        assert state.log[0].exit_code == -1
        assert state.log[0].output == "Health check exceeded timeout (200ms): begun\n"
    finally:
        loop.close()


def test_checker_reports_a_probe_that_cannot_start() -> None:
    loop = _loop(["CMD", "/nonexistent/probe"], Interval=20 * MS, Retries=1)
    try:
        loop.checker.begin()
        loop.run_until(lambda: loop.checker.state.status == UNHEALTHY)
        entry = loop.checker.state.log[0]
        assert entry.exit_code == -1
        assert "/nonexistent/probe" in entry.output
    finally:
        loop.close()


def test_checker_keeps_reading_a_chatty_probe() -> None:
    """More than a pipe's worth of output: read and dropped, so the probe never blocks."""
    loop = _loop(["CMD-SHELL", "head -c 300000 /dev/zero; exit 0"], Interval=20 * MS)
    try:
        loop.checker.begin()
        loop.run_until(lambda: loop.checker.state.status == HEALTHY)
        assert loop.checker.state.log[0].output == "\0" * 4096 + "..."
    finally:
        loop.close()


def test_stop_forgets_the_probe_in_flight() -> None:
    loop = _loop(["CMD-SHELL", "exec sleep 30"], Interval=10 * MS)
    try:
        loop.checker.begin()
        loop.run_until(
            lambda: loop.checker.deadline() is not None and loop.checker._probe is not None
        )
        loop.checker.stop()
        assert loop.checker.deadline() is None
        time.sleep(0.2)
        loop.checker.tick()
        assert loop.checker.state.log == []
    finally:
        loop.close()
