"""Monitors forked by the store's zygote (`berth.monitor.zygote`): one zygote per store, its
monitors holding their containers as spawned ones do, a zygote killed or gone replaced by
the next start, and nobody but its own user served."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from berth.monitor import launch
from berth.monitor.zygote import linger_seconds
from berth.sys import CLONE_NEWNET, setns
from tests.fixtures.netns import HostNamespace
from tests.fixtures.procs import parent_of
from tests.fixtures.store import Berth, zygotes

SETTLE_SECONDS = 10


@pytest.fixture(autouse=True)
def _berths_own_monitor(monkeypatch: pytest.MonkeyPatch) -> None:
    """These containers are held by berth's own monitor (forked by the zygote), not by conmon
    (`berth.monitor.choice`): set before the `berth` fixture copies the environment."""
    monkeypatch.setenv("BERTH_MONITOR", "berth")


def _monitor_of(berth: Berth, name: str) -> int:
    pid = int(json.loads(berth("inspect", name).stdout)[0]["State"]["Pid"])
    return parent_of(pid)


def _until(predicate: object, what: str) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {SETTLE_SECONDS} s: {what}")
        time.sleep(0.05)


def _run(berth: Berth, name: str, image: str) -> None:
    started = berth("run", "-d", "--name", name, "--network", "none", image, "sleep", "60")
    assert started.returncode == 0, started.stderr


def test_one_zygote_forks_the_monitors_then_leaves_after_them(berth: Berth, busybox: str) -> None:
    _run(berth, "first", busybox)  # no zygote yet: one is started, and forks this monitor
    [zygote] = zygotes(berth.store)
    _run(berth, "second", busybox)
    _run(berth, "third", busybox)
    assert parent_of(_monitor_of(berth, "first")) == zygote
    assert parent_of(_monitor_of(berth, "second")) == zygote
    assert parent_of(_monitor_of(berth, "third")) == zygote
    # A forked monitor holds its container as a spawned one does: output, stop (pid 1
    # ignores SIGTERM: killed after the timeout), exit code.
    assert berth("exec", "third", "sh", "-c", "echo hello; exit 3").stdout == "hello\n"
    assert berth("stop", "-t", "1", "second").returncode == 0
    assert berth("inspect", "-f", "{{.State.ExitCode}}", "second").stdout.strip() == "137"
    ran = berth("run", "--rm", "--network", "none", busybox, "sh", "-c", "echo out; exit 5")
    assert (ran.returncode, ran.stdout) == (5, "out\n")
    assert len(berth("ps", "-aq").stdout.split()) == 3  # the --rm one is gone
    assert zygotes(berth.store) == [zygote]
    assert berth("rm", "-f", "first", "second", "third").returncode == 0
    started = time.monotonic()
    _until(lambda: not zygotes(berth.store), "the zygote leaves once its monitors have")
    assert time.monotonic() - started < linger_seconds() + 3


def test_an_idle_zygote_stays_as_long_as_asked_and_serves_the_next_command(
    berth: Berth, busybox: str
) -> None:
    """Idle after its last monitor, the zygote stays (BERTH_ZYGOTE_LINGER, 30 s by default):
    a command meanwhile gets its monitor from it, not from a new interpreter."""
    linger = {"BERTH_ZYGOTE_LINGER": "5"}
    first = berth("run", "--rm", "--network", "none", busybox, "true", env=linger)
    assert first.returncode == 0, first.stderr
    [zygote] = zygotes(berth.store)
    time.sleep(3)  # longer than a test session's own linger (2 s)
    assert zygotes(berth.store) == [zygote]
    _run(berth, "next", busybox)
    assert parent_of(_monitor_of(berth, "next")) == zygote
    assert berth("rm", "-f", "next").returncode == 0
    gone = time.monotonic()
    _until(lambda: not zygotes(berth.store), "the zygote leaves once idle for as long as asked")
    assert 4 < time.monotonic() - gone < 5 + 3


def test_the_linger_is_thirty_seconds_unless_asked_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for value, expected in ((None, 30.0), ("5", 5.0), ("0", 0.0), ("x", 30.0), ("-1", 30.0)):
        if value is None:
            monkeypatch.delenv("BERTH_ZYGOTE_LINGER", raising=False)
        else:
            monkeypatch.setenv("BERTH_ZYGOTE_LINGER", value)
        assert linger_seconds() == expected, value
    monkeypatch.setenv("BERTH_ZYGOTE_LINGER", "600")  # longer than a zygote is ever kept
    assert linger_seconds() == 30.0


def test_a_zygote_killed_leaves_its_monitors_and_a_new_one_takes_over(
    berth: Berth, busybox: str
) -> None:
    _run(berth, "before", busybox)
    _until(lambda: len(zygotes(berth.store)) == 1, "the zygote serves")
    _run(berth, "forked", busybox)
    [zygote] = zygotes(berth.store)
    os.kill(zygote, signal.SIGKILL)
    _until(lambda: not zygotes(berth.store), "the killed zygote is gone")
    monitor = _monitor_of(berth, "forked")  # reparented, still holding its container
    assert berth("exec", "forked", "true").returncode == 0
    _run(berth, "after", busybox)  # spawned again meanwhile, and a new zygote started
    _until(lambda: len(zygotes(berth.store)) == 1, "a new zygote serves")
    assert zygotes(berth.store) != [zygote]
    assert berth("rm", "-f", "forked").returncode == 0
    _until(lambda: not Path(f"/proc/{monitor}").exists(), "the forked monitor ends with it")
    assert berth("rm", "-f", "before", "after").returncode == 0
    _until(lambda: not zygotes(berth.store), "the new zygote leaves")


def test_a_zygote_serves_only_its_own_user(
    berth: Berth, busybox: str, host_ns: HostNamespace
) -> None:
    _run(berth, "held", busybox)  # keeps the zygote up meanwhile
    _until(lambda: len(zygotes(berth.store)) == 1, "the zygote serves")
    name = launch.zygote_address(str(berth.store.runroot))
    environment = {"PATH": "/usr/bin:/bin"}
    answers = {}
    for uid in (0, 65534):
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # the zygote lives in the test's network namespace: enter it first
            os.close(read_end)
            code = 2
            try:
                with open(host_ns.path, "rb") as namespace:
                    setns(namespace.fileno(), CLONE_NEWNET)
                os.setgid(uid)
                os.setuid(uid)
                ours, theirs = socket.socketpair()
                # As a launcher asks, without its own check of the zygote's user.
                request = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                request.connect("\0" + name)  # anyone may connect
                message = launch.encode_environment(environment)
                try:
                    socket.send_fds(request, [message], [theirs.fileno()])
                    code = int(request.recv(64).isdigit())
                except (ConnectionResetError, BrokenPipeError):  # refused: closed on it
                    code = 0
                ours.close()  # a monitor forked for it reads end-of-file and leaves
            finally:
                os.write(write_end, str(code).encode())
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as answer:
            answers[uid] = answer.read()
        os.waitpid(child, 0)
    assert answers == {0: b"1", 65534: b"0"}
    assert berth("rm", "-f", "held").returncode == 0
    _until(lambda: not zygotes(berth.store), "the zygote leaves")


def test_the_environment_travels_as_sent() -> None:
    sent = {"PATH": "/bin", "EMPTY": "", "WITH_EQUALS": "a=b=c", "UNICODE": "é"}
    assert launch.decode_environment(launch.encode_environment(sent)) == sent
    assert launch.decode_environment(b"") == {}
    for junk in (b"\xff=1", b"NOEQUALS", b"=value", b"A=1\0\0B=2"):
        assert launch.decode_environment(junk) is None


def test_a_zygote_that_does_not_answer_costs_a_wait_not_the_start(
    berth: Berth, busybox: str
) -> None:
    _run(berth, "held", busybox)
    [zygote] = zygotes(berth.store)
    os.kill(zygote, signal.SIGSTOP)  # hung: it takes the request but answers nothing
    try:
        started = time.monotonic()
        _run(berth, "spawned", busybox)
        assert time.monotonic() - started >= launch.ANSWER_SECONDS
        assert parent_of(_monitor_of(berth, "spawned")) != zygote
        assert berth("exec", "spawned", "true").returncode == 0
    finally:
        os.kill(zygote, signal.SIGCONT)  # it forks the abandoned request's monitor: it leaves
    assert berth("rm", "-f", "held", "spawned").returncode == 0
    _until(lambda: not zygotes(berth.store), "the zygote leaves")


def test_a_name_held_by_another_user_gets_nothing(
    berth: Berth, busybox: str, host_ns: HostNamespace
) -> None:
    """An abstract socket name is anyone's to bind: a squatter of another user listening
    there first gets no channel and no environment; monitors are spawned instead."""
    name = launch.zygote_address(str(berth.store.runroot))
    ready_r, ready_w = os.pipe()
    told_r, told_w = os.pipe()
    squatter = os.fork()
    if squatter == 0:  # listens as nobody, in the namespace the CLI runs in, until killed
        os.close(ready_r)
        os.close(told_r)
        try:
            with open(host_ns.path, "rb") as namespace:
                setns(namespace.fileno(), CLONE_NEWNET)
            os.setgid(65534)
            os.setuid(65534)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            listener.bind("\0" + name)
            listener.listen(8)
            os.write(ready_w, b"1")
            while True:
                connection, _ = listener.accept()
                connection.settimeout(1)
                try:
                    data, fds, _, _ = socket.recv_fds(connection, 65536, 4)
                except OSError:
                    continue
                if data or fds:
                    os.write(told_w, b"given something")
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(told_w)
    try:
        assert os.read(ready_r, 1) == b"1"
        _run(berth, "spawned", busybox)
        monitor = _monitor_of(berth, "spawned")
        assert Path(f"/proc/{monitor}/status").read_text().count("Uid:\t0\t") == 1
        assert berth("exec", "spawned", "true").returncode == 0
        assert zygotes(berth.store) == []  # none of ours: the name is taken
    finally:
        os.kill(squatter, signal.SIGKILL)
        os.waitpid(squatter, 0)
        with os.fdopen(told_r, "rb") as told:
            verdict = told.read()
        os.close(ready_r)
    assert verdict == b""  # connected to, maybe, but given nothing
    assert berth("rm", "-f", "spawned").returncode == 0
