"""`berth run` and the container lifecycle, looked at from inside and outside the container.

Real namespaces, overlay mounts, cgroups and monitors; the session's leak guard checks that
nothing (mounts, processes, cgroups) outlives the tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fixtures.images import Catalogue
from tests.fixtures.procs import parent_of
from tests.fixtures.store import Berth, Store, kill_monitor


def test_run_prints_output_and_returns_the_exit_code(berth: Berth, busybox: str) -> None:
    result = berth("run", "--rm", busybox, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"


@pytest.mark.parametrize(
    ("command", "code", "message"),
    [
        (["nonexistent-cmd"], 127, "executable file not found"),
        (["/etc/passwd"], 126, "permission denied"),
    ],
)
def test_commands_that_cannot_run(
    berth: Berth, busybox: str, command: list[str], code: int, message: str
) -> None:
    result = berth("run", "--rm", busybox, *command)
    assert result.returncode == code
    assert message in result.stderr.lower()
    assert "Traceback" not in result.stderr


def test_piped_stdin(berth: Berth, busybox: str) -> None:
    result = berth("run", "--rm", "-i", busybox, "cat", input="hello through stdin\n")
    assert result.returncode == 0
    assert result.stdout == "hello through stdin\n"


def test_isolation_seen_from_inside(berth: Berth, busybox: str) -> None:
    script = (
        "echo pid=$$; hostname; ls /sys/class/net | tr '\\n' ' '; echo; "
        "ls /proc | grep -c '^[0-9]' ; cat /proc/self/status | grep CapEff"
    )
    result = berth("run", "--rm", "--hostname", "inside", busybox, "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "pid=1"
    assert lines[1] == "inside"
    assert lines[2].split() == ["eth0", "lo"]  # its own veth, none of the host's devices
    assert int(lines[3]) <= 3  # sh, ls (and grep): no host process is visible
    assert lines[4].split()[1] == "00000000a80425fb"  # Docker's 14 default capabilities


def test_writes_stay_in_the_container(berth: Berth, busybox: str) -> None:
    first = berth(
        "run", "-d", "--name", "writer", busybox, "sh", "-c", "echo mine > /tmp/file; sleep 30"
    )
    assert first.returncode == 0, first.stderr
    other = berth("run", "--rm", busybox, "cat", "/tmp/file")
    assert other.returncode == 1  # the image never changes; the other container can't see it
    assert berth("rm", "-f", "writer").returncode == 0


def test_detached_lifecycle(berth: Berth, busybox: str, store: Store) -> None:
    started = berth("run", "-d", "--name", "sleeper", busybox, "sleep", "60")
    assert started.returncode == 0, started.stderr
    container_id = started.stdout.strip()
    assert len(container_id) == 64
    listed = berth("ps", "--format", "{{.Names}} {{.Image}} {{.Status}}").stdout
    assert listed.startswith("sleeper busybox Up")
    state = json.loads(berth("inspect", "sleeper").stdout)[0]["State"]
    assert state["Running"] is True and state["Pid"] > 0
    assert os.path.exists(f"/proc/{state['Pid']}")

    duplicate = berth("run", "-d", "--name", "sleeper", busybox, "true")
    assert duplicate.returncode == 125
    assert "is already in use" in duplicate.stderr

    stopped = berth("stop", "-t", "1", "sleeper")
    assert stopped.returncode == 0, stopped.stderr
    state = json.loads(berth("inspect", "sleeper").stdout)[0]["State"]
    assert state["Status"] == "exited" and state["ExitCode"] in (137, 143)
    assert berth("ps", "-q").stdout == ""
    assert berth("ps", "-aq").stdout.strip() == container_id[:12]
    assert berth("rm", "sleeper").returncode == 0
    assert berth("ps", "-aq").stdout == ""
    assert not (store.root / "containers" / container_id).exists()


def test_logs_keep_streams_apart(berth: Berth, busybox: str) -> None:
    run = berth(
        "run",
        "-d",
        "--name",
        "talker",
        busybox,
        "sh",
        "-c",
        "for i in 1 2 3; do echo out$i; echo err$i >&2; done",
    )
    assert run.returncode == 0
    assert berth("wait", "talker").stdout.strip() == "0"
    logs = berth("logs", "talker")
    assert logs.stdout == "out1\nout2\nout3\n"
    assert logs.stderr == "err1\nerr2\nerr3\n"
    # The last line of both streams together: which one came last is the kernel's choice,
    # since the two pipes are read as they fill (Docker's logs behave the same).
    last = berth("logs", "--tail", "1", "talker")
    assert last.stdout + last.stderr in ("out3\n", "err3\n")
    stamped = berth("logs", "-t", "talker").stdout.splitlines()[0]
    assert stamped.endswith(" out1") and stamped[:4].isdigit()


def test_rm_force_of_a_running_container(berth: Berth, busybox: str) -> None:
    assert berth("run", "-d", "--name", "busy", busybox, "sleep", "60").returncode == 0
    refused = berth("rm", "busy")
    assert refused.returncode == 1 and "Stop the container" in refused.stderr
    assert berth("rm", "-f", "busy").returncode == 0
    assert berth("ps", "-aq").stdout == ""


def test_ps_never_lies_after_the_monitor_dies(berth: Berth, busybox: str) -> None:
    assert berth("run", "-d", "--name", "orphan", busybox, "sleep", "60").returncode == 0
    kill_monitor(berth, "orphan")
    listed = berth("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout.split()
    assert listed == ["orphan", "exited"]


def test_twenty_parallel_runs(berth: Berth, busybox: str) -> None:
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: berth("run", "-d", busybox, "sleep", "30"), range(20)))
    assert [r.returncode for r in results] == [0] * 20, [r.stderr for r in results]
    assert len({r.stdout for r in results}) == 20
    assert len(berth("ps", "-q").stdout.split()) == 20


def test_bad_input(berth: Berth, busybox: str) -> None:
    missing = berth("run", "--pull", "never", "nothing-here")
    assert missing.returncode == 125 and "No such image" in missing.stderr
    user = berth("run", "--rm", "-u", "nobody-at-all", busybox, "true")
    assert user.returncode == 125 and "unable to find user" in user.stderr
    memory = berth("run", "--rm", "-m", "1k", busybox, "true")
    assert memory.returncode == 125 and "Minimum memory limit" in memory.stderr


def test_memory_limit_oom_kills_and_inspect_says_so(berth: Berth, busybox: str) -> None:
    # A shell string that doubles until it outgrows 16 MiB.
    hog = "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done"
    result = berth(
        "run", "--name", "hog", "-m", "16m", "--memory-swap", "16m", busybox, "sh", "-c", hog
    )
    assert result.returncode == 137
    state = json.loads(berth("inspect", "hog").stdout)[0]["State"]
    assert state["OOMKilled"] is True and state["ExitCode"] == 137


def test_pids_limit_holds(berth: Berth, busybox: str) -> None:
    """Forks beyond the limit fail inside the container; a higher limit lets them through."""
    script = "for i in $(seq 1 20); do sleep 1 & done; wait; echo all started"
    limited = berth("run", "--rm", "--pids-limit", "8", busybox, "sh", "-c", script)
    assert limited.returncode != 0
    assert "can't fork" in limited.stderr
    roomy = berth("run", "--rm", "--pids-limit", "64", busybox, "sh", "-c", script)
    assert roomy.returncode == 0 and roomy.stdout == "all started\n"


def test_read_only_root_user_and_capabilities(berth: Berth, busybox: str) -> None:
    read_only = berth("run", "--rm", "--read-only", busybox, "touch", "/file")
    assert read_only.returncode == 1 and "Read-only file system" in read_only.stderr
    as_nobody = berth("run", "--rm", "-u", "nobody", busybox, "id")
    assert as_nobody.stdout.startswith("uid=65534(nobody) gid=65534(nogroup)")
    no_chown = berth("run", "--rm", "--cap-drop", "CHOWN", busybox, "chown", "65534", "/tmp")
    assert no_chown.returncode == 1
    assert berth("run", "--rm", busybox, "chown", "65534", "/tmp").returncode == 0


def test_bind_mounts_and_volumes(berth: Berth, busybox: str, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "from-host").write_text("hello\n")
    result = berth(
        "run",
        "--rm",
        "-v",
        f"{shared}:/data",
        busybox,
        "sh",
        "-c",
        "cat /data/from-host; echo back > /data/from-container",
    )
    assert result.stdout == "hello\n"
    assert (shared / "from-container").read_text() == "back\n"
    read_only = berth("run", "--rm", "-v", f"{shared}:/data:ro", busybox, "touch", "/data/x")
    assert read_only.returncode == 1
    assert (
        berth("run", "--rm", "-v", "keep:/v", busybox, "sh", "-c", "echo kept > /v/f").returncode
        == 0
    )
    assert berth("run", "--rm", "-v", "keep:/v", busybox, "cat", "/v/f").stdout == "kept\n"


def test_masked_and_read_only_proc_paths(berth: Berth, busybox: str) -> None:
    masked = next(p for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list") if Path(p).exists())
    result = berth(
        "run",
        "--rm",
        busybox,
        "sh",
        "-c",
        f"wc -c < {masked}; echo 1 > /proc/sys/kernel/domainname || echo refused",
    )
    assert result.stdout.split() == ["0", "refused"]
    assert "Read-only file system" in result.stderr


def test_restart_on_failure(berth: Berth, busybox: str) -> None:
    started = berth(
        "run", "-d", "--name", "flaky", "--restart", "on-failure:2", busybox, "sh", "-c", "exit 1"
    )
    assert started.returncode == 0
    assert berth("wait", "flaky").stdout.strip() == "1"
    state = json.loads(berth("inspect", "flaky").stdout)[0]
    assert state["RestartCount"] == 2


def test_tty_gives_the_container_a_terminal(berth: Berth, busybox: str) -> None:
    command = " ".join(berth.argv("run", "--rm", "-t", busybox, "sh", "-c", "tty; echo $TERM"))
    result = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout
    lines = result.stdout.replace("\r", "").split()
    assert lines[0].startswith("/dev/pts/") and lines[1] == "xterm"


class Terminal:
    """A pty the test holds, with a berth command running on its other side (as a user's
    terminal would be): type into it, wait for text, read what came out."""

    def __init__(self, argv: list[str], rows: int = 33, columns: int = 111) -> None:
        import fcntl
        import struct
        import termios

        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        self.output = b""

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait_for(self, text: bytes, timeout: float = 30) -> None:
        import select

        deadline = time.monotonic() + timeout
        while text not in self.output and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the command closed the terminal
                    break
                if not chunk:
                    break
                self.output += chunk
        assert text in self.output, self.output

    def close(self) -> int:
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            os.close(self.master)

    def lines(self) -> list[str]:
        return [line for line in self.output.decode().replace("\r", "").splitlines() if line]


def test_exec_tty_gives_a_terminal_inside_the_container(berth: Berth, busybox: str) -> None:
    """`exec -it` under a terminal: a pty of the container's own, the caller's window size,
    keystrokes in, output out, the process's exit code."""
    assert berth("run", "-d", "--name", "shell", busybox, "sleep", "30").returncode == 0
    script = "tty; echo $TERM; stty size; read line; echo got:$line; exit 7"
    terminal = Terminal(berth.argv("exec", "-it", "shell", "sh", "-c", script))
    try:
        terminal.wait_for(b"33 111")
        terminal.type(b"hello\r")
        terminal.wait_for(b"got:hello")
    finally:
        code = terminal.close()
    assert code == 7
    lines = terminal.lines()
    assert lines[0].startswith("/dev/pts/")  # the container's own devpts
    assert lines[1:3] == ["xterm", "33 111"]  # the caller's terminal size
    assert berth("rm", "-f", "shell").returncode == 0


