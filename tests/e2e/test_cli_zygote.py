"""The preloaded CLI (`berth.cli.zygote`): a `build` or a `run` handed to it runs in a child
of it, with the client's directory, environment, fds, streams and signals, and ends the
client as it ended; a client it can't stand in for (another umask, another mount namespace)
or code changed on disk gets its command run in its own process. Real processes throughout:
the zygote is found in /proc by a marker in its environment (it inherits its first
client's)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import berth.cli.commands.build as build_command
from tests.fixtures.store import Berth


def _tagged(berth: Berth) -> tuple[Berth, str]:
    """A runner whose processes (the zygote its first command starts among them) carry a
    marker of this test's own in their environment."""
    marker = f"zygote-test-{uuid.uuid4().hex}"
    return Berth(berth.store, env={"BERTH_TEST_ZYGOTE": marker}, prefix=berth.prefix), marker


def _processes() -> list[tuple[int, int, str, bytes]]:
    """(pid, parent pid, comm, environ) of every process that can be read."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            comm = Path(entry.path, "comm").read_text().strip()
            environ = Path(entry.path, "environ").read_bytes()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        found.append((int(entry.name), parent, comm, environ))
    return found


def _zygotes(marker: str) -> list[int]:
    needle = f"BERTH_TEST_ZYGOTE={marker}".encode()
    return [pid for pid, _, comm, env in _processes() if comm == "berth-cli" and needle in env]


def _commands_of(zygote: int) -> list[int]:
    return [pid for pid, parent, comm, _ in _processes() if parent == zygote and comm == "berth"]


def _until(condition: Callable[[], object], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _context(root: Path, dockerfile: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    (root / "note.txt").write_text("a note\n")
    return root


def _started_zygote(tagged: Berth, marker: str, tmp_path: Path) -> int:
    """Build once, in the `berth` process, which starts the store's zygote once done; its
    pid."""
    context = _context(tmp_path / "first", "FROM busybox\nLABEL first=1\n")
    result = tagged("build", "-q", str(context))
    assert result.returncode == 0, result.stderr
    _until(lambda: _zygotes(marker), "the first build leaves a zygote for the next command")
    [zygote] = _zygotes(marker)
    return zygote


def _running_build(tagged: Berth, tmp_path: Path, seconds: int) -> subprocess.Popen[str]:
    """A build busy in a RUN step for `seconds`, once that step has started."""
    context = _context(tmp_path / "slow", f"FROM busybox\nRUN sleep {seconds}\n")
    build = tagged.popen("build", "--progress", "plain", "--no-cache", str(context))
    assert build.stderr is not None
    seen = ""
    while "RUN sleep" not in seen:
        line = build.stderr.readline()
        assert line, f"the build ended early: {seen}"
        seen += line
    return build


def test_a_build_runs_in_a_child_of_the_preloaded_cli(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    tagged, marker = _tagged(berth)
    zygote = _started_zygote(tagged, marker, tmp_path)
    build = _running_build(tagged, tmp_path, 2)
    try:
        _until(lambda: _commands_of(zygote), "the build runs in a child of the zygote")
        assert build.wait(60) == 0, build.stderr.read() if build.stderr else ""
    finally:
        build.kill()
        build.wait()
    assert _zygotes(marker) == [zygote]
    _until(lambda: not _commands_of(zygote), "the child is gone with its command")


def test_a_run_runs_in_a_child_of_the_preloaded_cli_too(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    tagged, marker = _tagged(berth)
    zygote = _started_zygote(tagged, marker, tmp_path)
    script = "cat; exit 7"
    run = tagged.popen("run", "--rm", "-i", "busybox", "sh", "-c", script, stdin=subprocess.PIPE)
    try:
        _until(lambda: _commands_of(zygote), "the run waits for stdin in a child of the zygote")
        out, err = run.communicate("typed in\n", timeout=60)
    finally:
        run.kill()
        run.wait()
    assert (run.returncode, out) == (7, "typed in\n"), err


def test_the_command_has_the_clients_directory_environment_fds_and_stdin(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    tagged, marker = _tagged(berth)
    _started_zygote(tagged, marker, tmp_path)
    context = _context(tmp_path / "app", "unused")
    dockerfile = 'FROM busybox\nARG WHO\nCOPY note.txt /\nRUN echo "$WHO" > /who\n'
    read_end, write_end = os.pipe()
    try:
        # The Dockerfile on stdin, the context the working directory, the image id written
        # to another fd of the client's, the build arg's value from the client's environment.
        iidfile = f"/dev/fd/{write_end}"
        argv = tagged.argv("build", "-f", "-", "--build-arg", "WHO", "--iidfile", iidfile)
        result = subprocess.run(
            [*argv, "-t", "from-client", "."],
            input=dockerfile,
            check=False,
            capture_output=True,
            text=True,
            cwd=context,
            env={**tagged.env, "WHO": "the client"},
            pass_fds=(write_end,),
            timeout=300,
        )
        os.close(write_end)
        written = os.read(read_end, 4096).decode()
    finally:
        os.close(read_end)
    assert result.returncode == 0, result.stderr
    assert written.startswith("sha256:")
    inspected = tagged("image", "inspect", "-f", "{{.Id}}", "from-client").stdout.strip()
    assert written == inspected
    shown = tagged("run", "--rm", "from-client", "cat", "/who", "/note.txt")
    assert shown.stdout == "the client\na note\n", shown.stderr


def test_the_clients_exit_code_output_and_usage_errors(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    tagged, marker = _tagged(berth)
    _started_zygote(tagged, marker, tmp_path)
    usage = tagged("build", "--help")
    assert usage.returncode == 0 and usage.stdout.startswith("usage: berth build"), usage
    wrong = tagged("build", "--no-such-flag", ".")
    assert wrong.returncode == 125 and "unknown flag: --no-such-flag" in wrong.stderr
    context = _context(tmp_path / "failing", "FROM busybox\nRUN echo to stderr >&2; exit 3\n")
    failed = tagged("build", "--progress", "plain", str(context))
    assert failed.returncode == 1
    assert "to stderr" in failed.stderr and "exit code: 3" in failed.stderr, failed.stderr


@contextlib.contextmanager
def _served_build(
    berth: Berth, tmp_path: Path, seconds: int = 60
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A build busy in a RUN step for `seconds`, and the zygote's child that runs it; the
    build killed and its containers removed at the end."""
    tagged, marker = _tagged(berth)
    zygote = _started_zygote(tagged, marker, tmp_path)
    build = _running_build(tagged, tmp_path, seconds)
    try:
        _until(lambda: _commands_of(zygote), "the build runs in a child of the zygote")
        [command] = _commands_of(zygote)
        yield build, command
    finally:
        build.kill()
        build.wait()
        for container in tagged("ps", "-aq").stdout.split():
            tagged("rm", "-f", container)


