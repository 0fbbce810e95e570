"""berth's own runtime against the real kernel: namespaces, mounts, credentials, lifecycle.

Every assertion is made from inside the container: a `sh -c` script prints what it sees to
a pipe the test reads. The busybox rootfs lives on a tmpfs of the module's own (unmounted at
the end); each test writes its own config.json next to it. The test process becomes a child
subreaper for the module, as the monitor is, so the container's pid 1 is its child and
`os.waitpid` gives its exit status.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from berth.cgroups import detect
from berth.container.spec import DEFAULT_CAPABILITIES
from berth.errors import Conflict, NotFound, SystemFailure
from berth.runtime import CommandFailed, Runtime, Stdio
from berth.sys import MNT_DETACH, MS_BIND, MS_SHARED, mount, umount
from berth.sys import process as proc
from tests.fixtures.bundle import capability_mask, default_spec, make_rootfs, write_bundle
from tests.fixtures.procs import parent_of

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and mounts need root")

WAIT_SECONDS = 20


@dataclass
class Box:
    """The module's playground: a shared rootfs, a runtime, and a counter for bundle names."""

    root: Path
    rootfs: Path
    runtime: Runtime
    count: int = 0

    def bundle(self, spec: dict[str, Any]) -> Path:
        self.count += 1
        bundle = self.root / "bundles" / str(self.count)
        bundle.mkdir(parents=True)
        spec["root"]["path"] = str(self.rootfs)  # absolute: one rootfs for every bundle
        return write_bundle(bundle, spec)


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    root = tmp_path_factory.mktemp("runtime")
    mount("tmpfs", root, "tmpfs", 0, "mode=755")
    proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)
    try:
        rootfs = root / "rootfs"
        make_rootfs(rootfs)
        (rootfs / "notexec").write_text("#!/bin/sh\n")
        os.chmod(rootfs / "notexec", 0o644)
        yield Box(root, rootfs, Runtime(root / "state"))
    finally:
        proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 0)
        umount(root, MNT_DETACH)


@dataclass
class Ran:
    status: int
    output: str

    @property
    def code(self) -> int:
        return os.waitstatus_to_exitcode(self.status)

    def lines(self) -> list[str]:
        return self.output.splitlines()


def _read_all(fd: int) -> str:
    chunks = []
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode()


def _wait(pid: int) -> int:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"container pid {pid} did not exit")


class Started:
    """A created-and-started container whose output goes to a pipe."""

    def __init__(self, box: Box, spec: dict[str, Any], name: str) -> None:
        self.box, self.name = box, name
        read, write = os.pipe()
        self.read = read
        try:
            self.pid = box.runtime.create(name, box.bundle(spec), Stdio(0, write, write))
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)

    def finish(self) -> Ran:
        try:
            output = _read_all(self.read)
            return Ran(_wait(self.pid), output)
        finally:
            os.close(self.read)
            self.box.runtime.delete(self.name)


def run(box: Box, spec: dict[str, Any], name: str = "c") -> Ran:
    container = Started(box, spec, name)
    box.runtime.start(name)
    return container.finish()


def sh(script: str, **changes: Any) -> dict[str, Any]:
    spec = default_spec(["sh", "-c", script])
    spec["process"].update(changes)
    return spec


def _status_field(output: str, field: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith(field + ":"))
    return int(line.split()[1], 16)


# -- isolation ---------------------------------------------------------------------------


def test_pid_namespace_hides_the_host(box: Box) -> None:
    ran = run(box, sh("echo pid=$$; ls /proc | grep -c '^[0-9][0-9]*$'; ps -o pid,comm"))
    assert ran.code == 0, ran.output
    lines = ran.lines()
    assert lines[0] == "pid=1"
    assert int(lines[1]) <= 4  # sh, ls, grep: nothing of the host's hundreds
    assert "pytest" not in ran.output and "python" not in ran.output