def test_run_it_keys_ctrl_c_and_detach(berth: Berth, busybox: str) -> None:
    """`run -it`: Ctrl-C interrupts the container's foreground command (not berth), the
    shell lives on; ctrl-p ctrl-q detaches and leaves it running; attach comes back to it."""
    terminal = Terminal(berth.argv("run", "-it", "--name", "term", busybox, "sh"))
    try:
        terminal.wait_for(b"# ")  # the shell's prompt
        terminal.type(b"echo size $(stty size)\r")
        terminal.wait_for(b"size 33 111")
        terminal.type(b"sleep 30; echo after\r")
        time.sleep(0.5)
        terminal.type(b"\x03")  # Ctrl-C: SIGINT to the container's foreground group
        terminal.type(b"echo alive $?\r")
        terminal.wait_for(b"alive 130")  # sleep died of SIGINT; the shell did not
        terminal.type(b"\x10\x11")  # ctrl-p ctrl-q
    finally:
        code = terminal.close()
    assert code == 0
    assert "after" not in terminal.lines()  # echoed as typed, never printed: sleep was stopped
    assert berth("inspect", "-f", "{{.State.Status}}", "term").stdout == "running\n"
    again = Terminal(berth.argv("attach", "term"))
    try:
        again.type(b"exit 4\r")
    finally:
        assert again.close() == 4
    assert berth("inspect", "-f", "{{.State.ExitCode}}", "term").stdout == "4\n"
    assert berth("rm", "term").returncode == 0


