"""`berth-runtime`, berth's runtime behind runc's command line, driven as its callers drive it:
the OCI lifecycle by hand, conmon running it (the output in conmon's log, the exit code in its
exit file), and podman using it as its OCI runtime.

The busybox rootfs (tests.fixtures.bundle) lives on a tmpfs of the module's own, with the
runtime's state (--root) beside it; each test writes its bundles there. Containers' cgroups go
under the session's cgroup parent. A test that waits for a container's pid 1 itself becomes a
child subreaper meanwhile (as conmon is), since `create` exits and leaves pid 1 to the
nearest subreaper. Everything a test makes is deleted by it, and checked gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from berth.sys import MNT_DETACH, mount, umount
from berth.sys import process as proc
from tests.conftest import CGROUP_PARENT
from tests.fixtures.bundle import default_spec, make_rootfs, write_bundle
from tests.fixtures.leaks import CGROUP_ROOT, mounts_under

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")

RUNTIME = Path(sys.executable).with_name("berth-runtime")
CONMON = shutil.which("conmon")
PODMAN = shutil.which("podman")
WAIT_SECONDS = 20.0


@dataclass
class Rig:
    """The module's rootfs and runtime root, and a counter for bundle and container names."""

    base: Path
    rootfs: Path
    count: int = 0

    @property
    def state(self) -> Path:
        return self.base / "state"

    def bundle(self, args: list[str], **process: Any) -> tuple[str, Path]:
        """A new container name and its bundle running `args`."""
        self.count += 1
        name = f"rt{self.count}"
        bundle = self.base / "bundles" / name
        bundle.mkdir(parents=True)
        spec = default_spec(args)
        spec["process"].update(process)
        spec["root"]["path"] = str(self.rootfs)
        spec["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/{name}"
        spec["annotations"] = {"test": name}
        return name, write_bundle(bundle, spec)

    def run(self, *args: str, **popen: Any) -> subprocess.CompletedProcess[str]:
        """berth-runtime on this rig's root. Output is captured through a file, not a pipe:
        a container's init keeps `create`'s stdout and stderr (they are the container's), so
        a pipe would see no end-of-file when the command exits."""
        argv = [str(RUNTIME), "--root", str(self.state), *args]
        with open(self.base / "stderr", "w+") as errors:
            popen.setdefault("stdin", subprocess.DEVNULL)
            popen.setdefault("stderr", errors)
            with open(self.base / "stdout", "w+") as output:
                popen.setdefault("stdout", output)
                result = subprocess.run(argv, timeout=WAIT_SECONDS, check=False, **popen)
                output.seek(0)
                result.stdout = output.read()
            errors.seek(0)
            result.stderr = errors.read()
        return result

    def state_of(self, name: str) -> dict[str, Any]:
        result = self.run("state", name)
        assert result.returncode == 0, result.stderr
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    def remove(self, name: str) -> None:
        """delete --force, and nothing of the container left: state, cgroup."""
        result = self.run("delete", "--force", name)
        assert result.returncode == 0, result.stderr
        assert not (self.state / name).exists()
        assert not cgroup_dirs(f"{CGROUP_PARENT}/{name}")


def cgroup_dirs(relative: str) -> list[Path]:
    return [h / relative for h in CGROUP_ROOT.iterdir() if (h / relative).is_dir()]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    if not RUNTIME.exists():
        pytest.fail(f"{RUNTIME} is missing: the install (scripts/setup) makes it")
    base = tmp_path_factory.mktemp("runtime-cli")
    mount("tmpfs", base, "tmpfs", 0, "mode=755")
    rig = Rig(base, base / "rootfs")
    try:
        make_rootfs(rig.rootfs)
        yield rig
    finally:
        left = [p.name for p in base.joinpath("state").glob("*") if p.name != "seccomp"]
        for name in left:  # a failed test's containers: killed, their cgroups removed
            rig.run("delete", "--force", name)
        umount(base, MNT_DETACH)
    assert left == [], "containers left behind"


@pytest.fixture
def subreaper() -> Iterator[None]:
    """This process adopts the containers' pid 1s (as conmon would) while the test runs."""
    proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)
    try:
        yield
    finally:
        proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 0)