def test_hostname_and_network_namespace(box: Box) -> None:
    spec = sh("hostname; ls /sys/class/net; cat /proc/net/dev | tail -n +3 | cut -d: -f1")
    spec["hostname"] = "boxed"
    ran = run(box, spec)
    assert ran.code == 0, ran.output
    assert ran.lines()[0] == "boxed"
    assert [line.strip() for line in ran.lines()[1:]] == ["lo", "lo"]


def test_masked_and_readonly_paths(box: Box) -> None:
    # /proc/kcore is masked too, but this VM's kernel has none: timer_list and keys stand in.
    assert Path("/proc/timer_list").exists() and Path("/proc/keys").exists()
    script = (
        "echo timer_list=$(cat /proc/timer_list | wc -c);"
        "(echo 1 > /proc/sys/kernel/domainname) 2>/dev/null; echo procsys=$?;"
        "mkdir /sys/fs/berth 2>/dev/null; echo sys=$?;"
        "echo keys=$(cat /proc/keys | wc -c);"
        "ls /sys/firmware | wc -l"
    )
    ran = run(box, sh(script))
    assert ran.code == 0, ran.output
    assert ran.lines() == ["timer_list=0", "procsys=1", "sys=1", "keys=0", "0"]


def test_dev_holds_only_the_allowed_nodes(box: Box) -> None:
    ran = run(box, sh("ls /dev; echo x > /dev/null && head -c 4 /dev/zero | wc -c; ls /dev/pts"))
    assert ran.code == 0, ran.output
    names = set(ran.lines())
    allowed = {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm"}
    allowed |= {"mqueue", "fd", "stdin", "stdout", "stderr", "core", "4", "ptmx"}
    assert {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts"} <= names
    assert names <= allowed, names - allowed


# -- credentials ---------------------------------------------------------------------------


def test_default_capabilities(box: Box) -> None:
    ran = run(box, sh("grep -E '^(Cap|NoNewPrivs)' /proc/self/status"))
    assert ran.code == 0, ran.output
    expected = capability_mask(DEFAULT_CAPABILITIES)
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert _status_field(ran.output, field) == expected, field
    assert _status_field(ran.output, "CapInh") == 0
    assert _status_field(ran.output, "NoNewPrivs") == 0


def test_dropped_capability_takes_effect(box: Box) -> None:
    caps = [c for c in DEFAULT_CAPABILITIES if c != "CAP_CHOWN"]
    spec = sh(
        "touch /tmp/owned; chown 1 /tmp/owned 2>/dev/null; echo chown=$?;"
        "grep -E '^Cap(Eff|Bnd)' /proc/self/status",
        noNewPrivileges=True,
    )
    spec["process"]["capabilities"] = {
        "bounding": caps,
        "effective": caps,
        "permitted": caps,
        "inheritable": [],
    }
    ran = run(box, spec)
    assert ran.lines()[0] == "chown=1", ran.output
    assert _status_field(ran.output, "CapEff") == capability_mask(caps)
    assert _status_field(ran.output, "CapBnd") == capability_mask(caps)


def test_user_switch_and_no_new_privs(box: Box) -> None:
    spec = sh(
        "id -u; id -g; id -G; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status",
        user={"uid": 1000, "gid": 1001, "additionalGids": [5, 1002]},
        noNewPrivileges=True,
    )
    ran = run(box, spec)
    assert ran.code == 0, ran.output
    assert ran.lines()[:3] == ["1000", "1001", "1001 5 1002"]
    # A non-root process keeps the bounding set, but execve clears its effective set.
    assert _status_field(ran.output, "CapEff") == 0
    assert _status_field(ran.output, "CapBnd") == capability_mask(DEFAULT_CAPABILITIES)
    assert _status_field(ran.output, "NoNewPrivs") == 1


def test_sysctl_umask_oom_score_and_devices(box: Box) -> None:
    spec = sh(
        "cat /proc/sys/kernel/domainname; umask; cat /proc/self/oom_score_adj;"
        "stat -c '%t,%T %a %u' /dev/mynull; echo x > /dev/mynull && echo written"
    )
    spec["linux"]["sysctl"] = {"kernel.domainname": "example.org"}
    spec["process"]["user"]["umask"] = 0o027
    spec["process"]["oomScoreAdj"] = 500
    spec["linux"]["devices"] = [
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 7}
    ]
    ran = run(box, spec)
    assert ran.lines() == ["example.org", "0027", "500", "1,3 600 7", "written"], ran.output


def test_rlimits_are_applied_and_clamped(box: Box, caplog: pytest.LogCaptureFixture) -> None:
    spec = sh("ulimit -n; ulimit -Hn; ulimit -Hu")
    spec["process"]["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048},
        # Above the inherited hard limit: clamped, not refused (root lacks CAP_SYS_RESOURCE).
        {"type": "RLIMIT_NPROC", "soft": 1 << 40, "hard": 1 << 40},
    ]
    import resource

    _, nproc_hard = resource.getrlimit(resource.RLIMIT_NPROC)
    with caplog.at_level(logging.WARNING, logger="berth.runtime.runtime"):
        ran = run(box, spec)
    assert ran.code == 0, ran.output
    assert ran.lines()[:2] == ["1024", "2048"]
    if nproc_hard != resource.RLIM_INFINITY:
        assert "RLIMIT_NPROC hard limit" in caplog.text
    expected = "unlimited" if nproc_hard == resource.RLIM_INFINITY else str(nproc_hard)
    assert ran.lines()[2] == expected


# -- mounts ----------------------------------------------------------------------------------


def test_bind_mounts_rw_and_ro(box: Box) -> None:
    rw, ro = box.root / "data-rw", box.root / "data-ro"
    rw.mkdir()
    ro.mkdir()
    (ro / "seen").write_text("from the host\n")
    spec = sh(
        "echo hello > /rw/written; echo rw=$?; cat /ro/seen;touch /ro/nope 2>/dev/null; echo ro=$?"
    )
    spec["mounts"] += [
        {"destination": "/rw", "type": "bind", "source": str(rw), "options": ["rbind", "rw"]},
        {"destination": "/ro", "type": "bind", "source": str(ro), "options": ["bind", "ro"]},
    ]
    ran = run(box, spec)
    assert ran.lines() == ["rw=0", "from the host", "ro=1"], ran.output
    assert (rw / "written").read_text() == "hello\n"
    assert not (ro / "nope").exists()


def test_host_mounts_propagate_into_an_rslave_volume(box: Box) -> None:
    volume = box.root / "shared-volume"
    volume.mkdir()
    mount(str(volume), str(volume), None, MS_BIND)
    mount(None, str(volume), None, MS_SHARED)  # a shared peer group the container slaves to
    try:
        spec = sh(
            "echo up; i=0; while ! grep -q ' /vol/sub ' /proc/self/mountinfo; do"
            " i=$((i+1)); [ $i -gt 200 ] && echo timeout && exit 1; sleep 0.05; done; echo seen"
        )
        spec["mounts"].append(
            {
                "destination": "/vol",
                "type": "bind",
                "source": str(volume),
                "options": ["rbind", "rslave"],
            }
        )
        container = Started(box, spec, "p")
        box.runtime.start("p")
        _wait_for_output(container.read, b"up")
        (volume / "sub").mkdir()
        mount("tmpfs", str(volume / "sub"), "tmpfs")
        ran = container.finish()
        assert ran.lines() == ["seen"], ran.output  # "up" was read by the wait
    finally:
        umount(str(volume), MNT_DETACH)


def test_mount_destination_cannot_escape_the_rootfs(box: Box) -> None:
    outside = box.root / "outside"
    outside.mkdir()
    (box.rootfs / "escape").symlink_to("../../../" + str(outside))
    try:
        spec = sh("ls /escape/")
        spec["mounts"].append(
            {"destination": "/escape/target", "type": "tmpfs", "source": "tmpfs", "options": []}
        )
        ran = run(box, spec)
        assert ran.code == 0, ran.output
        assert not (outside / "target").exists()  # made inside the rootfs instead
    finally:
        (box.rootfs / "escape").unlink()
        for leftover in (box.rootfs / "tmp", box.rootfs / "target"):
            if leftover.name == "target" and leftover.exists():
                leftover.rmdir()


def test_cgroupfs_is_the_containers_own_and_readonly(box: Box) -> None:
    ran = run(
        box,
        sh("cut -d: -f3 /proc/self/cgroup | sort -u; mkdir /sys/fs/cgroup/pids/x; echo mkdir=$?"),
    )
    assert ran.lines()[0] == "/", ran.output  # the cgroup namespace's root
    assert ran.lines()[-1] == "mkdir=1"
    assert "Read-only file system" in ran.output


def _run_in_cgroup(box: Box, spec: dict[str, Any], group: Path) -> str:
    """The output of `spec` run without a cgroup namespace, its only cgroup `group`."""
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "cgroup"]
    read, write = os.pipe()
    try:
        try:
            stdio, procs = Stdio(0, write, write), [group / "cgroup.procs"]
            pid = box.runtime.create("g", box.bundle(spec), stdio, cgroup_procs=procs)
        finally:
            os.close(write)
        box.runtime.start("g")
        output = _read_all(read)
        _wait(pid)
    finally:
        os.close(read)
        box.runtime.delete("g")
    return output