def test_exec_runs_inside_the_running_container(berth: Berth, busybox: str) -> None:
    assert (
        berth(
            "run", "-d", "--name", "host1", "--hostname", "inner", busybox, "sleep", "60"
        ).returncode
        == 0
    )
    inside = berth("exec", "host1", "sh", "-c", "hostname; echo $$; id -u")
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.split() == ["inner", "2", "0"]  # pid 2: beside the container's pid 1
    assert berth("exec", "-u", "nobody", "host1", "id", "-u").stdout == "65534\n"
    assert berth("exec", "host1", "sh", "-c", "exit 7").returncode == 7
    assert berth("exec", "-i", "host1", "cat", input="fed\n").stdout == "fed\n"
    missing = berth("exec", "host1", "no-such-command")
    assert missing.returncode == 127 and "executable file not found" in missing.stderr
    assert berth("stop", "-t", "0", "host1").returncode == 0
    stopped = berth("exec", "host1", "true")
    assert stopped.returncode == 1 and "is not running" in stopped.stderr  # as Docker's CLI


@pytest.mark.parametrize("syscall_tool", [["unshare", "-m", "true"], ["unshare", "-U", "true"]])
def test_default_seccomp_denies_namespaces_unless_unconfined(
    berth: Berth, busybox: str, syscall_tool: list[str]
) -> None:
    denied = berth("run", "--rm", busybox, *syscall_tool)
    assert denied.returncode != 0 and "Operation not permitted" in denied.stderr
    allowed = berth("run", "--rm", "--privileged", busybox, *syscall_tool)
    assert allowed.returncode == 0, allowed.stderr