def test_killing_the_client_kills_its_command(berth: Berth, busybox: str, tmp_path: Path) -> None:
    with _served_build(berth, tmp_path) as (build, command):
        build.kill()
        build.wait()
        _until(lambda: not Path(f"/proc/{command}").exists(), "the command dies with its client")


def test_a_command_killed_by_a_signal_kills_its_client_with_it(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    with _served_build(berth, tmp_path) as (build, command):
        os.kill(command, signal.SIGKILL)
        assert build.wait(30) == -signal.SIGKILL


def test_ctrl_c_reaches_the_command(berth: Berth, busybox: str, tmp_path: Path) -> None:
    with _served_build(berth, tmp_path) as (build, command):
        build.send_signal(signal.SIGINT)
        assert build.wait(30) == 130  # the build's own answer to an interrupt, relayed
        _until(lambda: not Path(f"/proc/{command}").exists(), "the command has ended")


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


def test_ctrl_z_stops_the_command_and_fg_continues_it(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    with _served_build(berth, tmp_path, 3) as (build, command):
        build.send_signal(signal.SIGTSTP)
        _until(lambda: _state(command) == "T", "the command is stopped with its client")
        time.sleep(0.3)
        assert _state(command) == "T"
        build.send_signal(signal.SIGCONT)
        _until(lambda: _state(command) != "T", "the command continues with its client")
        assert build.wait(60) == 0


def test_a_client_with_another_umask_runs_its_own_command(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    tagged, marker = _tagged(berth)
    _started_zygote(tagged, marker, tmp_path)  # started with the test's umask (022)
    context = _context(tmp_path / "app", "FROM busybox\nLABEL umask=077\n")
    written = tmp_path / "iid"
    argv = tagged.argv("build", "-q", "--iidfile", str(written), str(context))
    result = subprocess.run(
        argv,
        check=False,
        capture_output=True,
        text=True,
        env=tagged.env,
        preexec_fn=lambda: os.umask(0o077),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert written.stat().st_mode & 0o777 == 0o600


def test_a_client_in_another_mount_namespace_runs_its_own_command(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    tagged, marker = _tagged(berth)
    _started_zygote(tagged, marker, tmp_path)
    context = _context(tmp_path / "app", "FROM busybox\nLABEL seen=outside\n")
    # The same path, another Dockerfile: only the client's mount namespace shows this one.
    script = 'mount -t tmpfs ctx "$1" && echo "$2" > "$1/Dockerfile" && shift 2 && exec "$@"'
    argv = tagged.argv("build", "-q", "-t", "where", str(context))
    inside = "FROM busybox\nLABEL seen=inside"
    unshared = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"]
    result = subprocess.run(
        [*unshared, str(context), inside, *argv],
        check=False,
        capture_output=True,
        text=True,
        env=tagged.env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    label = tagged("image", "inspect", "-f", '{{index .Config.Labels "seen"}}', "where")
    assert label.stdout.strip() == "inside"


def test_code_changed_on_disk_retires_the_zygote(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    tagged, marker = _tagged(berth)
    zygote = _started_zygote(tagged, marker, tmp_path)
    module = Path(build_command.__file__)
    before = module.stat()
    context = _context(tmp_path / "app", "FROM busybox\nLABEL after=change\n")
    try:
        os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
        result = tagged("build", "-q", str(context))
    finally:
        os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert result.returncode == 0, result.stderr
    _until(lambda: not Path(f"/proc/{zygote}").exists(), "the zygote leaves, for good")
    again = tagged("build", "-q", str(context))
    assert again.returncode == 0, again.stderr
    _until(lambda: _zygotes(marker) not in ([], [zygote]), "a new zygote, for the next command")


def test_no_zygote_when_switched_off(berth: Berth, busybox: str, tmp_path: Path) -> None:
    tagged, marker = _tagged(berth)
    context = _context(tmp_path / "app", "FROM busybox\nLABEL off=1\n")
    result = tagged("build", "-q", str(context), env={"BERTH_CLI_ZYGOTE": "0"})
    assert result.returncode == 0, result.stderr
    assert _zygotes(marker) == []