def test_cgroupfs_without_a_cgroup_namespace_binds_the_containers_own(box: Box) -> None:
    parent = Path("/sys/fs/cgroup/pids") / os.environ.get("BERTH_CGROUP_PARENT", "berth-test")
    group, probe = parent / "runtime-own", parent / "runtime-probe"
    group.mkdir(parents=True, exist_ok=True)
    probe.mkdir(exist_ok=True)  # a sibling: must not be visible inside
    spec = sh("cat /proc/self/cgroup | grep pids; ls /sys/fs/cgroup/pids | grep -c -e probe -e own")
    try:
        output = _run_in_cgroup(box, spec, group)
    finally:
        group.rmdir()
        probe.rmdir()
    lines = output.splitlines()
    assert lines[0].endswith(f"/{parent.name}/runtime-own"), output  # no namespace: host paths
    assert lines[1] == "0", output


def test_pid1_with_one_cgroup2_directory_is_born_in_it(box: Box) -> None:
    """A container whose only cgroup is a cgroup2 directory (v2 hosts; here the hybrid
    host's own cgroup2 mount) has pid 1 created inside it (clone3's CLONE_INTO_CGROUP)."""
    unified = detect().unified
    if unified is None:
        pytest.skip("no cgroup2 mount")
    parent = os.environ.get("BERTH_CGROUP_PARENT", "berth-test")
    group = unified.mount_point / f"{parent}-runtime-born"
    group.mkdir()
    try:
        output = _run_in_cgroup(box, sh("grep '^0::' /proc/self/cgroup"), group)
    finally:
        group.rmdir()
    assert output.strip() == f"0::/{group.name}", output