def wait_exit(pid: int) -> int:
    """The exit code of our adopted child `pid`."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"pid {pid} did not exit")


def read_until(fd: int, wanted: str) -> str:
    """What `fd` gives until `wanted` appears in it (or end-of-file: EIO on a pty master
    once the last slave closed)."""
    text = ""
    deadline = time.monotonic() + WAIT_SECONDS
    while wanted not in text and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            text += chunk.decode(errors="replace")
    return text


def test_lifecycle_create_start_state_kill_delete(rig: Rig, subreaper: None) -> None:
    script = "trap 'echo term; exit 3' TERM; echo ready; while :; do sleep 1 & wait $!; done"
    name, bundle = rig.bundle(["sh", "-c", script])
    pid_file = bundle / "init.pid"
    read, write = os.pipe()
    try:
        created = rig.run(
            "create", "--bundle", str(bundle), "--pid-file", str(pid_file), name,
            stdin=subprocess.DEVNULL, stdout=write, stderr=write,
        )  # fmt: skip
        os.close(write)
        write = -1
        assert created.returncode == 0
        pid = int(pid_file.read_text())
        state = rig.state_of(name)
        assert state["status"] == "created" and state["pid"] == pid
        assert state["id"] == name and state["bundle"] == str(bundle)
        assert state["annotations"] == {"test": name} and state["ociVersion"] == "1.0.2"
        # The command exited; its init waits, adopted by this subreaper, not yet running `sh`.
        assert os.readlink(f"/proc/{pid}/exe") != "/bin/busybox"
        assert Path(f"/proc/{pid}/status").read_text().count(f"PPid:\t{os.getpid()}\n") == 1
        assert (cgroup := cgroup_dirs(f"{CGROUP_PARENT}/{name}"))
        assert str(pid) in (cgroup[0] / "cgroup.procs").read_text().split()

        assert rig.run("start", name).returncode == 0
        assert "ready" in read_until(read, "ready")
        assert rig.state_of(name)["status"] == "running"
        again = rig.run("start", name)
        assert again.returncode == 1 and "cannot start an already running container" in again.stderr
        assert rig.run("delete", name).returncode == 1  # running: only --force deletes it

        assert rig.run("kill", name, "TERM").returncode == 0
        assert "term" in read_until(read, "term")
        assert wait_exit(pid) == 3
        state = rig.state_of(name)
        assert (state["status"], state["pid"]) == ("stopped", 0)
        assert rig.run("kill", name, "KILL").returncode == 1  # not running
        assert rig.run("kill", "--all", name, "9").returncode == 0
        assert rig.run("delete", name).returncode == 0
        assert not (rig.state / name).exists() and not cgroup_dirs(f"{CGROUP_PARENT}/{name}")
    finally:
        os.close(read)
        if write >= 0:
            os.close(write)
        rig.run("delete", "--force", name)


def test_errors_use_runc_words_status_and_json_log(rig: Rig, subreaper: None) -> None:
    log = rig.base / "runtime.log"
    for args in (["state", "nope"], ["start", "nope"], ["kill", "nope"], ["delete", "nope"]):
        result = rig.run("--log", str(log), "--log-format=json", *args)
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr == "container does not exist\n"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(line["level"], line["msg"]) for line in lines] == [
        ("error", "container does not exist")
    ] * 4
    assert all(line["time"].endswith("Z") for line in lines)
    text = rig.run("state", "nope")  # no --log: runc's text format on stderr
    assert (
        text.stderr.startswith('time="')
        and 'level=error msg="container does not exist"' in text.stderr
    )
    assert rig.run("delete", "--force", "nope").returncode == 0
    assert rig.run("frobnicate", "x").returncode == 3
    features = json.loads(rig.run("features").stdout)  # what a caller may rely on
    assert features["linux"]["cgroup"]["systemd"] is False and features["hooks"] == []
    assert rig.run("create", "--bogus", "x").returncode == 1

    name, bundle = rig.bundle(["no-such-command"])
    missing = rig.run("--log", str(log), "--log-format", "json", "create", "-b", str(bundle), name)
    assert missing.returncode == 1
    assert 'exec: "no-such-command": executable file not found in $PATH' in missing.stderr
    assert "executable file not found" in json.loads(log.read_text().splitlines()[-1])["msg"]
    assert not (rig.state / name).exists() and not cgroup_dirs(f"{CGROUP_PARENT}/{name}")

    name, bundle = rig.bundle(["sleep", "100"])
    assert rig.run("create", "--bundle", str(bundle), name).returncode == 0
    try:
        exists = rig.run("create", "--bundle", str(bundle), name)
        assert exists.returncode == 1 and "container with id exists" in exists.stderr
        assert rig.run("delete", name).returncode == 0  # created, never started: deletable
        assert not (rig.state / name).exists() and not cgroup_dirs(f"{CGROUP_PARENT}/{name}")
    finally:
        rig.run("delete", "--force", name)


def test_warnings_go_to_the_log_not_the_containers_stderr(rig: Rig, subreaper: None) -> None:
    """A limit above the inherited hard one is lowered with a warning (root lacks
    CAP_SYS_RESOURCE here): the warning is the runtime's, in its log; the container's
    stderr, which `create` shares with it, holds only what the container wrote."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limit = {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": hard + 1000}
    name, bundle = rig.bundle(["sh", "-c", "ulimit -Hn"], rlimits=[limit])
    log = rig.base / "warnings.log"
    output, errors = bundle / "out", bundle / "err"
    with open(output, "w") as out, open(errors, "w") as err:
        argv = ["--log", str(log), "--log-format", "json", "create", "-b", str(bundle)]
        created = rig.run(*argv, "--pid-file", str(bundle / "pid"), name, stdout=out, stderr=err)
    try:
        assert created.returncode == 0
        assert rig.run("start", name).returncode == 0
        assert wait_exit(int((bundle / "pid").read_text())) == 0
        assert (output.read_text(), errors.read_text()) == (f"{hard}\n", "")
        [warning] = [json.loads(line) for line in log.read_text().splitlines()]
        assert warning["level"] == "warning"
        assert f"RLIMIT_NOFILE hard limit {hard + 1000} lowered" in warning["msg"]
    finally:
        rig.remove(name)


@pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")
def test_a_bundle_from_runc_spec_runs(rig: Rig, subreaper: None) -> None:
    """`runc spec`'s own config (read-only root, ambient capabilities it can't raise without
    inheritable ones, runc's mounts), on the busybox rootfs, with the output to a file."""
    name, bundle = rig.bundle([])
    (bundle / "config.json").unlink()
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True, timeout=30)
    spec = json.loads((bundle / "config.json").read_text())
    spec["root"]["path"] = str(rig.rootfs)
    spec["process"].update(terminal=False, args=["sh", "-c", "grep ^Cap /proc/self/status"])
    spec["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/{name}"
    write_bundle(bundle, spec)
    with open(bundle / "out", "w") as out:
        argv = ["create", "-b", str(bundle), "--pid-file", str(bundle / "pid"), name]
        assert rig.run(*argv, stdout=out).returncode == 0
    try:
        assert rig.run("start", name).returncode == 0
        assert wait_exit(int((bundle / "pid").read_text())) == 0
        status = dict(line.split(":\t") for line in (bundle / "out").read_text().splitlines())
        assert status["CapPrm"] == status["CapBnd"] == "0000000020000420"  # the 3 it asks for
        assert status["CapAmb"] == "0000000000000000"
    finally:
        rig.remove(name)


def test_console_socket_gets_the_pty_master(rig: Rig, subreaper: None) -> None:
    name, bundle = rig.bundle(["sh", "-c", "tty; test -t 0 && echo yes"], terminal=True)
    path = rig.base / "console.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(1)
        pid_file = bundle / "init.pid"
        argv = ["create", "-b", str(bundle), "--pid-file", str(pid_file)]
        created = rig.run(*argv, "--console-socket", str(path), name)
        assert created.returncode == 0, created.stderr
        connection, _ = listener.accept()
        with connection:
            _, fds, _, _ = socket.recv_fds(connection, 1024, 1)
    master = fds[0]
    try:
        assert rig.run("start", name).returncode == 0
        output = read_until(master, "yes\r\n")
        assert output == "/dev/pts/0\r\nyes\r\n"  # a pty of the container's own devpts
        assert wait_exit(int(pid_file.read_text())) == 0
    finally:
        os.close(master)
        rig.remove(name)


def test_exec_runs_in_the_container(rig: Rig, subreaper: None) -> None:
    name, bundle = rig.bundle(["sleep", "100"], env=["PATH=/bin", "WHO=init"])
    assert rig.run("create", "--bundle", str(bundle), name).returncode == 0
    try:
        assert rig.run("start", name).returncode == 0
        ran = rig.run("exec", "-e", "EXTRA=1", name, "sh", "-c", 'echo "$WHO $EXTRA $$"; exit 4')
        assert (ran.returncode, ran.stdout) == (4, "init 1 2\n")  # pid 2: in its pid namespace
        process = {"args": ["cat", "/proc/self/cgroup"], "cwd": "/", "env": ["PATH=/bin"]}
        (bundle / "process.json").write_text(json.dumps(process))
        pid_file = bundle / "exec.pid"
        read, write = os.pipe()
        try:
            detached = rig.run(
                "exec", "--process", str(bundle / "process.json"), "--detach",
                "--pid-file", str(pid_file), name, stdout=write,
            )  # fmt: skip
            os.close(write)
            write = -1
            assert detached.returncode == 0
            assert wait_exit(int(pid_file.read_text())) == 0  # adopted: the helper's status
            # In the container's cgroup: its cgroup namespace's root, not a path above it.
            assert ":memory:/\n" in read_until(read, "0::/")
        finally:
            os.close(read)
            if write >= 0:
                os.close(write)
    finally:
        rig.remove(name)


@pytest.mark.skipif(CONMON is None, reason="conmon is not installed")
def test_conmon_runs_berth_runtime(rig: Rig) -> None:
    """conmon (podman's monitor) creates the container through berth-runtime, logs its
    output and records its exit code; berth-runtime's create leaves nothing running of its
    own."""
    name, bundle = rig.bundle(["sh", "-c", "echo out; echo err >&2; exit 7"])
    work = rig.base / "conmon" / name
    (work / "sockets").mkdir(parents=True)
    (work / "exits").mkdir()
    argv = [
        str(CONMON), "--api-version", "1", "--sync", "-c", name, "-u", name, "-n", name,
        "-r", str(RUNTIME), "--runtime-arg", "--root", "--runtime-arg", str(rig.state),
        "-b", str(bundle), "-p", str(work / "pid"), "-l", f"k8s-file:{work / 'ctr.log'}",
        "--exit-dir", str(work / "exits"), "-0", str(work), "--socket-dir-path",
        str(work / "sockets"),
    ]  # fmt: skip
    # As podman: conmon reports the container's pid on its sync pipe once `create` exited.
    sync_read, sync_write = os.pipe()
    conmon = subprocess.Popen(
        argv,
        env={**os.environ, "_OCI_SYNCPIPE": str(sync_write)},
        pass_fds=(sync_write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(sync_write)
    try:
        reported = json.loads(read_until(sync_read, "}"))
        pid = int((work / "pid").read_text())
        assert reported["data"] == pid
        assert Path(f"/proc/{pid}/status").read_text().count(f"PPid:\t{conmon.pid}\n") == 1
        assert rig.state_of(name)["status"] == "created"
        assert rig.run("start", name).returncode == 0
        assert conmon.wait(timeout=WAIT_SECONDS) == 7  # conmon --sync exits with it
        assert (work / "exit").read_text() == "7"
        assert (work / "exits" / name).read_text() == "7"
        logged = (work / "ctr.log").read_text().splitlines()
        assert sorted(line.split(" ", 1)[1] for line in logged) == ["stderr F err", "stdout F out"]
        assert rig.state_of(name)["status"] == "stopped"
    finally:
        os.close(sync_read)
        if conmon.poll() is None:
            conmon.kill()
            conmon.wait()
        rig.remove(name)


class Podman:
    """podman on a private store under the rig (its own config files, none from /etc but
    the image policy), using berth-runtime with its default root: podman's
    `podman container cleanup` gets no --runtime-flag, so a --root would not reach it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        conf = base / "conf"
        conf.mkdir(parents=True)
        (base / "tmp").mkdir()
        (conf / "containers.conf").write_text(
            "[containers]\n"
            # runc's limits need CAP_SYS_RESOURCE above the hard limits here (DESIGN §7b)
            'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{base}/events.log"\n'
            f'image_copy_tmp_dir = "{base}/tmp"\n'
            f'tmp_dir = "{base}/run/libpod"\n'
            f'static_dir = "{base}/root/libpod"\n'
            f'volume_path = "{base}/root/volumes"\n'
            # runc's --log-format=json --log FILE, read back for errors
            'runtime_supports_json = ["berth-runtime"]\n'
        )
        (conf / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{base}/root"\nrunroot = "{base}/run"\n'
        )
        (conf / "registries.conf").write_text("unqualified-search-registries = []\n")
        (base / "run" / "xdg").mkdir(parents=True)
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(base),
            "TMPDIR": str(base / "tmp"),
            "CONTAINERS_CONF": str(conf / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(conf / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(conf / "registries.conf"),
            "XDG_RUNTIME_DIR": str(base / "run" / "xdg"),
        }

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [
            str(PODMAN), "--root", str(self.base / "root"), "--runroot", str(self.base / "run"),
            "--storage-driver", "overlay", "--runtime", str(RUNTIME), *args,
        ]  # fmt: skip
        return subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=60, check=False
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self("run", "--network", "none", "--cgroup-parent", f"/{CGROUP_PARENT}", *args)

    def wait_for_cleanups(self) -> None:
        """conmon runs `podman container cleanup` once a container exits, after the command
        that stopped it returned: wait until no process names the store."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if not any(str(self.base).encode() in cmdline for cmdline in _cmdlines()):
                return
            time.sleep(0.05)
        raise AssertionError(f"processes still use {self.base}")


def _cmdlines() -> Iterator[bytes]:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                yield Path(entry.path, "cmdline").read_bytes()


@pytest.fixture
def podman(rig: Rig) -> Iterator[Podman]:
    if PODMAN is None or CONMON is None:
        pytest.skip("podman and conmon are not installed")
    # podman refuses a runroot path over 50 characters: a short tmpfs of the test's own.
    base = Path(tempfile.mkdtemp(prefix="berth-podman-", dir="/tmp"))
    mount("tmpfs", base, "tmpfs", 0, "mode=755")
    tool = Podman(base)
    try:
        with tarfile.open(base / "busybox.tar", "w") as archive:
            archive.add(rig.rootfs, arcname=".")
        imported = tool("import", str(base / "busybox.tar"), "localhost/busybox:latest")
        assert imported.returncode == 0, imported.stderr
        yield tool
    finally:
        tool("rm", "--all", "--force", "--time", "0")
        tool.wait_for_cleanups()
        for point in mounts_under(base):  # c/storage's private bind mounts, the tmpfs last
            umount(point, MNT_DETACH)
        base.rmdir()
        for directory in cgroup_dirs(f"{CGROUP_PARENT}/conmon"):  # podman's, for conmon
            directory.rmdir()


@pytest.mark.skipif(PODMAN is None, reason="podman is not installed")
def test_podman_runs_containers_with_berth_runtime(podman: Podman) -> None:
    ran = podman.run("--rm", "busybox", "echo", "hi")
    assert (ran.returncode, ran.stdout) == (0, "hi\n"), ran.stderr
    assert podman.run("--rm", "busybox", "sh", "-c", "exit 7").returncode == 7
    missing = podman.run("--rm", "busybox", "no-such-command")
    assert missing.returncode == 127
    assert "executable file not found" in missing.stderr
    assert podman.run("--rm", "busybox", "/etc/passwd").returncode == 126

    started = podman.run("-d", "busybox", "sleep", "1000")
    assert started.returncode == 0, started.stderr
    ident = started.stdout.strip()
    execed = podman("exec", ident, "sh", "-c", "echo $$; exit 5")
    assert (execed.returncode, execed.stdout) == (5, "2\n")
    stopped = podman("stop", "--time", "1", ident)  # sleep as pid 1 ignores SIGTERM
    assert stopped.returncode == 0, stopped.stderr
    inspected = podman("inspect", "--format", "{{.State.ExitCode}}", ident)
    assert inspected.stdout.strip() == "137"
    assert podman("rm", ident).returncode == 0
    podman.wait_for_cleanups()
    assert not Path("/run/berth-runtime", ident).exists()
    assert not cgroup_dirs(f"{CGROUP_PARENT}/libpod-{ident}")
