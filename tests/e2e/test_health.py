"""Healthchecks run by the container's monitor, seen through `berth inspect` and `berth ps`.

Short intervals keep these fast; every container a test starts is removed by it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.store import Berth


def _state(berth: Berth, name: str) -> dict[str, Any]:
    result = berth("inspect", name)
    assert result.returncode == 0, result.stderr
    state: dict[str, Any] = json.loads(result.stdout)[0]["State"]
    return state


def _health(berth: Berth, name: str) -> dict[str, Any]:
    health: dict[str, Any] = _state(berth, name).get("Health") or {}
    return health


def _until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.05)


def _status_column(berth: Berth, name: str) -> str:
    result = berth("ps", "--filter", f"name={name}", "--format", "{{.Status}}")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _names(berth: Berth, health: str) -> list[str]:
    result = berth("ps", "-a", "--filter", f"health={health}", "--format", "{{.Names}}")
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_starting_unhealthy_then_healthy(berth: Berth, busybox: str) -> None:
    run = berth(
        "run",
        "-d",
        "--name",
        "probed",
        "--health-cmd",
        "echo probing; test -f /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        busybox,
        "sleep",
        "60",
    )
    assert run.returncode == 0, run.stderr
    try:
        # The first probe runs one interval after the start ("starting" until then: the
        # start-period test below sees that state without racing the 200 ms).
        _until(lambda: _health(berth, "probed")["Status"] == "unhealthy")
        health = _health(berth, "probed")
        assert health["FailingStreak"] >= 2
        last = health["Log"][-1]
        assert last["ExitCode"] == 1
        assert last["Output"] == "probing\n"
        assert last["Start"] <= last["End"]
        assert _status_column(berth, "probed").endswith("(unhealthy)")
        assert _names(berth, "unhealthy") == ["probed"]
        assert _names(berth, "healthy") == []

        assert berth("exec", "probed", "touch", "/tmp/ok").returncode == 0
        _until(lambda: _health(berth, "probed")["Status"] == "healthy")
        health = _health(berth, "probed")
        assert health["FailingStreak"] == 0
        assert health["Log"][-1]["ExitCode"] == 0
        assert len(health["Log"]) <= 5
        _until(lambda: len(_health(berth, "probed")["Log"]) == 5)
        assert _status_column(berth, "probed").endswith("(healthy)")
        assert _names(berth, "healthy") == ["probed"]
        assert _names(berth, "none") == []
    finally:
        assert berth("rm", "-f", "probed").returncode == 0


def test_a_probe_past_its_timeout_fails(berth: Berth, busybox: str) -> None:
    run = berth(
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "echo started; sleep 5",
        "--health-interval",
        "100ms",
        "--health-timeout",
        "300ms",
        "--health-retries",
        "1",
        busybox,
        "sleep",
        "60",
    )
    assert run.returncode == 0, run.stderr
    try:
        began = time.monotonic()
        _until(lambda: _health(berth, "slow")["Status"] == "unhealthy")
        assert time.monotonic() - began < 4  # killed at the timeout, not after 5 s
        last = _health(berth, "slow")["Log"][-1]
        assert last["ExitCode"] == -1
        assert last["Output"] == "Health check exceeded timeout (300ms): started\n"
        top = berth("exec", "slow", "ps", "-o", "args")
        assert top.stdout.count("sleep 5") <= 1  # timed-out probes are killed, not piled up
    finally:
        assert berth("rm", "-f", "slow").returncode == 0


def test_no_healthcheck_shows_no_health(berth: Berth, busybox: str) -> None:
    run = berth("run", "-d", "--name", "plain", "--no-healthcheck", busybox, "sleep", "60")
    assert run.returncode == 0, run.stderr
    try:
        state = _state(berth, "plain")
        assert state["Running"] is True
        assert "Health" not in state
        status = _status_column(berth, "plain")
        assert status.startswith("Up ") and "(" not in status
        assert _names(berth, "none") == ["plain"]
        assert berth("ps", "--filter", "health=bogus").returncode != 0
    finally:
        assert berth("rm", "-f", "plain").returncode == 0


def test_failures_in_the_start_period_do_not_count(berth: Berth, busybox: str) -> None:
    """Failures inside the start period don't count: the container stays `starting`, probed
    at the start interval."""
    run = berth(
        "run",
        "-d",
        "--name",
        "patient",
        "--health-cmd",
        "false",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "--health-start-period",
        "60s",
        "--health-start-interval",
        "100ms",
        busybox,
        "sleep",
        "60",
    )
    assert run.returncode == 0, run.stderr
    try:
        _until(lambda: len(_health(berth, "patient")["Log"]) >= 3)
        health = _health(berth, "patient")
        assert health["Status"] == "starting"
        assert health["FailingStreak"] == 0
        assert health["Log"][-1]["ExitCode"] == 1
        assert _status_column(berth, "patient").endswith("(health: starting)")
        assert _names(berth, "starting") == ["patient"]
        assert _names(berth, "unhealthy") == []
    finally:
        assert berth("rm", "-f", "patient").returncode == 0


def test_no_probes_while_paused(berth: Berth, busybox: str) -> None:
    run = berth(
        "run",
        "-d",
        "--name",
        "frozen",
        "--health-cmd",
        "true",
        "--health-interval",
        "100ms",
        busybox,
        "sleep",
        "60",
    )
    assert run.returncode == 0, run.stderr
    try:
        _until(lambda: _health(berth, "frozen")["Status"] == "healthy")
        assert berth("pause", "frozen").returncode == 0
        time.sleep(0.3)  # a probe in flight at the pause may still end
        before = _health(berth, "frozen")["Log"]
        time.sleep(0.6)
        assert _health(berth, "frozen")["Log"] == before
        assert _status_column(berth, "frozen").endswith("(Paused)")
        assert berth("unpause", "frozen").returncode == 0
        _until(lambda: _health(berth, "frozen")["Log"] != before)
        assert _health(berth, "frozen")["Status"] == "healthy"
    finally:
        assert berth("rm", "-f", "frozen").returncode == 0