def test_readonly_root(box: Box) -> None:
    spec = sh("touch /newfile 2>/dev/null; echo root=$?; echo ok > /dev/shm/x && cat /dev/shm/x")
    spec["root"]["readonly"] = True
    ran = run(box, spec)
    assert ran.lines() == ["root=1", "ok"], ran.output
    assert not (box.rootfs / "newfile").exists()


# -- exit, signals, exec, errors ------------------------------------------------------------


def test_exit_status_reaches_waitpid(box: Box) -> None:
    ran = run(box, sh("exit 3"))
    assert os.WIFEXITED(ran.status) and os.WEXITSTATUS(ran.status) == 3


def test_kill_delivers_signals(box: Box) -> None:
    trapped = Started(
        box, sh("trap 'echo got-term; exit 7' TERM; echo up; while :; do sleep 0.05; done"), "t"
    )
    box.runtime.start("t")
    _wait_for_output(trapped.read, b"up")
    box.runtime.kill("t", signal.SIGTERM)
    ran = trapped.finish()
    assert ran.code == 7 and "got-term" in ran.output

    killed = Started(box, sh("sleep 100"), "k")
    box.runtime.start("k")
    box.runtime.kill("k", signal.SIGKILL)
    ran = killed.finish()
    assert os.WIFSIGNALED(ran.status) and os.WTERMSIG(ran.status) == signal.SIGKILL


