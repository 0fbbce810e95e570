"""container prune, diff, cp, top, stats and update, against real containers. Every
container a test starts is removed by the test."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from tests.fixtures.store import Berth

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _cgroup_file(controller: str, container_id: str, name: str) -> Path:
    parent = os.environ["BERTH_CGROUP_PARENT"]
    return CGROUP_ROOT / controller / parent / container_id / name


def test_container_prune(berth: Berth, busybox: str) -> None:
    exited = berth("run", "--name", "done", busybox, "sh", "-c", "echo x > /file")
    assert exited.returncode == 0, exited.stderr
    created = berth("create", "--name", "fresh", busybox, "true")
    assert created.returncode == 0, created.stderr
    kept = berth("create", "--name", "kept", "--label", "keep=yes", busybox, "true")
    assert kept.returncode == 0, kept.stderr
    running = berth("run", "-d", "--name", "busy", busybox, "sleep", "60")
    assert running.returncode == 0, running.stderr
    try:
        done_id = berth("inspect", "--format", "{{.Id}}", "done").stdout.strip()
        fresh_id = created.stdout.strip()
        # None is older than an hour.
        none = berth("container", "prune", "-f", "--filter", "until=1h")
        assert none.stdout == "Total reclaimed space: 0B\n"
        pruned = berth("container", "prune", "-f", "--filter", "label!=keep=yes")
        assert pruned.returncode == 0, pruned.stderr
        lines = pruned.stdout.splitlines()
        assert lines[0] == "Deleted Containers:"
        assert sorted(lines[1:3]) == sorted([done_id, fresh_id])
        assert lines[3] == ""
        assert lines[4].startswith("Total reclaimed space: ")
        listed = berth("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert sorted(listed) == ["busy", "kept"]
        last = berth("container", "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z")
        assert last.stdout == "Total reclaimed space: 0B\n"
        assert berth("container", "prune", "-f").stdout.splitlines()[1] == kept.stdout.strip()
        assert berth("ps", "-a", "--format", "{{.Names}}").stdout == "busy\n"
        again = berth("container", "prune", "-f")
        assert again.stdout == "Total reclaimed space: 0B\n"
        assert berth("container", "prune", "-f", "--filter", "bogus=1").returncode == 1
    finally:
        assert berth("rm", "-f", "busy").returncode == 0


def test_diff_lists_adds_changes_and_deletes(berth: Berth, busybox: str) -> None:
    script = "mkdir /newdir && echo a > /newdir/file && echo b >> /etc/passwd && rm /etc/group"
    run = berth("run", "--name", "changer", busybox, "sh", "-c", script)
    assert run.returncode == 0, run.stderr
    try:
        result = berth("diff", "changer")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        # Docker's order: a walk of the upper dir; a changed parent before its children.
        assert lines == ["C /etc", "D /etc/group", "C /etc/passwd", "A /newdir", "A /newdir/file"]
        assert berth("container", "diff", "changer").stdout == result.stdout
    finally:
        assert berth("rm", "changer").returncode == 0
    missing = berth("diff", "nope")
    assert missing.returncode == 1
    assert "No such container: nope" in missing.stderr


def test_diff_of_a_running_container_hides_runtime_mounts(berth: Berth, busybox: str) -> None:
    run = berth("run", "-d", "--name", "idle", busybox, "sh", "-c", "touch /tmp/x; sleep 60")
    assert run.returncode == 0, run.stderr
    try:
        for _ in range(50):
            lines = berth("diff", "idle").stdout.splitlines()
            if lines:
                break
        assert lines == ["C /tmp", "A /tmp/x"]
    finally:
        assert berth("rm", "-f", "idle").returncode == 0


def test_cp_both_ways_running_and_stopped(berth: Berth, busybox: str, tmp_path: Path) -> None:
    run = berth("run", "-d", "--name", "box", busybox, "sleep", "60")
    assert run.returncode == 0, run.stderr
    try:
        # Host -> container: a file, then a directory (created with the destination's name).
        local = tmp_path / "hello.txt"
        local.write_text("hello\n")
        assert berth("cp", str(local), "box:/tmp/").returncode == 0
        tree = tmp_path / "tree"
        (tree / "sub").mkdir(parents=True)
        (tree / "sub" / "leaf").write_text("leaf\n")
        os.chmod(tree / "sub" / "leaf", 0o640)
        copied = berth("cp", str(tree), "box:/copied")
        assert copied.returncode == 0, copied.stderr
        seen = berth(
            "exec",
            "box",
            "sh",
            "-c",
            "cat /tmp/hello.txt /copied/sub/leaf; stat -c %a:%u /copied/sub/leaf",
        )
        assert seen.stdout == "hello\nleaf\n640:0\n"

        # Container -> host: a file into a directory, a directory to a new name.
        out = tmp_path / "out"
        out.mkdir()
        assert berth("cp", "box:/etc/passwd", str(out)).returncode == 0
        assert (out / "passwd").read_text().startswith("root:x:0:0")
        assert berth("cp", "box:/copied", str(out / "back")).returncode == 0
        assert (out / "back" / "sub" / "leaf").read_text() == "leaf\n"
        # SRC/. copies the contents only.
        assert berth("cp", "box:/copied/.", str(out)).returncode == 0
        assert (out / "sub" / "leaf").exists()

        # A tar stream on stdout.
        streamed = subprocess.run(
            berth.argv("cp", "box:/etc/group", "-"), capture_output=True, timeout=60, check=False
        )
        assert streamed.returncode == 0, streamed.stderr
        with tarfile.open(fileobj=io.BytesIO(streamed.stdout)) as archive:
            assert archive.getnames() == ["group"]

        missing = berth("cp", "box:/nope", str(out))
        assert missing.returncode == 1
        assert "No such container:path: box:/nope" in missing.stderr
        refused = berth("cp", str(tree), "box:/etc/passwd")
        assert refused.returncode == 1
        assert "cannot copy directory" in refused.stderr
        no_parent = berth("cp", str(local), "box:/nonexist/x")
        assert no_parent.returncode == 1
        assert "Could not find the file /nonexist in container box" in no_parent.stderr
        assert "no such directory" in berth("cp", str(local), "box:/nonexist/").stderr
        assert "no such directory" in berth("cp", "box:/etc/passwd", f"{tmp_path}/no/").stderr
        no_source = berth("cp", str(tmp_path / "absent"), "box:/tmp/")
        assert no_source.returncode == 1
        assert "no such file or directory" in no_source.stderr
        assert berth("cp", "-", "box:/tmp/", input="").returncode == 0
    finally:
        assert berth("stop", "-t", "1", "box").returncode == 0

    # Stopped: the rootfs is mounted for the copy only.
    assert berth("cp", str(local), "box:/stopped.txt").returncode == 0
    assert berth("cp", "box:/stopped.txt", str(tmp_path / "again.txt")).returncode == 0
    assert (tmp_path / "again.txt").read_text() == "hello\n"
    assert "A /stopped.txt" in berth("diff", "box").stdout.splitlines()
    assert berth("rm", "box").returncode == 0


def test_cp_never_leaves_the_rootfs(berth: Berth, busybox: str, tmp_path: Path) -> None:
    # Links planted in the container point at host paths: each resolves inside the rootfs.
    outside = tmp_path / "host-secret"
    outside.write_text("host\n")
    target_dir = tmp_path / "host-dir"
    target_dir.mkdir()
    script = (
        f"ln -s {outside} /leak; ln -s {target_dir} /escape; ln -s ../../../../.. /up; "
        f"mkdir -p {target_dir}; echo inside > {target_dir}/marker"
    )
    run = berth("run", "--name", "evil", busybox, "sh", "-c", script)
    assert run.returncode == 0, run.stderr
    try:
        # Reading through a link to a host path gives the container's file of that name, or
        # nothing: never the host's.
        got = tmp_path / "got"
        result = berth("cp", "-L", "evil:/leak", str(got))
        assert result.returncode == 1
        assert not got.exists()
        result = berth("cp", "evil:/up/etc/passwd", str(got))
        assert result.returncode == 0, result.stderr
        assert got.read_text().startswith("root:x:0:0:root:/root:/bin/sh")
        # Writing through links lands inside the container.
        payload = tmp_path / "payload"
        payload.write_text("payload\n")
        assert berth("cp", str(payload), "evil:/escape/").returncode == 0
        assert not (target_dir / "payload").exists()
        assert berth("cp", str(payload), "evil:/up/up/tmp/").returncode == 0
        back = berth("cp", f"evil:{target_dir}/payload", str(tmp_path / "check"))
        assert back.returncode == 0, back.stderr
        assert (tmp_path / "check").read_text() == "payload\n"
        assert outside.read_text() == "host\n"
        assert sorted(os.listdir(target_dir)) == []
    finally:
        assert berth("rm", "evil").returncode == 0


def test_export_writes_the_containers_filesystem(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    run = berth("run", "--name", "box", busybox, "sh", "-c", "echo made > /made; rm /bin/ls")
    assert run.returncode == 0, run.stderr
    out = tmp_path / "out" / "box.tar"
    out.parent.mkdir()
    exported = berth("export", "-o", str(out), "box")
    assert exported.returncode == 0, exported.stderr
    with tarfile.open(out) as archive:
        names = archive.getnames()
        made = archive.extractfile("made")
        assert made is not None and made.read() == b"made\n"
    assert "bin/sh" in names and "bin/ls" not in names
    assert list(out.parent.iterdir()) == [out]  # no partial file left beside it
    # Without -o the tar goes to stdout (not a terminal here).
    piped = subprocess.run(
        berth.argv("export", "box"), capture_output=True, env=berth.env, check=False
    )
    assert piped.returncode == 0, piped.stderr
    with tarfile.open(fileobj=io.BytesIO(piped.stdout)) as archive:
        assert archive.getnames() == names
    missing = berth("export", "-o", str(tmp_path / "none.tar"), "nope")
    assert missing.returncode == 1 and "No such container: nope" in missing.stderr
    assert not (tmp_path / "none.tar").exists()


def test_top_lists_the_containers_processes(berth: Berth, busybox: str) -> None:
    run = berth("run", "-d", "--name", "topped", busybox, "sh", "-c", "sleep 61 & sleep 62")
    assert run.returncode == 0, run.stderr
    try:
        for _ in range(50):
            result = berth("top", "topped")
            if "sleep 62" in result.stdout and "sleep 61" in result.stdout:
                break
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        assert lines[0].startswith("UID" + " " * 17 + "PID" + " " * 17 + "PPID")  # Docker's widths
        commands = [line.split(None, 7)[7] for line in lines[1:]]
        assert "sleep 61" in commands and "sleep 62" in commands
        assert all("pytest" not in command for command in commands)
        custom = berth("top", "topped", "-o", "pid,comm")
        assert custom.stdout.splitlines()[0].split() == ["PID", "COMMAND"]
        # sh execs its last command: two sleeps are all there is.
        names = [line.split()[1] for line in custom.stdout.splitlines()[1:]]
        assert names == ["sleep", "sleep"]
    finally:
        assert berth("rm", "-f", "topped").returncode == 0
    stopped = berth("create", "--name", "idle", busybox, "true")
    assert stopped.returncode == 0
    refused = berth("top", "idle")
    assert refused.returncode == 1
    assert "is not running" in refused.stderr
    assert berth("rm", "idle").returncode == 0


def test_stats_shows_the_memory_limit(berth: Berth, busybox: str) -> None:
    run = berth("run", "-d", "--name", "limited", "-m", "64m", busybox, "sleep", "60")
    assert run.returncode == 0, run.stderr
    try:
        result = berth("stats", "--no-stream")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0].split() == [
            "CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/", "LIMIT", "MEM", "%",
            "NET", "I/O", "BLOCK", "I/O", "PIDS",
        ]  # fmt: skip
        assert len(lines) == 2
        assert "limited" in lines[1]
        assert " / 64MiB " in lines[1]
        fields = berth(
            "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}", "limited"
        ).stdout.split()
        assert fields[0] == "limited" and fields[1] == "1" and fields[-1] == "64MiB"
        # Without --no-stream: a reading about every second, each on a cleared screen.
        streaming = berth.popen("stats", "limited")
        time.sleep(3)
        streaming.send_signal(signal.SIGINT)
        out, _ = streaming.communicate(timeout=30)
        assert out.count("\x1b[2J\x1b[H") >= 2
        assert out.count("limited") >= 2
    finally:
        assert berth("rm", "-f", "limited").returncode == 0


def test_update_changes_the_live_cgroup(berth: Berth, busybox: str) -> None:
    run = berth("run", "-d", "--name", "tuned", "--pids-limit", "50", busybox, "sleep", "60")
    assert run.returncode == 0, run.stderr
    container_id = run.stdout.strip()
    try:
        pids_max = _cgroup_file("pids", container_id, "pids.max")
        assert pids_max.read_text().strip() == "50"
        result = berth("update", "--pids-limit", "20", "-m", "32m", "--restart", "always", "tuned")
        assert result.returncode == 0, result.stderr
        assert result.stdout == "tuned\n"
        assert pids_max.read_text().strip() == "20"
        memory = _cgroup_file("memory", container_id, "memory.limit_in_bytes")
        assert int(memory.read_text()) == 32 * 1024 * 1024
        host_config = json.loads(berth("inspect", "tuned").stdout)[0]["HostConfig"]
        assert host_config["PidsLimit"] == 20
        assert host_config["Memory"] == 32 * 1024 * 1024
        assert host_config["RestartPolicy"]["Name"] == "always"
        assert berth("update", "tuned").returncode == 1
        too_small = berth("update", "-m", "1m", "tuned")
        assert too_small.returncode == 1
        assert "Minimum memory limit allowed is 6MB" in too_small.stderr
    finally:
        assert berth("rm", "-f", "tuned").returncode == 0


@pytest.mark.parametrize("command", [["top"], ["diff"], ["update", "--pids-limit", "5"]])
def test_unknown_container(berth: Berth, command: list[str]) -> None:
    result = berth(*command, "ghost")
    assert result.returncode == 1
    assert "No such container: ghost" in result.stderr


def test_system_df_counts_containers_and_volumes(berth: Berth, busybox: str) -> None:
    started = berth(
        "run", "-d", "--name", "writer", "-v", "data:/data", busybox, "sh", "-c",
        "head -c 1048576 /dev/zero > /big; echo x > /data/file; sleep 60",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert berth("create", "--name", "idle", busybox, "true").returncode == 0
    for _ in range(100):
        if berth("exec", "writer", "test", "-f", "/data/file").returncode == 0:
            break
    rows = {
        line.split()[0]: line.split()[1:]
        for line in berth(
            "system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}}"
        ).stdout.splitlines()
    }
    assert rows["Images"][:2] == ["1", "1"]
    assert rows["Containers"][:2] == ["2", "1"]
    assert rows["Containers"][2].endswith("MB")  # the megabyte written in the container
    assert rows["Local"][1:3] == ["1", "1"]  # "Local Volumes": one volume, in use
    sizes = berth("ps", "-a", "-s", "--format", "{{.Names}} {{.Size}}").stdout.splitlines()
    writer = next(line for line in sizes if line.startswith("writer "))
    assert "MB (virtual " in writer  # its megabyte, and with the image's size
    header = berth("ps", "-s").stdout.splitlines()[0]
    assert header.split()[-1] == "SIZE"
    verbose = berth("system", "df", "-v").stdout
    image_line = next(line for line in verbose.splitlines() if line.startswith("busybox"))
    assert image_line.split()[-1] == "2"  # two containers use the image
    lines = [line.split() for line in verbose.splitlines() if line.strip()]
    assert any(words[-1] == "writer" for words in lines)
    assert ["data", "1"] in [words[:2] for words in lines]
    assert berth("rm", "-f", "writer", "idle").returncode == 0
