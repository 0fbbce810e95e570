"""Container flags and commands not covered elsewhere: kill/stop signals, rename, logs
follow and time windows, exec options, ps flags and filters, run options seen from inside,
restart policies and inspect of a finished container. Real containers; each test removes
the containers it starts."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from tests.fixtures.store import Berth

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
DEFAULT_CAPS = 0x00000000A80425FB  # Docker's 14 default capabilities
CAP_NET_ADMIN = 12
PS_JSON_KEYS = {
    "Command",
    "CreatedAt",
    "ID",
    "Image",
    "Labels",
    "Mounts",
    "Names",
    "Networks",
    "Ports",
    "RunningFor",
    "State",
    "Status",
}


def _eventually(check: Callable[[], bool], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def _logs_show(berth: Berth, name: str, text: str) -> bool:
    return text in berth("logs", name).stdout


def _inspect(berth: Berth, name: str) -> dict[str, Any]:
    result = berth("inspect", name)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)[0]
    return document


def _parse_time(text: str) -> datetime:
    """RFC 3339 with up to nanoseconds, cut to the microseconds datetime holds."""
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text)
    assert match, text
    head, fraction, zone = match.groups()
    micro = (fraction or "").ljust(6, "0")[:6]
    return datetime.fromisoformat(f"{head}.{micro}{'+00:00' if zone == 'Z' else zone}")


def _status_field(text: str, field: str) -> str:
    return next(line.split()[1] for line in text.splitlines() if line.startswith(f"{field}:"))


def test_kill_sends_the_named_signal(berth: Berth, busybox: str) -> None:
    script = (
        "n=0; trap 'n=$((n+1)); echo got$n; [ \"$n\" = 2 ] && exit 7' USR1; "
        "echo ready; while true; do sleep 0.1; done"
    )
    started = berth("run", "-d", "--name", "target", busybox, "sh", "-c", script)
    assert started.returncode == 0, started.stderr
    try:
        assert _eventually(lambda: _logs_show(berth, "target", "ready"))
        first = berth("kill", "-s", "SIGUSR1", "target")
        assert first.returncode == 0, first.stderr
        assert first.stdout == "target\n"
        assert _eventually(lambda: _logs_show(berth, "target", "got1"))
        assert berth("inspect", "-f", "{{.State.Status}}", "target").stdout == "running\n"
        assert berth("kill", "-s", "USR1", "target").returncode == 0
        assert berth("wait", "target").stdout == "7\n"
        assert berth("logs", "target").stdout == "ready\ngot1\ngot2\n"
        stopped = berth("kill", "-s", "USR1", "target")
        assert stopped.returncode == 1 and "is not running" in stopped.stderr
    finally:
        berth("rm", "-f", "target")


def test_rename_frees_the_old_name(berth: Berth, busybox: str) -> None:
    assert berth("run", "-d", "--name", "old", busybox, "sleep", "60").returncode == 0
    try:
        renamed = berth("rename", "old", "new")
        assert renamed.returncode == 0, renamed.stderr
        assert renamed.stdout == ""
        assert berth("ps", "--format", "{{.Names}}").stdout == "new\n"
        assert _inspect(berth, "new")["Name"] == "/new"
        gone = berth("container", "inspect", "old")
        assert gone.returncode == 1 and "No such container: old" in gone.stderr
        again = berth("run", "-d", "--name", "old", busybox, "sleep", "60")
        assert again.returncode == 0, again.stderr
        taken = berth("rename", "new", "old")
        assert taken.returncode == 1 and "is already in use" in taken.stderr
        assert sorted(berth("ps", "--format", "{{.Names}}").stdout.split()) == ["new", "old"]
    finally:
        berth("rm", "-f", "old", "new")


def test_logs_follow_since_and_until(berth: Berth, busybox: str) -> None:
    script = "for i in 1 2 3; do echo line$i; sleep 1; done"
    assert berth("run", "-d", "--name", "ticker", busybox, "sh", "-c", script).returncode == 0
    try:
        follower = berth.popen("logs", "-f", "ticker")
        try:
            assert follower.stdout is not None
            first = follower.stdout.readline()
            # Read while the container still runs: -f must keep going until it exits.
            assert berth("inspect", "-f", "{{.State.Running}}", "ticker").stdout == "true\n"
            rest, _ = follower.communicate(timeout=30)
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.wait()
        assert follower.returncode == 0
        assert first + rest == "line1\nline2\nline3\n"
        assert berth("inspect", "-f", "{{.State.Status}}", "ticker").stdout == "exited\n"

        stamped = berth("logs", "-t", "ticker").stdout.splitlines()
        assert [line.split(" ", 1)[1] for line in stamped] == ["line1", "line2", "line3"]
        times = [_parse_time(line.split(" ", 1)[0]) for line in stamped]
        assert all(RFC3339.match(line.split(" ", 1)[0]) for line in stamped)

        def between(a: datetime, b: datetime) -> str:
            return (a + (b - a) / 2).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

        after_first, after_second = between(*times[0:2]), between(*times[1:3])
        since = berth("logs", "--since", after_first, "ticker")
        assert since.returncode == 0, since.stderr
        assert since.stdout == "line2\nline3\n"
        assert berth("logs", "--until", after_first, "ticker").stdout == "line1\n"
        window = berth("logs", "--since", after_first, "--until", after_second, "ticker")
        assert window.stdout == "line2\n"
    finally:
        berth("rm", "-f", "ticker")


def test_logs_follow_ends_with_what_was_written_when_the_container_is_removed(
    berth: Berth, busybox: str
) -> None:
    script = "echo before; sleep 600"
    assert berth("run", "-d", "--name", "doomed", busybox, "sh", "-c", script).returncode == 0
    follower = berth.popen("logs", "-f", "doomed")
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "before\n"
        assert berth("rm", "-f", "doomed").returncode == 0
        rest, errors = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
        berth("rm", "-f", "doomed")
    assert follower.returncode == 0, errors
    assert rest == ""


def test_exec_env_workdir_and_detach(berth: Berth, busybox: str) -> None:
    assert berth("run", "-d", "--name", "box", busybox, "sleep", "60").returncode == 0
    try:
        env = berth(
            "exec", "-e", "K=V", "-e", "OTHER=two words", "box", "sh", "-c", "echo $K-$OTHER"
        )
        assert env.returncode == 0, env.stderr
        assert env.stdout == "V-two words\n"
        assert berth("exec", "box", "sh", "-c", "echo ${K:-unset}").stdout == "unset\n"
        assert berth("exec", "-w", "/tmp", "box", "pwd").stdout == "/tmp\n"
        assert berth("exec", "box", "pwd").stdout == "/\n"

        began = time.monotonic()
        detached = berth(
            "exec", "-d", "-w", "/tmp", "-e", "K=bg", "box", "sh", "-c",
            "echo $K > marker; exec sleep 30",
        )  # fmt: skip
        assert detached.returncode == 0, detached.stderr
        assert detached.stdout == ""
        assert time.monotonic() - began < 20  # it did not wait for the sleep
        assert _eventually(lambda: berth("exec", "box", "cat", "/tmp/marker").stdout == "bg\n")
        processes = berth("exec", "box", "ps", "-o", "args").stdout
        assert "sleep 30" in processes  # still running in the background
    finally:
        berth("rm", "-f", "box")


def test_ps_flags_and_filters(berth: Berth, busybox: str) -> None:
    failed = berth("run", "--name", "failed", "-l", "tier=db", busybox, "sh", "-c", "exit 3")
    assert failed.returncode == 3
    loop = "while true; do sleep 1; done"
    running = berth("run", "-d", "--name", "running", "-l", "tier=web", busybox, "sh", "-c", loop)
    assert running.returncode == 0, running.stderr
    running_id = running.stdout.strip()
    assert berth("create", "--name", "fresh", busybox, "true").returncode == 0
    try:

        def names(*args: str) -> list[str]:
            result = berth("ps", *args, "--format", "{{.Names}}")
            assert result.returncode == 0, result.stderr
            return result.stdout.split()

        assert names() == ["running"]
        assert names("-a") == ["fresh", "running", "failed"]  # newest first
        assert names("-n", "1") == ["fresh"]
        assert names("-n", "2") == ["fresh", "running"]
        assert names("-l") == ["fresh"]
        latest = berth("ps", "-l").stdout.splitlines()
        assert latest[0].split()[:2] == ["CONTAINER", "ID"]
        assert len(latest) == 2 and latest[1].split()[-1] == "fresh"

        rows = [
            json.loads(line) for line in berth("ps", "-a", "--format", "json").stdout.splitlines()
        ]
        assert [row["Names"] for row in rows] == ["fresh", "running", "failed"]
        for row in rows:
            assert set(row) >= PS_JSON_KEYS, row
            assert row["Image"] == "busybox"
        assert [row["State"] for row in rows] == ["created", "running", "exited"]
        assert rows[1]["ID"] == running_id[:12]
        assert rows[1]["Labels"] == "tier=web"
        assert rows[2]["Status"].startswith("Exited (3) ")

        assert names("--filter", "status=exited") == ["failed"]
        assert names("--filter", "status=created") == ["fresh"]
        assert names("-a", "--filter", f"id={running_id[:5]}") == ["running"]
        assert names("-a", "--filter", "ancestor=busybox") == ["fresh", "running", "failed"]
        assert names("-a", "--filter", "ancestor=no-such-image") == []
        assert names("-a", "--filter", "label=tier=db") == ["failed"]
        assert names("-a", "--filter", "label=tier") == ["running", "failed"]
        assert names("--filter", "exited=3") == ["failed"]
        assert names("--filter", "exited=0") == []
        assert berth("ps", "--filter", "colour=red").returncode != 0
        assert berth("ps", "--format", "{{.ID}}").stdout == f"{running_id[:12]}\n"
        full_id = berth("ps", "--no-trunc", "--format", "{{.ID}}").stdout.strip()
        assert re.fullmatch("[0-9a-f]{64}", full_id) and full_id == running_id
        # Docker quotes the arguments that hold spaces (daemon/list.go), then truncates.
        full = berth("ps", "--no-trunc", "--format", "{{.Command}}").stdout
        assert full == f"\"sh -c '{loop}'\"\n"
        assert berth("ps", "--format", "{{.Command}}").stdout == '"sh -c \'while true; …"\n'
    finally:
        berth("rm", "-f", "failed", "running", "fresh")


def test_env_file_workdir_hosts_and_entrypoint(berth: Berth, busybox: str, tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text(
        "# a comment\n"
        "\n"
        "FROM_FILE=one\n"
        "  # an indented comment\n"
        "SPACED=two words  \n"
        "FROM_CALLER\n"
        "NOT_SET_ANYWHERE\n"
    )
    script = (
        'echo "$FROM_FILE|$SPACED|$FROM_CALLER|${NOT_SET_ANYWHERE-unset}"; pwd;'
        " grep -w db /etc/hosts"  # -w: the hex hostname may hold "db" too
    )
    result = berth(
        "run", "--rm", "--env-file", str(env_file), "-w", "/tmp", "--add-host", "db:10.1.2.3",
        busybox, "sh", "-c", script,
        env={"FROM_CALLER": "from the caller"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    values, workdir, hosts = result.stdout.splitlines()
    assert workdir == "/tmp"
    assert hosts.split() == ["10.1.2.3", "db"]

    env = berth("run", "--rm", "--env-file", str(env_file), busybox, "env").stdout.splitlines()
    assert not any(line.startswith("#") for line in env)

    echoed = berth("run", "--rm", "--entrypoint", "echo", busybox, "hello", "there")
    assert echoed.returncode == 0, echoed.stderr
    assert echoed.stdout == "hello there\n"
    shell = berth("run", "--rm", "--entrypoint", "/bin/sh", busybox, "-c", "echo $0")
    assert shell.stdout == "/bin/sh\n"
    # Docker passes values through untrimmed and takes a bare NAME from the caller's env.
    assert values == "one|two words  |from the caller|unset"


def test_tmpfs_and_read_only_bind_mounts(berth: Berth, busybox: str, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "file").write_text("from host\n")
    script = (
        "echo a > /scratch/f && echo b > /scratch2/f && cat /scratch/f /scratch2/f; "
        "grep -E ' /(scratch2?|ro) ' /proc/mounts; cat /ro/file; touch /ro/new"
    )
    result = berth(
        "run", "--rm",
        "--mount", "type=tmpfs,destination=/scratch",
        "--tmpfs", "/scratch2",
        "--mount", f"type=bind,source={shared},target=/ro,readonly",
        busybox, "sh", "-c", script,
    )  # fmt: skip
    assert result.returncode == 1  # the touch
    assert "Read-only file system" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["a", "b"]
    assert lines[-1] == "from host"
    mounts = {fields[1]: fields for fields in (line.split() for line in lines[2:-1])}
    assert mounts["/scratch"][2] == "tmpfs" and mounts["/scratch"][3].startswith("rw")
    assert mounts["/scratch2"][2] == "tmpfs" and mounts["/scratch2"][3].startswith("rw")
    assert mounts["/ro"][3].startswith("ro")
    assert not (shared / "new").exists()


def test_ulimit(berth: Berth, busybox: str) -> None:
    result = berth(
        "run", "--rm", "--ulimit", "nofile=1024:2048", busybox, "sh", "-c",
        "ulimit -n; ulimit -Hn",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1024", "2048"]


def test_capabilities_and_no_new_privileges(berth: Berth, busybox: str) -> None:
    def status(*flags: str) -> str:
        result = berth("run", "--rm", *flags, busybox, "cat", "/proc/self/status")
        assert result.returncode == 0, result.stderr
        return result.stdout

    default = status()
    assert int(_status_field(default, "CapEff"), 16) == DEFAULT_CAPS
    assert _status_field(default, "NoNewPrivs") == "0"
    added = status("--cap-add", "NET_ADMIN", "--security-opt", "no-new-privileges")
    assert int(_status_field(added, "CapEff"), 16) == DEFAULT_CAPS | 1 << CAP_NET_ADMIN
    assert _status_field(added, "NoNewPrivs") == "1"
    also = status("--cap-add", "CAP_NET_ADMIN", "--security-opt", "no-new-privileges:true")
    assert int(_status_field(also, "CapEff"), 16) == DEFAULT_CAPS | 1 << CAP_NET_ADMIN
    assert _status_field(also, "NoNewPrivs") == "1"
    # NET_ADMIN is what lets the container reconfigure its own interfaces.
    denied = berth("run", "--rm", busybox, "ip", "link", "set", "lo", "mtu", "1400")
    assert denied.returncode != 0
    allowed = berth(
        "run", "--rm", "--cap-add", "NET_ADMIN", busybox, "ip", "link", "set", "lo", "mtu", "1400"
    )
    assert allowed.returncode == 0, allowed.stderr


def test_seccomp_unconfined(berth: Berth, busybox: str) -> None:
    script = "grep Seccomp: /proc/self/status; unshare -U true && echo unshared"
    confined = berth("run", "--rm", busybox, "sh", "-c", script)
    assert confined.stdout.splitlines()[0].split() == ["Seccomp:", "2"]
    assert "unshared" not in confined.stdout
    assert "Operation not permitted" in confined.stderr
    unconfined = berth(
        "run", "--rm", "--security-opt", "seccomp=unconfined", busybox, "sh", "-c", script
    )
    assert unconfined.returncode == 0, unconfined.stderr
    assert unconfined.stdout.split() == ["Seccomp:", "0", "unshared"]


def test_cpu_shares_and_cpus_in_the_cgroup(berth: Berth, busybox: str) -> None:
    # cgroup v1 shows cpu.shares and the CFS quota; v2 the converted cpu.weight and cpu.max.
    script = (
        "cd /sys/fs/cgroup; if [ -f cpu.max ]; then cat cpu.weight cpu.max; "
        "else cat cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us; fi"
    )
    result = berth(
        "run", "--rm", "--cpu-shares", "512", "--cpus", "0.5", busybox, "sh", "-c", script
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() in (["512", "50000", "100000"], ["20", "50000", "100000"])
    default = berth("run", "--rm", busybox, "sh", "-c", script)
    assert default.stdout.split() in (["1024", "-1", "100000"], ["100", "max", "100000"])


def test_stop_uses_the_stop_signal_and_kills_after_the_timeout(berth: Berth, busybox: str) -> None:
    trapping = "trap 'echo stopping; exit 9' USR1; echo ready; while true; do sleep 0.1; done"
    stubborn = "trap '' TERM; echo ready; while true; do sleep 0.1; done"
    started = [
        berth("run", "-d", "--name", "polite", "--stop-signal", "SIGUSR1", busybox, "sh", "-c",
              trapping),
        berth("run", "-d", "--name", "asked", busybox, "sh", "-c", trapping),
        berth("run", "-d", "--name", "stubborn", busybox, "sh", "-c", stubborn),
    ]  # fmt: skip
    assert [r.returncode for r in started] == [0, 0, 0], [r.stderr for r in started]
    try:
        for name in ("polite", "asked", "stubborn"):
            assert _eventually(partial(_logs_show, berth, name, "ready"))
        assert _inspect(berth, "polite")["Config"]["StopSignal"] == "SIGUSR1"
        polite = berth("stop", "polite")
        assert polite.returncode == 0, polite.stderr
        assert polite.stdout == "polite\n"
        state = _inspect(berth, "polite")["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 9
        assert berth("logs", "polite").stdout == "ready\nstopping\n"

        asked = berth("stop", "-s", "USR1", "asked")
        assert asked.returncode == 0, asked.stderr
        assert _inspect(berth, "asked")["State"]["ExitCode"] == 9

        began = time.monotonic()
        killed = berth("stop", "-t", "1", "stubborn")
        elapsed = time.monotonic() - began
        assert killed.returncode == 0, killed.stderr
        assert 1 <= elapsed < 8
        state = _inspect(berth, "stubborn")["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 137
    finally:
        berth("rm", "-f", "polite", "asked", "stubborn")


def test_restart_always_until_stopped(berth: Berth, busybox: str) -> None:
    started = berth("run", "-d", "--name", "again", "--restart", "always", busybox, "sh", "-c",
                    "exit 1")  # fmt: skip
    assert started.returncode == 0, started.stderr
    limited = berth("run", "-d", "--name", "twice", "--restart", "on-failure:2", busybox, "sh",
                    "-c", "exit 1")  # fmt: skip
    assert limited.returncode == 0, limited.stderr
    try:
        assert _eventually(lambda: _inspect(berth, "again")["RestartCount"] >= 2, timeout=10)
        stopped = berth("stop", "-t", "1", "again")
        assert stopped.returncode == 0, stopped.stderr
        count = _inspect(berth, "again")["RestartCount"]
        time.sleep(1.5)
        document = _inspect(berth, "again")
        assert document["RestartCount"] == count  # stop ends the policy
        assert document["State"]["Status"] == "exited"
        assert document["State"]["Restarting"] is False
        assert berth("ps", "-q", "--filter", "name=again").stdout == ""

        assert berth("wait", "twice").stdout == "1\n"
        time.sleep(1)
        document = _inspect(berth, "twice")
        assert document["RestartCount"] == 2
        assert document["State"]["Status"] == "exited"
    finally:
        berth("rm", "-f", "again", "twice")


def test_inspect_of_a_finished_container(berth: Berth, busybox: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    script = "sleep 0.3; exit 2"
    finished = berth(
        "run", "--name", "finished", "-e", "FOO=bar", "-v", f"{data}:/data:ro",
        "--mount", f"type=bind,source={data},target=/rw",
        busybox, "sh", "-c", script,
    )  # fmt: skip
    assert finished.returncode == 2, finished.stderr
    try:
        document = _inspect(berth, "finished")
        state = document["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 2
        assert state["Running"] is False and state["Pid"] == 0
        assert RFC3339.match(state["StartedAt"]), state["StartedAt"]
        assert RFC3339.match(state["FinishedAt"]), state["FinishedAt"]
        started_at, finished_at = _parse_time(state["StartedAt"]), _parse_time(state["FinishedAt"])
        assert finished_at - started_at >= timedelta(seconds=0.3)
        assert datetime.now(UTC) - finished_at < timedelta(minutes=1)

        config = document["Config"]
        assert config["Cmd"] == ["sh", "-c", script]
        assert config["Image"] == "busybox"
        assert "FOO=bar" in config["Env"]
        assert any(item.startswith("PATH=") for item in config["Env"])  # the image's
        assert document["Path"] == "sh" and document["Args"] == ["-c", script]

        mounts = {m["Destination"]: m for m in document["Mounts"]}
        assert set(mounts) == {"/data", "/rw"}
        read_only, writable = mounts["/data"], mounts["/rw"]
        assert read_only["Type"] == "bind" and read_only["Source"] == str(data)
        assert read_only["RW"] is False
        assert writable["Type"] == "bind" and writable["Source"] == str(data)
        assert writable["RW"] is True and writable["Mode"] == ""
        assert read_only["Mode"] == "ro"  # Docker keeps -v's mode; --mount has none
    finally:
        berth("rm", "-f", "finished")