def test_kill_all_reaches_every_process_without_a_pid_namespace(box: Box) -> None:
    spec = sh("sleep 100 & echo $!; wait")
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "pid"]
    container = Started(box, spec, "h")
    box.runtime.start("h")
    seen = b""
    deadline = time.monotonic() + WAIT_SECONDS
    while b"\n" not in seen and time.monotonic() < deadline:
        if select.select([container.read], [], [], 0.5)[0]:
            seen += os.read(container.read, 100)
    sleeper = int(seen.split()[0])  # a host pid: the host's pid namespace is shared
    box.runtime.kill("h", signal.SIGKILL, all_processes=True)
    ran = container.finish()
    assert os.WIFSIGNALED(ran.status)
    try:
        status = _wait(sleeper)  # orphaned to us, the subreaper
    except ChildProcessError:  # killed first and reaped by the shell before it died: gone
        assert not Path(f"/proc/{sleeper}").exists()
        return
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def _wait_for_output(fd: int, marker: bytes) -> None:
    seen = b""
    deadline = time.monotonic() + WAIT_SECONDS
    while marker not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            seen += os.read(fd, 4096)


def test_exec_joins_the_container(box: Box) -> None:
    spec = sh("echo up; exec sleep 100")
    spec["hostname"] = "exec-box"
    container = Started(box, spec, "e")
    box.runtime.start("e")
    _wait_for_output(container.read, b"up")
    read, write = os.pipe()
    process = {
        "args": ["sh", "-c", "hostname; echo pid=$$; cat /proc/1/comm; id -u"],
        "env": ["PATH=/bin"],
        "cwd": "/tmp",
        "user": {"uid": 1000, "gid": 1000},
        "capabilities": {"bounding": list(DEFAULT_CAPABILITIES)},
    }
    try:
        helper: Any = box.runtime.exec("e", process, Stdio(0, write, write))
    finally:
        os.close(write)
    output = _read_all(read)
    os.close(read)
    code = helper.wait(WAIT_SECONDS) if hasattr(helper, "wait") else _wait(helper)
    box.runtime.kill("e", signal.SIGKILL)
    container.finish()
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "exec-box"
    assert lines[1] != "pid=1" and int(lines[1].removeprefix("pid=")) < 50
    assert lines[2:] == ["sleep", "1000"]


def test_command_not_found_is_127(box: Box) -> None:
    container = Started(box, default_spec(["no-such-command"]), "n")
    with pytest.raises(CommandFailed) as raised:
        box.runtime.start("n")
    assert raised.value.exit_status == 127
    assert str(raised.value) == 'exec: "no-such-command": executable file not found in $PATH'
    container.finish()


def test_exec_of_a_missing_command_is_127(box: Box) -> None:
    container = Started(box, sh("echo up; exec sleep 100"), "m")
    box.runtime.start("m")
    _wait_for_output(container.read, b"up")
    try:
        with pytest.raises(CommandFailed) as raised:
            box.runtime.exec(
                "m", {"args": ["nope"], "env": ["PATH=/bin"], "cwd": "/"}, Stdio(0, 1, 2)
            )
        assert raised.value.exit_status == 127
        with pytest.raises(Conflict):
            box.runtime.start("m")  # started already
    finally:
        box.runtime.kill("m", signal.SIGKILL)
        container.finish()