def test_create_copies_no_image_file(berth: Berth, busybox: str, store: Store) -> None:
    created = berth("create", "--name", "fresh", busybox, "true")
    assert created.returncode == 0, created.stderr
    container_dir = store.root / "containers" / created.stdout.strip()
    upper = Path(berth("inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "fresh").stdout.strip())
    assert upper.is_relative_to(store.root)  # the container's snapshot, in the store
    assert list(upper.iterdir()) == []
    assert list((container_dir / "rootfs").iterdir()) == []  # mounted only while it runs
    assert berth("start", "-a", "fresh").returncode == 0
    # After a run the upper holds only the empty mount points of the /etc files berth binds,
    # and /etc/mtab, a link to /proc/mounts (as Docker's init layer has it).
    written = [p for p in upper.rglob("*") if p.is_file() and not p.is_symlink()]
    assert {p.name for p in written} <= {"hostname", "hosts", "resolv.conf"}
    assert all(p.stat().st_size == 0 for p in written)
    assert os.readlink(upper / "etc" / "mtab") == "/proc/mounts"


def test_init_runs_as_pid_1_and_the_command_beneath_it(berth: Berth, busybox: str) -> None:
    result = berth(
        "run", "--rm", "--init", busybox, "sh", "-c", "cat /proc/1/cmdline; echo; echo $$"
    )
    assert result.returncode == 0, result.stderr
    pid1, own_pid = result.stdout.splitlines()
    assert pid1.split("\0")[:2] == ["/sbin/docker-init", "--"]
    assert own_pid != "1"


def test_attach_feeds_stdin_and_returns_the_exit_code(berth: Berth, busybox: str) -> None:
    started = berth(
        "run",
        "-d",
        "-i",
        "--name",
        "reader",
        busybox,
        "sh",
        "-c",
        "read line; echo got $line; exit 4",
    )
    assert started.returncode == 0, started.stderr
    attached = berth("attach", "reader", input="hello\n")
    assert attached.returncode == 4
    assert attached.stdout == "got hello\n"
    stopped = berth("attach", "reader")
    assert stopped.returncode == 1 and "start it first" in stopped.stderr


def test_an_image_in_use_is_not_deleted(berth: Berth, busybox: str, registry: Catalogue) -> None:
    image_id = json.loads(berth("image", "inspect", busybox).stdout)[0]["Id"]
    assert berth("run", "-d", "--name", "user", busybox, "sleep", "60").returncode == 0
    assert berth("rmi", registry["base"].reference).stdout.startswith("Untagged:")  # not last
    refused = berth("rmi", busybox)
    assert refused.returncode == 1 and "is using its referenced image" in refused.stderr
    running = berth("rmi", "-f", image_id)
    assert running.returncode == 1 and "cannot be forced" in running.stderr
    assert berth("stop", "-t", "0", "user").returncode == 0
    stopped = berth("rmi", image_id)
    assert stopped.returncode == 1 and "must be forced" in stopped.stderr
    pruned = berth("image", "prune", "-a", "-f")
    assert pruned.returncode == 0 and image_id not in pruned.stdout
    assert berth("inspect", "--type", "container", "user").returncode == 0
    assert berth("start", "user").returncode == 0  # its image is still there
    assert berth("rm", "-f", "user").returncode == 0
    assert berth("tag", busybox, registry["base"].reference).returncode == 0


def test_the_callers_directory_is_never_imported_from(
    berth: Berth, busybox: str, tmp_path: Path, store: Store
) -> None:
    """Helpers berth starts as root (`python -m ...`) must not import modules from the
    directory the user runs berth in, and the monitor must not keep that directory busy
    (berth's is in /, conmon in the container's run directory, where its oom file goes)."""
    marker = tmp_path / "imported"
    for name in ("json", "socket", "selectors"):
        (tmp_path / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write('{name} ')\n")
    result = subprocess.run(
        berth.argv("run", "-d", "--name", "here", busybox, "sleep", "60"),
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=berth.env,
    )
    try:
        assert result.returncode == 0, result.stderr
        container = json.loads(berth("inspect", "here").stdout)[0]
        monitor = parent_of(container["State"]["Pid"])
        run_dir = store.runroot / "containers" / container["Id"]
        assert os.readlink(f"/proc/{monitor}/cwd") in ("/", str(run_dir))
    finally:
        berth("rm", "-f", "here")
    assert not marker.exists(), marker.read_text()


def test_device_nodes_a_container_makes_cannot_be_opened(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    """The device policy: CAP_MKNOD is Docker's default, so a container can make a node for
    any device; opening it must fail wherever it can write (rootfs, /dev, tmpfs, binds),
    unless --privileged. c 1 3 is /dev/null's number and 4 1 the host's tty1."""
    script = (
        "for d in /tmp /dev /scratch /bound; do mknod $d/node c 1 3 &&"
        " (echo x > $d/node && echo $d:open || echo $d:denied) 2>/dev/null; done;"
        " echo y > /dev/null && head -c 3 /dev/zero | wc -c && head -c 3 /dev/urandom | wc -c"
    )
    tty1 = "mknod /tmp/console c 4 1 && (echo x > /tmp/console || echo tty1:denied) 2>/dev/null;"
    common = ["--tmpfs", "/scratch", "-v", f"{tmp_path}:/bound", busybox, "sh", "-c"]
    confined = berth("run", "--rm", *common, tty1 + script)
    assert confined.stdout.split() == [
        "tty1:denied",
        "/tmp:denied",
        "/dev:denied",
        "/scratch:denied",
        "/bound:denied",
        "3",
        "3",
    ], confined.stderr
    (tmp_path / "node").unlink()
    privileged = berth("run", "--rm", "--privileged", *common, script).stdout.split()
    assert privileged[:4] == ["/tmp:open", "/dev:open", "/scratch:denied", "/bound:open"]


def test_a_seccomp_profile_file_is_read_at_create(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    """As the docker CLI: the file's JSON is stored at create, so it may go before start."""
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
                ],
            }
        )
    )
    created = berth(
        "create", "--name", "strict", "--security-opt", f"seccomp={profile}", busybox,
        "sh", "-c", "mkdir /tmp/x && echo made || echo refused",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    profile.unlink()
    try:
        started = berth("start", "-a", "strict")
        assert started.stdout == "refused\n", started.stderr
    finally:
        berth("rm", "-f", "strict")


def test_run_rm_whose_start_fails_leaves_no_container(berth: Berth, busybox: str) -> None:
    failed = berth("run", "--rm", "-u", "nobody-at-all", busybox, "true")
    assert failed.returncode == 125 and "unable to find user" in failed.stderr
    assert berth("ps", "-aq").stdout == ""
    kept = berth("run", "--name", "kept", "-u", "nobody-at-all", busybox, "true")
    assert kept.returncode == 125
    assert berth("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout == "kept created\n"
    berth("rm", "kept")


def test_sig_proxy_false_keeps_the_callers_signals(berth: Berth, busybox: str) -> None:
    refused = berth("run", "--rm", "--sig-proxy=maybe", busybox, "true")
    assert refused.returncode == 125 and "invalid boolean value" in refused.stderr
    client = berth.popen("run", "--name", "unproxied", "--sig-proxy=false", busybox, "sleep", "60")
    try:
        deadline = time.monotonic() + 30
        while berth("ps", "-q", "--filter", "name=unproxied").stdout == "":
            assert time.monotonic() < deadline and client.poll() is None
            time.sleep(0.05)
        client.send_signal(signal.SIGTERM)  # ends the client, not the container
        assert client.wait(timeout=30) != 0
        state = json.loads(berth("inspect", "unproxied").stdout)[0]["State"]
        assert state["Status"] == "running"
    finally:
        client.kill()
        client.communicate()
        berth("rm", "-f", "unproxied")


READ_ONLY_IN_PROC = ("/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/sys")


def test_namespaces_mounts_and_dev_seen_from_inside(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    """Each of the six namespaces differs from the caller's (the cgroup one only on cgroup
    v2: on v1 Docker's default is the host's); no host mount or path is visible (pivot_root
    left the old root behind); /proc's sensitive files are read-only; /dev holds Docker's
    minimal set."""
    from berth.cgroups import detect

    kinds = ("mnt", "pid", "uts", "ipc", "net", "cgroup")
    marker = tmp_path / "host-only"
    marker.write_text("host")
    script = (
        f"for n in {' '.join(kinds)}; do readlink /proc/self/ns/$n; done; echo --;"
        " cut -d' ' -f5 /proc/self/mountinfo; echo --;"
        f" test -e {marker} && echo host-visible || echo host-hidden;"
        f" for f in {' '.join(READ_ONLY_IN_PROC)}; do"
        ' grep -q " $f ro," /proc/self/mountinfo && echo $f:ro ||'
        " { test -e $f && echo $f:rw || echo $f:absent; }; done;"
        " ls /dev | tr '\\n' ' '"
    )
    result = berth("run", "--rm", busybox, "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    namespaces, mount_points, rest = result.stdout.split("--\n")
    inside = namespaces.split()
    assert len(inside) == len(kinds)
    shared = {"cgroup"} if detect().version == 1 else set()
    for kind, seen in zip(kinds, inside, strict=True):
        assert (seen == os.readlink(f"/proc/self/ns/{kind}")) == (kind in shared), kind
    points = mount_points.split()
    assert points[0] == "/"
    assert not [p for p in points if p.startswith(("/tmp/pytest", "/work", "/var/lib", "/run/"))]
    lines = rest.splitlines()
    assert lines[0] == "host-hidden"
    # Read-only where the kernel has them (this one may lack sysrq-trigger: no MAGIC_SYSRQ).
    expected = [f"{f}:{'ro' if Path(f).exists() else 'absent'}" for f in READ_ONLY_IN_PROC]
    assert lines[1:5] == expected
    devices = set(lines[5].split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue"} <= devices
    assert not devices & {"sda", "vda", "mem", "kmsg", "tty1", "loop0"}


def test_kill_ends_a_restart_always_container_for_good(berth: Berth, busybox: str) -> None:
    """As Docker's: kill (SIGKILL, or any signal without a configured stop signal) is a manual
    stop, which no restart policy undoes; with a stop signal set, another signal is not."""
    started = berth("run", "-d", "--name", "forever", "--restart", "always", busybox, "sleep", "60")
    assert started.returncode == 0, started.stderr
    trapping = berth(
        "run", "-d", "--name", "trapping", "--restart", "always", "--stop-signal", "USR2",
        busybox, "sh", "-c", "trap 'exit 3' USR1; sleep 60 & wait",
    )  # fmt: skip
    assert trapping.returncode == 0, trapping.stderr
    try:
        assert berth("kill", "forever").returncode == 0
        assert berth("wait", "forever").stdout.strip() == "137"
        assert berth("kill", "-s", "USR1", "trapping").returncode == 0  # not its stop signal
        deadline = time.monotonic() + 30
        while json.loads(berth("inspect", "trapping").stdout)[0]["RestartCount"] < 1:
            assert time.monotonic() < deadline, "a plain signal's exit must restart it"
            time.sleep(0.1)
        time.sleep(0.5)  # a restart, if one were coming, would have begun
        state = json.loads(berth("inspect", "forever").stdout)[0]
        assert (state["State"]["Status"], state["RestartCount"]) == ("exited", 0)
    finally:
        berth("rm", "-f", "forever", "trapping")


def test_format_templates_as_docker_runs_them(berth: Berth, busybox: str) -> None:
    """`--format` is Go's text/template with the docker CLI's functions: on inspect documents
    (a missing field is an error, a missing label no value), on ps rows (with `.Label`) and
    tables, and on images; bad templates fail in Docker's words, never with a traceback."""
    made = berth(
        "create", "--name", "fmt", "-l", "com.example.vendor=ACME", "-p", "8080:80", busybox
    )
    assert made.returncode == 0, made.stderr
    expected = {
        '{{(index (index .HostConfig.PortBindings "80/tcp") 0).HostPort}}': "8080",
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}": "com.example.vendor=ACME;",
        '{{.State.Status | printf "%q"}} {{if eq .State.Status "created" "exited"}}new{{end}}': (
            '"created" new'
        ),
        '{{.Config.Labels.nope}}|{{index .Config.Labels "nope"}}|{{json .Config.Labels}}': (
            '<no value>||{"com.example.vendor":"ACME"}'
        ),
        '{{upper (truncate .Name 3)}} {{join (split .Name "f") "-"}} {{len .Id}}': "/FM /-mt 64",
    }
    for template, output in expected.items():
        result = berth("inspect", "--format", template, "fmt")
        assert (result.returncode, result.stdout) == (0, output + "\n"), (template, result.stderr)
    table = 'table {{.Names}}\\t{{.Label "com.example.vendor"}}\\t{{.State}}'
    assert berth("ps", "-a", "--format", table).stdout.splitlines() == [
        "NAMES     vendor    STATE",
        "fmt       ACME      created",
    ]
    assert berth("images", "busybox", "--format", "{{.Repository}} {{len .ID}}").stdout == (
        "busybox 12\n"
    )
    failures = {
        ("inspect", "-f", "{{.Nope}}", "fmt"): (
            'template parsing error: template: :1:2: executing "" at <.Nope>: '
            'map has no entry for key "Nope"'
        ),
        ("ps", "-a", "--format", "{{.Names"): "template: :1: unclosed action",
        ("version", "--format", "{{if .Client}}"): "template: version:1: unexpected EOF",
        ("images", "--format", "{{.ID | truncate 4}}"): "expected string; found 4",
    }
    for args, message in failures.items():
        result = berth(*args)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr and result.stdout == ""
