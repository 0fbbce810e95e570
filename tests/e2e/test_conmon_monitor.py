"""Containers held by conmon (`BERTH_MONITOR=conmon`, `berth.monitor.conmon`): Debian's conmon
runs berth-runtime, logs the output, reaps the container and runs berth's exit command, and
every command a user types sees the container as under berth's own monitor. The container
tests of tests/e2e and tests/api also pass with BERTH_MONITOR=conmon in the environment (the
README's "Tests" names them)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.forward import LoopbackForward
from tests.fixtures.images import Catalogue
from tests.fixtures.netns import HostNamespace
from tests.fixtures.procs import parent_of, running
from tests.fixtures.registry import free_port
from tests.fixtures.store import Berth, Store

pytestmark = pytest.mark.skipif(shutil.which("conmon") is None, reason="conmon is not installed")

CONMON = {"BERTH_MONITOR": "conmon"}
WAIT_SECONDS = 10
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"  # Docker's, in UTC


def _run(berth: Berth, *args: str) -> str:
    result = berth("run", "-d", *args, env=CONMON)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _state(berth: Berth, name: str) -> dict:  # type: ignore[type-arg]
    result = berth("inspect", name)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]["State"]  # type: ignore[no-any-return]


def _monitor_name(pid: int) -> str:
    return Path(f"/proc/{parent_of(pid)}/comm").read_text().strip()


def _until(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_detached_container_is_held_by_conmon(
    berth: Berth, busybox: str, store: Store, host_ns: HostNamespace
) -> None:
    script = "echo out; echo err >&2; printf partial; exec sleep 300"
    container = _run(berth, "--name", "held", busybox, "sh", "-c", script)
    pid = int(_state(berth, "held")["Pid"])
    assert _monitor_name(pid) == "conmon"
    monitor = parent_of(pid)
    assert berth("ps", "--format", "{{.Names}} {{.Status}}").stdout.startswith("held Up")
    _until(lambda: berth("logs", "held").stdout == "out\npartial", "the output is logged")
    logs = berth("logs", "held")
    assert (logs.stdout, logs.stderr) == ("out\npartial", "err\n")
    stamped = berth("logs", "-t", "--tail", "3", "held")
    assert re.fullmatch(f"{STAMP} out\n{STAMP} partial", stamped.stdout)
    assert re.fullmatch(f"{STAMP} err\n", stamped.stderr)
    assert berth("logs", "--tail", "1", "held").stdout in ("partial", "")  # or stderr's err
    assert berth("exec", "held", "cat", "/proc/1/cmdline").stdout == "sleep\x00300\x00"
    address = json.loads(berth("inspect", "held").stdout)[0]["NetworkSettings"]["IPAddress"]
    assert address  # on the default bridge
    assert berth("stop", "-t", "1", "held").returncode == 0
    state = _state(berth, "held")
    assert (state["Status"], state["ExitCode"], state["OOMKilled"]) == ("exited", 137, False)
    assert not running(monitor)  # stop returns once the exit command has released it all
    assert json.loads(berth("inspect", "held").stdout)[0]["NetworkSettings"]["IPAddress"] == ""
    assert not [d for d in host_ns.devices() if d.startswith("veth")]
    assert not os.path.ismount(store.root / "containers" / container / "rootfs")
    events = berth("events", "--since", "1m", "--until", "0s", "--filter", "container=held")
    actions = [line.split()[2] for line in events.stdout.splitlines()]
    assert actions[:2] == ["create", "start"] and "die" in actions
    assert berth("start", "held", env=CONMON).returncode == 0  # again, under a new conmon
    assert _monitor_name(int(_state(berth, "held")["Pid"])) == "conmon"
    assert berth("rm", "-f", "held").returncode == 0


def test_exit_codes_and_starts_that_fail(berth: Berth, busybox: str) -> None:
    _run(berth, "--name", "three", "--network", "none", busybox, "sh", "-c", "exit 3")
    assert berth("wait", "three").stdout == "3\n"
    for command, code, words in [
        ("no-such-command", 127, 'exec: "no-such-command": executable file not found in $PATH'),
        ("/etc", 126, 'exec: "/etc": is a directory'),
    ]:
        failed = berth("run", "-d", "--network", "none", busybox, command, env=CONMON)
        assert (failed.returncode, failed.stderr) == (code, f"Error: {words}\n")
    listed = berth("ps", "-a", "--format", "{{.Status}}").stdout.split("\n")
    assert sorted(line.split(" ")[1] for line in listed if line) == ["(126)", "(127)", "(3)"]


def test_the_oom_killer_is_recorded(berth: Berth, busybox: str) -> None:
    hog = "x=a; while true; do x=$x$x; done"
    _run(berth, "--name", "hog", "-m", "32m", "--network", "none", busybox, "sh", "-c", hog)
    assert berth("wait", "hog", timeout=60).stdout == "137\n"
    assert _state(berth, "hog")["OOMKilled"] is True
    events = berth("events", "--since", "1m", "--until", "0s", "--filter", "container=hog")
    actions = [line.split()[2] for line in events.stdout.splitlines()]
    assert actions[-2:] == ["oom", "die"]


def test_rm_removes_the_container_once_it_exits(berth: Berth, busybox: str, store: Store) -> None:
    container = _run(berth, "--rm", busybox, "sh", "-c", "sleep 0.2")
    _until(lambda: berth("ps", "-aq").stdout == "", "the container is removed")
    assert not (store.runroot / "containers" / container).exists()
    assert not (store.root / "containers" / container).exists()


def _processes_naming(word: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if proc.name.isdigit() and word in line:
            found.append(line)
    return found


def _running_named(*names: str) -> list[int]:
    return [
        int(entry)
        for entry in os.listdir("/proc")
        if entry.isdigit() and running(int(entry)) and _comm(int(entry)) in names
    ]


def test_a_start_that_fails_after_conmon_was_spawned_leaves_nothing(
    berth: Berth, busybox: str, store: Store
) -> None:
    """conmon is spawned ahead of the network's set-up (its runtime waits for the bundle);
    a start that fails after that cancels it: no conmon or runtime waits on, the container
    is created with the error, and a start that can succeed then does, under conmon."""
    assert berth("create", "--name", "other", "--network", "none", busybox, "true").returncode == 0
    made = berth(
        "create", "--name", "joiner", "--network", "container:other", busybox, "sleep", "300"
    )
    assert made.returncode == 0, made.stderr
    joiner = made.stdout.strip()
    failed = berth("start", "joiner", env=CONMON)
    assert failed.returncode != 0
    assert "cannot join network of a non running container" in failed.stderr
    _until(lambda: not _processes_naming(joiner), "no conmon or runtime of it is left")
    assert not (store.runroot / "containers" / joiner / "gate").exists()
    assert _state(berth, "joiner")["Status"] == "created"
    assert berth("start", "other", env=CONMON).returncode == 0  # `true`: it ends at once
    assert berth("rm", "joiner").returncode == 0
    _run(berth, "--name", "joined", "--network", "none", busybox, "sleep", "300")
    assert _monitor_name(int(_state(berth, "joined")["Pid"])) == "conmon"
    # `run -d` spawns conmon as it creates the container: a create that fails after (the
    # name taken, found as the row is added) cancels it and leaves no run directory
    runs = set(os.listdir(store.runroot / "containers"))
    again = berth("run", "-d", "--name", "joined", "--network", "none", busybox, "true", env=CONMON)
    assert again.returncode == 125 and "is already in use" in again.stderr
    _until(lambda: len(_running_named("conmon", "berth-runtime")) == 1, "the second is gone")
    assert set(os.listdir(store.runroot / "containers")) == runs
    # spawned before the engine loads: an error before the create cancels it too
    made = set(os.listdir(store.root / "containers"))
    missing = berth("run", "-d", "--pull", "never", "no-such-image", "true", env=CONMON)
    assert missing.returncode == 125 and "No such image" in missing.stderr
    _until(lambda: len(_running_named("conmon", "berth-runtime")) == 1, "its conmon is gone")
    assert set(os.listdir(store.runroot / "containers")) == runs
    assert set(os.listdir(store.root / "containers")) == made
    assert berth("rm", "-f", "joined", "other").returncode == 0


def _run_d_pulling(
    berth: Berth, registry: Catalogue, host_ns: HostNamespace, name: str, reference: str
) -> subprocess.CompletedProcess[str]:
    """`run -d` under conmon of an image it pulls from the test registry (reached from the
    test's network namespace through a loopback forward)."""
    forward = LoopbackForward(host_ns.path, int(registry.host.rpartition(":")[2]))
    try:
        ran = berth("run", "-d", "--name", name, "--network", "none", reference,
                    "sleep", "300", env=CONMON)  # fmt: skip
    finally:
        forward.close()
    assert ran.returncode == 0, ran.stderr
    return ran


def test_run_d_of_an_image_to_pull_is_held_by_conmon(
    berth: Berth, registry: Catalogue, host_ns: HostNamespace, busybox: str
) -> None:
    """`run -d` spawns conmon before the engine loads, with the id it gives the create; an
    image pulled meanwhile (a pull may outlast the runtime's wait for the bundle) makes it
    spawn another at the start: one conmon holds the container, none is left waiting."""
    reference = registry["app-a"].reference  # not pulled yet (busybox made the store)
    ran = _run_d_pulling(berth, registry, host_ns, "pulled", reference)
    assert "Unable to find image" in ran.stderr
    assert _monitor_name(int(_state(berth, "pulled")["Pid"])) == "conmon"
    _until(lambda: len(_running_named("conmon", "berth-runtime")) == 1, "one conmon, no runtime")
    assert berth("rm", "-f", "pulled").returncode == 0


def test_the_first_run_d_of_a_new_store_under_conmon(
    berth: Berth, registry: Catalogue, host_ns: HostNamespace
) -> None:
    """Nothing of a container is made before the store is: a new store's first `run -d`
    spawns conmon at the start, once the engine has made the store."""
    _run_d_pulling(berth, registry, host_ns, "first", registry["base"].reference)
    assert _monitor_name(int(_state(berth, "first")["Pid"])) == "conmon"
    assert berth("rm", "-f", "first").returncode == 0


def test_rm_f_says_the_end_once_whoever_says_it(berth: Berth, busybox: str) -> None:
    """`rm -f` of a running container: its exit command leaves at once and the remover says
    its end; of one that ended on its own: the exit command said it. One die either way,
    before the destroy."""
    _run(berth, "--name", "killed", "--network", "none", busybox, "sleep", "300")
    _run(berth, "--name", "ended", "--network", "none", busybox, "sh", "-c", "exit 4")
    assert berth("wait", "ended").stdout == "4\n"
    for name in ("killed", "ended"):
        assert berth("rm", "-f", name).returncode == 0
    for name, code in (("killed", "137"), ("ended", "4")):
        events = berth(
            "events", "--since", "1m", "--until", "0s", "--filter", f"container={name}",
            "--format", "{{json .}}",
        )  # fmt: skip
        seen = [json.loads(line) for line in events.stdout.splitlines()]
        ending = [event["Action"] for event in seen if event["Action"] != "kill"][2:]
        assert ending == ["die", "destroy"], seen
        die = next(event for event in seen if event["Action"] == "die")
        assert die["Actor"]["Attributes"]["exitCode"] == code
        assert die["Actor"]["Attributes"]["name"] == name


def test_a_published_port_is_held_while_it_runs(
    berth: Berth, busybox: str, host_ns: HostNamespace
) -> None:
    port = free_port()
    _run(berth, "--name", "web", "-p", f"{port}:80", busybox, "sleep", "300")
    pid = int(_state(berth, "web")["Pid"])
    assert _monitor_name(pid) == "conmon"
    probe = f"import socket; socket.socket().bind(('0.0.0.0', {port}))"
    assert host_ns.run("python3", "-c", probe).returncode != 0  # held: busy
    assert berth("stop", "-t", "0", "web").returncode == 0
    assert host_ns.run("python3", "-c", probe).returncode == 0  # free right after
    assert berth("rm", "web").returncode == 0


def test_attach_and_its_exit_code(berth: Berth, busybox: str) -> None:
    script = "sleep 1; echo out; echo err >&2; exit 5"
    _run(berth, "--name", "talk", "--network", "none", busybox, "sh", "-c", script)
    attached = berth("attach", "talk")
    assert (attached.returncode, attached.stdout, attached.stderr) == (5, "out\n", "err\n")


def test_a_signal_reaches_the_container_through_attach(berth: Berth, busybox: str) -> None:
    script = "trap 'echo got term; exit 9' TERM; while true; do sleep 0.1; done"
    _run(berth, "--name", "trap", "--network", "none", busybox, "sh", "-c", script)
    attach = berth.popen("attach", "trap", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1)  # connected
        attach.send_signal(signal.SIGTERM)  # --sig-proxy: forwarded to pid 1
        out, _ = attach.communicate(timeout=WAIT_SECONDS)
    finally:
        if attach.poll() is None:
            attach.kill()
            attach.wait()
    assert (attach.returncode, out) == (9, "got term\n")


def test_a_terminal_attached_from_the_start_starts_it(
    berth: Berth, busybox: str, store: Store
) -> None:
    """`run -it`: conmon holds the container, which waits for its first client's greeting
    (what it writes first is not lost); ctrl-p ctrl-q leaves it running under conmon, and
    `attach` comes back to it; `start -a -i` starts it again the same way; `run -it --rm` is
    removed (by conmon's exit command) before the command returns."""
    from tests.e2e.test_containers import Terminal

    shell = ["--network", "none", busybox, "sh", "-c", "echo first; exec sh"]
    terminal = Terminal(berth.argv("run", "-it", "--name", "shell", *shell))
    try:
        terminal.wait_for(b"first")
        terminal.type(b"echo size $(stty size)\r")
        terminal.wait_for(b"size 33 111")
        terminal.type(b"\x10\x11")  # ctrl-p ctrl-q
    finally:
        assert terminal.close() == 0
    assert _state(berth, "shell")["Status"] == "running"
    assert _monitor_name(int(_state(berth, "shell")["Pid"])) == "conmon"
    _attach_again_and_exit(berth, "shell", 4)
    started = Terminal(berth.argv("start", "-a", "-i", "shell"))
    try:
        started.wait_for(b"first")
        started.type(b"exit 5\r")
    finally:
        assert started.close() == 5
    container = berth("inspect", "-f", "{{.Id}}", "shell").stdout.strip()
    assert (store.runroot / "containers" / container / "conmon.pid").exists()
    removed = Terminal(berth.argv("run", "-it", "--rm", "--network", "none", busybox, "true"))
    assert removed.close() == 0
    assert berth("ps", "-aq", "--no-trunc").stdout.split() == [container]
    assert berth("rm", "shell").returncode == 0


def test_what_conmon_does_not_cover_stays_with_berths_monitor(berth: Berth, busybox: str) -> None:
    foreground = berth("run", "--name", "fg", "--network", "none", busybox, "sh", "-c",
                       "echo hi; cat /proc/1/status >/dev/null", env=CONMON)  # fmt: skip
    assert (foreground.returncode, foreground.stdout) == (0, "hi\n")
    started = berth("start", "-a", "fg", env=CONMON)  # attached from the start: berth's monitor
    assert (started.returncode, started.stdout) == (0, "hi\n")
    assert berth("logs", "fg").stdout == "hi\nhi\n"
    piped = berth("run", "--rm", "-i", "--network", "none", busybox, "cat", input="x\n", env=CONMON)
    assert (piped.returncode, piped.stdout) == (0, "x\n")  # its client removes it, at once
    assert berth("ps", "-aq").stdout.split() == [berth("inspect", "-f", "{{.Id}}", "fg")
                                                 .stdout.strip()[:12]]  # fmt: skip
    assert berth("rm", "fg").returncode == 0


def test_rotated_files_are_kept_by_the_supervisor(berth: Berth, busybox: str, store: Store) -> None:
    """max-file > 1: conmon is given no size limit; the store's supervisor renames its full
    log to `.1` (the older ones along) and has conmon reopen it. A file passes max-size by
    what is written between two of its looks (20 ms); `logs` reads every kept file, whole
    and in order, across a restart too."""
    script = (
        "r=1; [ -e /ran ] && r=2; touch /ran;"
        " i=0; while [ $i -lt 600 ]; do echo line-$i-run$r-some-padding-to-make-it-longer;"
        " i=$((i+1)); [ $((i % 40)) = 0 ] && sleep 0.1; done"
    )
    rotated = ["--log-opt", "max-size=8k", "--log-opt", "max-file=3"]
    container = _run(berth, "--name", "rotated", *rotated, "--network", "none", busybox,
                     "sh", "-c", script + "; sleep 300")  # fmt: skip
    assert _monitor_name(int(_state(berth, "rotated")["Pid"])) == "conmon"
    _until(lambda: "line-599-" in berth("logs", "rotated").stdout, "the last line is logged")
    log = store.root / "containers" / container / f"{container}-json.log"
    names = sorted(p.name for p in log.parent.iterdir() if p.name.startswith(log.name))
    assert names == [log.name, f"{log.name}.1", f"{log.name}.2", f"{log.name}.base"]
    for older in (f"{log.name}.1", f"{log.name}.2"):
        assert 8192 <= log.with_name(older).stat().st_size < 8192 + 8192, older
    numbers = [int(line.split("-")[1]) for line in berth("logs", "rotated").stdout.splitlines()]
    assert numbers[-1] == 599 and numbers[0] > 0
    assert numbers == list(range(numbers[0], 600))  # the newest, in order, none missing
    assert berth("restart", "-t", "0", "rotated").returncode == 0  # rotated again from its start
    _until(lambda: "line-599-run2-" in berth("logs", "rotated").stdout, "the second run")
    lines = berth("logs", "rotated").stdout.splitlines()
    assert "-run1-" not in lines[0] and len(lines) < 600  # only the newest files are kept
    assert [int(line.split("-")[1]) for line in lines] == list(range(600 - len(lines), 600))
    monitor_log = store.runroot / "containers" / container / "monitor.log"
    assert "log rotation" not in monitor_log.read_text()
    assert berth("rm", "-f", "rotated").returncode == 0


def test_an_exit_after_the_supervisor_is_gone_starts_none(
    berth: Berth, busybox: str, store: Store
) -> None:
    """conmon's exit command asks the supervisor that watched a rotated log to finish its
    last rotation; with that supervisor gone (killed), there is nothing to finish: the exit
    is recorded and no supervisor is started for it."""
    rotated = ["--log-opt", "max-size=8k", "--log-opt", "max-file=3", "--network", "none"]
    container = _run(berth, "--name", "kept", *rotated, busybox, "sh", "-c", "echo hi; sleep 300")
    [supervisor] = _supervisors_of(store)
    os.kill(supervisor, signal.SIGKILL)
    _until(lambda: not _supervisors_of(store), "the killed supervisor is gone")
    assert berth("stop", "-t", "0", "kept").returncode == 0
    assert _state(berth, "kept")["Status"] == "exited"
    time.sleep(0.5)  # a supervisor started by the exit would be there now, for 2 s
    assert _supervisors_of(store) == []
    assert berth("logs", "kept").stdout == "hi\n"
    monitor_log = store.runroot / "containers" / container / "monitor.log"
    assert "log rotation" not in monitor_log.read_text()
    assert berth("rm", "kept").returncode == 0


def test_rm_f_while_the_log_rotates_leaves_nothing(
    berth: Berth, busybox: str, store: Store
) -> None:
    """`rm -f` of a container whose log the supervisor is rotating (a rotation every few
    milliseconds) leaves no directory behind."""
    rotated = ["--log-opt", "max-size=4k", "--log-opt", "max-file=2", "--network", "none"]
    chatty = "while true; do echo line-padding-padding-padding-padding; done"
    for round_ in range(3):
        name = f"chatty{round_}"
        container = _run(berth, "--name", name, *rotated, busybox, "sh", "-c", chatty)
        log = store.root / "containers" / container / f"{container}-json.log"
        _until(lambda: log.with_name(f"{log.name}.1").exists(), "a rotation")  # noqa: B023
        removed = berth("rm", "-f", name)
        assert removed.returncode == 0, removed.stderr
        time.sleep(0.1)  # the supervisor's next look
        assert not log.parent.exists(), sorted(p.name for p in log.parent.iterdir())


def test_restart_policies_start_it_again_until_stopped(berth: Berth, busybox: str) -> None:
    _run(berth, "--name", "twice", "--restart", "on-failure:2", "--network", "none", busybox,
         "sh", "-c", "echo run; exit 4")  # fmt: skip
    _until(lambda: berth("inspect", "-f", "{{.State.Status}}", "twice").stdout == "exited\n",
           "the policy gives up")  # fmt: skip
    state = _state(berth, "twice")
    assert (state["ExitCode"], json.loads(berth("inspect", "twice").stdout)[0]["RestartCount"]) == (
        4,
        2,
    )
    assert berth("logs", "twice").stdout == "run\n" * 3
    _run(berth, "--name", "always", "--restart", "always", "--network", "none", busybox,
         "sh", "-c", "sleep 0.2; exit 1")  # fmt: skip
    _until(lambda: json.loads(berth("inspect", "always").stdout)[0]["RestartCount"] >= 2,
           "it is started again")  # fmt: skip
    assert berth("stop", "-t", "1", "always").returncode == 0
    assert _state(berth, "always")["Status"] == "exited"
    time.sleep(1)  # no restart after a stop
    assert _state(berth, "always")["Status"] == "exited"
    assert berth("rm", "always").returncode == 0


def test_a_size_limited_log_begins_again(berth: Berth, busybox: str, store: Store) -> None:
    """max-size with one file (Docker's default max-file): conmon's --log-size-max starts
    the log over, as json-file's rotation to a single file does."""
    script = "for i in $(seq 1 300); do echo line-$i-................................; done"
    container = _run(berth, "--name", "big", "--log-opt", "max-size=2k", "--network", "none",
                     busybox, "sh", "-c", script + "; exec sleep 300")  # fmt: skip
    assert _monitor_name(int(_state(berth, "big")["Pid"])) == "conmon"
    _until(lambda: "line-300-" in berth("logs", "big").stdout, "the last line is logged")
    lines = berth("logs", "big").stdout.splitlines()
    assert lines[-1].startswith("line-300-") and not any(n.startswith("line-1-") for n in lines)
    numbers = [int(line.split("-")[1]) for line in lines]
    assert numbers == list(range(numbers[0], 301))  # the newest, in order, none missing
    log = store.root / "containers" / container / f"{container}-json.log"
    assert log.stat().st_size <= 2048 + 8192  # the limit, and at most one read's records more


def test_a_detached_terminal_to_attach_to_later(berth: Berth, busybox: str) -> None:
    """`run -dit`: conmon holds the pty and stdin; `attach` types into it, its window size
    reaches the container (conmon's ctl), ctrl-p ctrl-q leaves it running, `exit` ends it."""
    from tests.e2e.test_containers import Terminal

    _run(berth, "-it", "--name", "shell", "--network", "none", busybox, "sh")
    assert _monitor_name(int(_state(berth, "shell")["Pid"])) == "conmon"
    terminal = Terminal(berth.argv("attach", "shell"))
    try:
        terminal.type(b"echo size $(stty size)\r")
        terminal.wait_for(b"size 33 111")
        terminal.type(b"\x10\x11")  # ctrl-p ctrl-q
    finally:
        assert terminal.close() == 0
    assert _state(berth, "shell")["Status"] == "running"
    _attach_again_and_exit(berth, "shell", 4)
    assert berth("inspect", "-f", "{{.State.ExitCode}}", "shell").stdout == "4\n"


def _attach_again_and_exit(berth: Berth, name: str, code: int) -> None:
    """A detached terminal container attached again: it answers, and its shell's exit code
    is the client's."""
    from tests.e2e.test_containers import Terminal

    again = Terminal(berth.argv("attach", name))
    try:
        again.type(b"echo back\r")
        again.wait_for(b"back")
        again.type(f"exit {code}\r".encode())
    finally:
        assert again.close() == code


def _supervisors() -> list[int]:
    return [
        int(entry)
        for entry in os.listdir("/proc")
        if entry.isdigit() and running(int(entry)) and _comm(int(entry)) == "berth-superviso"
    ]


def _supervisors_of(store: Store) -> list[int]:
    """The store's own supervisors (others' may still be leaving)."""
    from berth.monitor.launch import service_address
    from berth.monitor.supervisor import KIND

    name = service_address(KIND, str(store.runroot)).encode()
    return [pid for pid in _supervisors() if name in Path(f"/proc/{pid}/cmdline").read_bytes()]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()  # 15 characters at most
    except OSError:
        return ""


def test_names_on_a_user_network_are_served_by_the_stores_supervisor(
    berth: Berth, busybox: str
) -> None:
    """conmon has no resolver: the store's DNS supervisor answers 127.0.0.11 for every
    container conmon holds on a user-defined network, and goes once none is left."""
    assert berth("network", "create", "apps").returncode == 0
    _run(berth, "--name", "srv", "--network", "apps", "--network-alias", "web", busybox,
         "sleep", "300")  # fmt: skip
    _run(berth, "--name", "cli", "--network", "apps", busybox, "sleep", "300")
    for name in ("cli", "srv"):
        assert _monitor_name(int(_state(berth, name)["Pid"])) == "conmon"
    assert len(_supervisors()) == 1
    address = json.loads(berth("inspect", "srv").stdout)[0]["NetworkSettings"]["Networks"]
    expected = address["apps"]["IPAddress"]
    for name in ("srv", "web"):
        answer = berth("exec", "cli", "nslookup", name)
        assert f"Name:\t{name}\nAddress: {expected}\n" in answer.stdout, answer.stdout
    assert berth("rm", "-f", "srv", "cli").returncode == 0
    _until(lambda: not _supervisors(), "the supervisor leaves with its last container")
    assert berth("network", "rm", "apps").returncode == 0


def test_a_restart_by_policy_keeps_its_name_served(berth: Berth, busybox: str) -> None:
    """The supervisor's registration lives as long as the container's network (released
    with it), not as long as one conmon: a restart by policy is still answered."""
    assert berth("network", "create", "apps").returncode == 0
    _run(berth, "--name", "flaky", "--network", "apps", "--restart", "always", busybox,
         "sh", "-c", "sleep 0.5; exit 1")  # fmt: skip
    _run(berth, "--name", "asker", "--network", "apps", busybox, "sleep", "300")
    _until(lambda: json.loads(berth("inspect", "flaky").stdout)[0]["RestartCount"] >= 2,
           "it is started again")  # fmt: skip
    answer = berth("exec", "asker", "nslookup", "flaky")
    assert "Name:\tflaky\n" in answer.stdout, answer.stdout
    assert berth("rm", "-f", "flaky", "asker").returncode == 0
    _until(lambda: not _supervisors(), "the supervisor leaves with its last container")
    assert berth("network", "rm", "apps").returncode == 0


def _health(berth: Berth, name: str) -> dict:  # type: ignore[type-arg]
    return _state(berth, name).get("Health") or {}


def test_healthchecks_are_probed_by_the_stores_supervisor(berth: Berth, busybox: str) -> None:
    """conmon runs no probes: the store's supervisor does, as berth's monitor would (Docker's
    rules, `berth.monitor.probes`), into the container's status, `ps` and the events; the
    container's end stops them, and a restart by policy starts them over."""
    probe = ["--health-cmd", "echo probing; test -f /tmp/ok", "--health-interval", "200ms",
             "--health-retries", "2"]  # fmt: skip
    _run(berth, "--name", "probed", *probe, "--network", "none", busybox, "sleep", "300")
    assert _monitor_name(int(_state(berth, "probed")["Pid"])) == "conmon"
    assert len(_supervisors()) == 1
    _until(lambda: _health(berth, "probed").get("Status") == "unhealthy", "two failures")
    health = _health(berth, "probed")
    assert health["FailingStreak"] >= 2
    assert health["Log"][-1]["ExitCode"] == 1 and health["Log"][-1]["Output"] == "probing\n"
    assert berth("exec", "probed", "touch", "/tmp/ok").returncode == 0
    _until(lambda: _health(berth, "probed").get("Status") == "healthy", "a success")
    listed = berth("ps", "--filter", "name=probed", "--format", "{{.Status}}").stdout
    assert listed.endswith("(healthy)\n"), listed
    assert berth("stop", "-t", "0", "probed").returncode == 0
    stopped = len(_health(berth, "probed")["Log"])
    time.sleep(0.6)  # three intervals: no probe of a stopped container
    assert len(_health(berth, "probed")["Log"]) == stopped
    events = berth("events", "--since", "1m", "--until", "0s", "--filter", "container=probed")
    actions = [" ".join(line.split()[2:4]) for line in events.stdout.splitlines()]
    said = [action for action in actions if action.startswith("health_status")]
    assert said == ["health_status: starting", "health_status: unhealthy",
                    "health_status: healthy"], actions  # fmt: skip
    _run(berth, "--name", "again", "--restart", "on-failure:1", "--health-cmd", "true",
         "--health-interval", "200ms", "--network", "none", busybox,
         "sh", "-c", "sleep 1; exit 3")  # fmt: skip

    def again_said() -> list[str]:
        events = berth("events", "--since", "1m", "--until", "0s", "--filter", "container=again")
        actions = [" ".join(line.split()[2:4]) for line in events.stdout.splitlines()]
        return [action for action in actions if action.startswith("health_status")]

    twice = ["health_status: starting", "health_status: healthy"] * 2
    _until(lambda: again_said() == twice, "each run probed from its start")
    assert berth("rm", "-f", "probed", "again").returncode == 0
    _until(lambda: not _supervisors(), "the supervisor leaves with its last container")