def test_not_executable_is_126(box: Box) -> None:
    container = Started(box, default_spec(["/notexec"]), "x")
    with pytest.raises(CommandFailed) as raised:
        box.runtime.start("x")
    assert raised.value.exit_status == 126
    assert "permission denied" in str(raised.value)
    container.finish()


# -- lifecycle -------------------------------------------------------------------------------


def _host_mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as stream:
        return [line for line in stream if f" {path}/" in line or f" {path} " in line]


def _children_of(pid: int) -> list[int]:
    return [
        int(entry)
        for entry in os.listdir("/proc")
        if entry.isdigit() and parent_of(int(entry)) == pid
    ]


def test_states_and_delete_leave_nothing(box: Box) -> None:
    mounts_before = _host_mounts_under(box.rootfs)
    container = Started(box, sh("read line; echo got-$line"), "s")
    assert box.runtime.state("s").status == "created"
    assert box.runtime.state("s").pid == container.pid
    box.runtime.start("s")
    assert box.runtime.state("s").status == "running"
    os.kill(container.pid, signal.SIGKILL)
    _wait(container.pid)
    assert box.runtime.state("s").status == "stopped"
    assert box.runtime.state("s").pid is None
    os.close(container.read)
    box.runtime.delete("s")
    assert not (box.root / "state" / "s").exists()
    assert _host_mounts_under(box.rootfs) == mounts_before  # the container's stayed in its ns
    with pytest.raises(NotFound):
        box.runtime.state("s")


def test_failed_setup_is_reported_and_leaves_nothing(box: Box) -> None:
    spec = sh("true")
    spec["mounts"].append(
        {"destination": "/x", "type": "bind", "source": "/no/such/source", "options": ["bind"]}
    )
    children = _children_of(os.getpid())
    with pytest.raises(SystemFailure, match="/no/such/source"):
        Started(box, spec, "f")
    assert not (box.root / "state" / "f").exists()
    assert _children_of(os.getpid()) == children  # the half-built pid 1 was reaped


def test_a_stuck_init_fails_the_create(box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    """An init that never answers (here: blocked opening a FIFO given as its cgroup.procs)
    is killed when the create gives up, and nothing is left."""
    from berth.runtime import spawn

    monkeypatch.setattr(spawn, "CREATE_TIMEOUT", 1)
    fifo = box.root / "stuck.procs"
    os.mkfifo(fifo)
    children = _children_of(os.getpid())
    read, write = os.pipe()
    try:
        with pytest.raises(SystemFailure, match="did not answer"):
            box.runtime.create(
                "stuck", box.bundle(sh("true")), Stdio(0, write, write), cgroup_procs=[fifo]
            )
    finally:
        os.close(read)
        os.close(write)
        fifo.unlink()
    assert _children_of(os.getpid()) == children
    assert not (box.root / "state" / "stuck").exists()


def test_delete_kills_a_created_container(box: Box) -> None:
    container = Started(box, sh("echo never"), "d")
    box.runtime.delete("d")
    status = _wait(container.pid)
    assert os.WIFSIGNALED(status)
    os.close(container.read)
    assert not (box.root / "state" / "d").exists()
    assert container.pid not in _children_of(os.getpid())


def test_runc_accepts_the_same_bundle(box: Box) -> None:
    """The fixture's spec is a real OCI spec: runc runs it too (when installed)."""
    runc = Path("/usr/sbin/runc")
    if not runc.exists():
        pytest.skip("runc is not installed")
    bundle = box.bundle(sh("hostname; echo $$"))
    result = subprocess.run(
        [str(runc), "--root", str(box.root / "runc"), "run", "--bundle", str(bundle), "runc-t"],
        check=False,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["berth-test", "1"]
