"""A container's input and output through `berth serve`: logs, attach, resize and the
archive endpoints, driven by the docker CLI (on a real terminal where it needs one) and by
docker-py; then what hostile requests get — and that none of them reaches the host."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import struct
import subprocess
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.api.terminal import Terminal
from tests.fixtures.api import DOCKER, ApiServer
from tests.fixtures.store import Berth


def _run(berth: Berth, *args: str) -> str:
    result = berth("run", "-d", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _connect(api: ApiServer) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(str(api.socket))
    return sock


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _request(
    api: ApiServer, method: str, path: str, body: bytes = b"", headers: str = ""
) -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection: (status, headers, body as sent)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{headers}"
    with _connect(api) as sock:
        sock.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)
        answer = _read_all(sock)
    head_bytes, _, rest = answer.partition(b"\r\n\r\n")
    lines = head_bytes.decode().split("\r\n")
    fields = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
    if fields.get("transfer-encoding") == "chunked":
        rest = _dechunk(rest)
    return int(lines[0].split()[1]), fields, rest


def _dechunk(data: bytes) -> bytes:
    body = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return body
        body, data = body + data[:size], data[size + 2 :]


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    frames = []
    while data:
        stream, size = struct.unpack(">BxxxI", data[:8])
        frames.append((stream, data[8 : 8 + size]))
        data = data[8 + size :]
    return frames


def _wait_for_log(api: ApiServer, name: str, text: str) -> None:
    for _ in range(200):
        if text in api.docker("logs", name).stdout:
            return
        time.sleep(0.05)
    pytest.fail(f"{text!r} never showed in the logs of {name}")


# -- logs ---------------------------------------------------------------------------------


def test_docker_logs_streams_tail_timestamps_and_since(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    script = "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2; sleep 1.2; echo late"
    script += "; sleep 600"
    _run(berth, "--name", "talker", busybox, "sh", "-c", script)
    _wait_for_log(api, "talker", "late")
    result = api.docker("logs", "talker")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "line1\nline2\nline3\nline4\nline5\nlate\n"
    assert result.stderr == "oops\n"
    assert api.docker("logs", "--tail", "2", "talker").stdout == "late\n"  # oops went to stderr
    tail = api.docker("logs", "--tail", "3", "talker")
    assert (tail.stdout, tail.stderr) == ("line5\nlate\n", "oops\n")
    assert api.docker("logs", "--tail", "0", "talker").stdout == ""
    stamped = api.docker("logs", "-t", "talker").stdout.splitlines()
    moments = [line.split(" ", 1)[0] for line in stamped]
    assert [line.split(" ", 1)[1] for line in stamped][-1] == "late"
    assert all(len(m) == 30 and m.endswith("Z") for m in moments)  # 9 digits of nanoseconds
    late = moments[-1]
    since = api.docker("logs", "--since", late, "talker")
    assert (since.stdout, since.stderr) == ("late\n", "")
    until = api.docker("logs", "--until", moments[0], "talker")
    # berth's monitor stamps each line; conmon (BERTH_MONITOR=conmon) each read of output
    first = [line.split(" ", 1)[1] for line in stamped if line.startswith(moments[0])]
    assert until.stdout == "".join(f"{line}\n" for line in first)
    assert until.stdout.startswith("line1\n") and "late" not in until.stdout


def test_docker_logs_follow_ends_when_the_container_stops(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    script = "sleep 1; for i in 1 2 3; do echo tick$i; sleep 0.3; done"
    _run(berth, "--name", "ticker", busybox, "sh", "-c", script)
    started = time.monotonic()
    result = api.docker("logs", "-f", "ticker", timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "tick1\ntick2\ntick3\n"
    assert time.monotonic() - started > 1.0  # it waited for lines written after it asked


def test_docker_py_follows_logs_and_reads_a_tty_container_raw(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    _run(berth, "--name", "slow", busybox, "sh", "-c", "sleep 0.5; echo a; sleep 0.5; echo b")
    _run(berth, "-t", "--name", "tty", busybox, "sh", "-c", "echo hi; echo err >&2; sleep 600")
    client = api.client()
    try:
        lines = list(client.containers.get("slow").logs(stream=True, follow=True))
        assert b"".join(lines) == b"a\nb\n"
        _wait_for_log(api, "tty", "err")
        raw = client.api.logs("tty", stdout=True, stderr=True)
        assert raw == b"hi\r\nerr\r\n"  # one stream, as the terminal wrote it
        status, headers, _ = _request(api, "GET", "/containers/tty/logs?stdout=1")
        assert status == 200 and headers["content-type"] == "application/vnd.docker.raw-stream"
        status, headers, _ = _request(api, "GET", "/containers/slow/logs?stderr=1&stdout=1")
        assert headers["content-type"] == "application/vnd.docker.multiplexed-stream"
    finally:
        client.close()


def test_docker_py_run_reads_all_output_of_a_container_it_removes_at_once(
    api: ApiServer, busybox: str
) -> None:
    """docker-py's `run` follows the log, waits, removes the container, and only then reads
    the log's stream: what the container wrote comes whole however soon it was removed."""
    client = api.client()
    try:
        for number in range(12):
            output = client.containers.run(busybox, f"echo {number}", remove=True)
            assert output == f"{number}\n".encode()
    finally:
        client.close()


# -- attach, resize, run -------------------------------------------------------------------


def test_docker_attach_relays_output_and_stdin(api: ApiServer, busybox: str, berth: Berth) -> None:
    script = "read line; echo got $line; echo bye >&2"
    _run(berth, "-i", "--name", "reader", busybox, "sh", "-c", script)
    result = api.docker("attach", "reader", input="hello\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "got hello\n" and result.stderr == "bye\n"
    # A stopped container is attached to until it starts again: `docker start -a` attaches
    # first, then starts, and sees the whole run.
    result = api.docker("start", "-a", "-i", "reader", input="again\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "got again\n" and result.stderr == "bye\n"


def test_docker_py_attach_replays_logs_and_attach_socket_takes_stdin(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    _run(berth, "--name", "early", busybox, "sh", "-c", "echo first; sleep 1; echo second")
    _run(berth, "-i", "--name", "cat", busybox, "cat")
    client = api.client()
    try:
        _wait_for_log(api, "early", "first")
        attached = client.containers.get("early").attach(stream=True, logs=True)
        assert b"".join(attached) == b"first\nsecond\n"
        sock = client.api.attach_socket("cat", params={"stdin": 1, "stdout": 1, "stream": 1})
        raw: socket.socket = sock._sock
        raw.settimeout(30)
        raw.sendall(b"ping\n")
        data = b""
        while len(data) < 13:
            data += raw.recv(65536)
        assert _frames(data) == [(1, b"ping\n")]
        sock.close()
    finally:
        client.close()


def test_resize_and_detach_keys_on_a_tty_container(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    _run(berth, "-it", "--name", "shell", busybox, "sh")
    client = api.client()
    try:
        client.api.resize("shell", height=33, width=77)
        sock = client.api.attach_socket("shell", params={"stdin": 1, "stdout": 1, "stream": 1})
        raw: socket.socket = sock._sock
        raw.settimeout(30)
        raw.sendall(b"stty size\n")
        seen = b""
        while b"33 77" not in seen:
            chunk = raw.recv(65536)
            assert chunk, seen
            seen += chunk
        raw.sendall(b"\x10\x11")  # ctrl-p ctrl-q: the client detaches, the shell runs on
        while raw.recv(65536):
            pass
        sock.close()
        assert client.containers.get("shell").status == "running"
    finally:
        client.close()
    status, _, _ = _request(api, "POST", "/containers/shell/resize?h=abc&w=1")
    assert status == 400


def test_docker_attach_on_a_terminal_detaches_with_the_keys(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    _run(berth, "-it", "--name", "term", busybox, "sh")
    terminal = Terminal(api, "attach", "term")
    try:
        terminal.send("\r")
        terminal.expect("# ")
        terminal.send("echo $((6 * 7))\r")
        terminal.expect("42")
        terminal.send(b"\x10\x11")  # the CLI watches for its keys itself, and says so
        assert terminal.wait() == 1
        assert b"read escape sequence" in terminal.screen
    finally:
        terminal.close()
    assert berth("inspect", "-f", "{{.State.Running}}", "term").stdout.strip() == "true"


def test_docker_run_it_on_a_terminal_follows_the_window(api: ApiServer, busybox: str) -> None:
    terminal = Terminal(api, "run", "-it", "--rm", "busybox", "sh", rows=25, columns=90)
    try:
        terminal.expect("# ")
        terminal.send("stty size\r")
        terminal.expect("25 90")
        terminal.resize(50, 140)
        for _ in range(50):
            time.sleep(0.1)
            terminal.send("stty size\r")
            if "50 140" in terminal.expect("# "):
                break
        else:
            pytest.fail("the container's terminal did not follow the resize")
        terminal.send("exit 3\r")
        assert terminal.wait() == 3
    finally:
        terminal.close()
    for _ in range(100):  # --rm: gone once the CLI returns, or right after
        if api.docker("ps", "-aq").stdout == "":
            break
        time.sleep(0.05)
    assert api.docker("ps", "-aq").stdout == ""


def test_foreground_run_prints_and_removes(api: ApiServer, busybox: str) -> None:
    result = api.docker("run", "--rm", "busybox", "echo", "hi")
    assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr
    assert api.docker("ps", "-aq").stdout == ""
    result = api.docker("run", "busybox", "sh", "-c", "echo out; echo err >&2; exit 6")
    assert (result.returncode, result.stdout, result.stderr) == (6, "out\n", "err\n")
    piped = api.docker("run", "--rm", "-i", "busybox", "cat", input="through\n")
    assert (piped.returncode, piped.stdout) == (0, "through\n")
    client = api.client()
    try:
        output = client.containers.run("busybox", ["sh", "-c", "echo one; echo two"])
        assert output == b"one\ntwo\n"
    finally:
        client.close()


# -- archive ---------------------------------------------------------------------------


def test_docker_cp_copies_files_and_directories_both_ways(
    api: ApiServer, busybox: str, berth: Berth, tmp_path: Path
) -> None:
    _run(berth, "--name", "box", busybox, "sleep", "600")
    local = tmp_path / "hello.txt"
    local.write_text("hello world\n")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a\n")
    (tree / "sub" / "b.txt").write_text("b\n")
    os.symlink("a.txt", tree / "link")
    assert api.docker("cp", str(local), "box:/tmp/").returncode == 0
    assert api.docker("cp", str(tree), "box:/tree").returncode == 0
    script = "cat /tmp/hello.txt /tree/sub/b.txt; readlink /tree/link"
    listing = berth("exec", "box", "sh", "-c", script)
    assert listing.stdout == "hello world\nb\na.txt\n"
    out = tmp_path / "out"
    out.mkdir()
    result = api.docker("cp", "box:/etc/passwd", str(out / "passwd"))
    assert result.returncode == 0, result.stderr
    assert (out / "passwd").read_text().startswith("root:")
    assert api.docker("cp", "box:/tree", str(out / "back")).returncode == 0
    assert (out / "back" / "sub" / "b.txt").read_text() == "b\n"
    assert os.readlink(out / "back" / "link") == "a.txt"
    assert api.docker("cp", "-L", "box:/tree/link", str(out / "followed")).returncode == 0
    assert (out / "followed").read_text() == "a\n"
    assert api.docker("cp", "box:/tree/.", str(out)).returncode == 0
    assert (out / "a.txt").read_text() == "a\n"
    missing = api.docker("cp", "box:/no/such", str(out))
    assert missing.returncode != 0 and "Could not find the file" in missing.stderr
    # A stopped container is copied from and to as well.
    assert berth("stop", "-t", "0", "box").returncode == 0
    assert api.docker("cp", str(local), "box:/stopped.txt").returncode == 0
    assert api.docker("cp", "box:/stopped.txt", str(out / "again.txt")).returncode == 0
    assert (out / "again.txt").read_text() == "hello world\n"


def _mounts() -> str:
    return Path("/proc/self/mountinfo").read_text()


def test_docker_export_and_docker_py_export_the_rootfs_alone(
    api: ApiServer, busybox: str, berth: Berth, tmp_path: Path
) -> None:
    """The image's files with the container's changes, running or stopped; no volume's
    files; the host's mount table untouched (the view is mounted in a helper's namespace)."""
    script = "echo made > /made; echo kept > /data/v; rm /bin/ls; sleep 600"
    _run(berth, "--name", "box", "-v", "exported:/data", busybox, "sh", "-c", script)
    deadline = time.monotonic() + 10
    while berth("exec", "box", "cat", "/made").stdout != "made\n":
        assert time.monotonic() < deadline, "the container's script did not run"
        time.sleep(0.1)
    mounts = _mounts()
    out = tmp_path / "box.tar"
    result = api.docker("export", "-o", str(out), "box")
    assert result.returncode == 0, result.stderr
    assert _mounts() == mounts
    with tarfile.open(out) as archive:
        names = set(archive.getnames())
        made = archive.extractfile("made")
        assert made is not None and made.read() == b"made\n"
    assert {"bin/sh", "etc/passwd", "made"} <= names
    assert "bin/ls" not in names and "data/v" not in names
    assert not any(name.startswith("/") or ".." in name.split("/") for name in names)
    assert berth("exec", "box", "cat", "/data/v").stdout == "kept\n"  # still running, intact

    assert berth("stop", "-t", "0", "box").returncode == 0
    client = api.client()
    try:
        stream = b"".join(client.containers.get("box").export())
    finally:
        client.close()
    with tarfile.open(fileobj=io.BytesIO(stream)) as archive:
        assert set(archive.getnames()) == names
    missing = api.docker("export", "-o", str(tmp_path / "none.tar"), "no-such-box")
    assert missing.returncode != 0 and "No such container: no-such-box" in missing.stderr
    assert not (tmp_path / "none.tar").exists()


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            archive.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


def _file(name: str, data: bytes = b"x\n", **fields: Any) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


def test_docker_py_put_and_get_archive_with_the_path_stat(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    _run(berth, "--name", "box", busybox, "sleep", "600")
    client = api.client()
    try:
        container = client.containers.get("box")
        folder = tarfile.TarInfo("folder")
        folder.type, folder.mode = tarfile.DIRTYPE, 0o750
        data = _tar(
            (folder, b""),
            _file("folder/inner.txt", b"inner\n", uid=1234, gid=5678),
            _file("/rooted.txt", b"rooted\n"),
        )
        assert container.put_archive("/tmp", data) is True
        packed = io.BytesIO()
        with tarfile.open(fileobj=packed, mode="w:gz") as compressed:
            info, content = _file("zipped.txt", b"zipped\n")
            info.size = len(content)
            compressed.addfile(info, io.BytesIO(content))
        assert container.put_archive("/tmp", packed.getvalue()) is True  # as dockerd: gzip too
        script = "cat /tmp/rooted.txt /tmp/zipped.txt; stat -c '%u:%g %a' /tmp/folder/inner.txt"
        listing = berth("exec", "box", "sh", "-c", script + " /tmp/folder")
        assert listing.stdout == "rooted\nzipped\n1234:5678 644\n0:0 750\n"
        chunks, stat = container.get_archive("/tmp/folder")
        assert stat["name"] == "folder" and stat["mode"] == (1 << 31) | 0o750
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
            names = sorted(archive.getnames())
            inner = archive.extractfile("folder/inner.txt")
            assert inner is not None and inner.read() == b"inner\n"
        assert names == ["folder", "folder/inner.txt"]
        _, stat = container.get_archive("/etc/passwd")
        assert stat["name"] == "passwd" and stat["size"] > 0 and stat["mode"] == 0o644
    finally:
        client.close()
    berth("exec", "box", "ln", "-s", "/tmp/folder", "/tmp/link")
    status, headers, _ = _request(api, "HEAD", "/containers/box/archive?path=/tmp/link")
    assert status == 200
    stat = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
    assert stat["linkTarget"] == "/tmp/folder" and stat["mode"] & (1 << 27)
    assert stat["mtime"].endswith("Z")
    status, _, _ = _request(api, "HEAD", "/containers/box/archive?path=/no/such")
    assert status == 404
    # copyUIDGID: the files go to the container's user; noOverwriteDirNonDir refuses.
    _run(berth, "--name", "user", "-u", "4321", busybox, "sleep", "600")
    status, _, body = _request(
        api, "PUT", "/containers/user/archive?path=/tmp&copyUIDGID=1", _tar(_file("mine", uid=7))
    )
    assert status == 200, body
    assert berth("exec", "user", "stat", "-c", "%u", "/tmp/mine").stdout == "4321\n"
    replace = _tar(_file("folder"))
    path = "/containers/box/archive?path=/tmp&noOverwriteDirNonDir=1"
    assert _request(api, "PUT", path, replace)[0] == 400
    assert _request(api, "PUT", "/containers/box/archive?path=/tmp", replace)[0] == 200


def test_hostile_requests_get_4xx_and_nothing_reaches_the_host(
    api: ApiServer, busybox: str, berth: Berth, tmp_path: Path
) -> None:
    secret = Path("/tmp") / f"berth-host-secret-{uuid.uuid4().hex}"
    secret.write_text("host only\n")
    planted = Path("/etc") / f"berth-planted-{uuid.uuid4().hex}"
    try:
        _run(berth, "--name", "box", busybox, "sleep", "600")
        setup = (
            f"ln -s ../../../../../../..{secret} /tmp/up; ln -s {secret} /tmp/abs; "
            "ln -s / /tmp/root; mkdir /tmp/dest"
        )
        assert berth("exec", "box", "sh", "-c", setup).returncode == 0
        # Reads: traversal and symlinks resolve inside the container, where there is no
        # such file.
        archive = "/containers/box/archive?path="
        for path in (f"../../../../../..{secret}", "/tmp/up/", "/tmp/abs/", f"/tmp/root{secret}"):
            status, _, body = _request(api, "GET", f"{archive}{path}")
            assert status == 404, (path, body)
            assert b"host only" not in body
        status, _, body = _request(api, "GET", f"{archive}/tmp/root/etc/hostname")
        assert status == 200
        hostname = berth("exec", "box", "hostname").stdout.encode()
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            member = tar.extractfile("hostname")
            assert member is not None and member.read() == hostname
        # Writes: members that climb out of the destination are refused, absolute names land
        # inside it, a write through a link to / stays in the container.
        for members in (
            [_file("../escape")],
            [_file("a/../../escape")],
            [_link("climb", "../../../../etc")],
            [_link("hard", "../../etc/passwd", tarfile.LNKTYPE)],
        ):
            status, _, body = _request(api, "PUT", f"{archive}/tmp/dest", _tar(*members))
            assert status == 400, (members, body)
        assert berth("exec", "box", "ls", "/tmp/escape", "/escape").returncode != 0
        status, _, body = _request(
            api,
            "PUT",
            f"{archive}/tmp/dest",
            _tar(_file(f"/{secret.name}"), _link("evil", "/"), _file(f"evil{planted}")),
        )
        assert status == 200, body
        assert berth("exec", "box", "test", "-f", f"/tmp/dest/{secret.name}").returncode == 0
        assert berth("exec", "box", "test", "-f", str(planted)).returncode == 0
        assert not planted.exists()
        assert secret.read_text() == "host only\n"
        # Destinations that are not directories, missing, or malformed.
        assert _request(api, "PUT", f"{archive}/etc/passwd", _tar(_file("x")))[0] == 400
        assert _request(api, "PUT", f"{archive}/nope", _tar(_file("x")))[0] == 404
        assert _request(api, "PUT", f"{archive}/tmp", b"not a tar" * 200)[0] == 400
        assert _request(api, "PUT", "/containers/box/archive", _tar(_file("x")))[0] == 400
        huge = "/a" * 5000
        assert _request(api, "GET", f"/containers/box/archive?path={huge}")[0] == 400
        assert _request(api, "GET", "/containers/box/archive?path=/tmp%00x")[0] == 400
        assert _request(api, "GET", "/containers/nope/archive?path=/")[0] == 404
        # Attach and resize on unknown and stopped containers.
        assert _request(api, "POST", "/containers/nope/attach?stream=1&stdout=1")[0] == 404
        assert _request(api, "POST", "/containers/nope/resize?h=1&w=1")[0] == 404
        assert _request(api, "GET", "/containers/nope/logs?stdout=1")[0] == 404
        assert _request(api, "GET", "/containers/box/logs")[0] == 400  # no stream chosen
        assert _request(api, "GET", "/containers/box/logs?stdout=1&since=yesterday")[0] == 400
        assert _request(api, "POST", "/containers/box/attach?detachKeys=ctrl-zz")[0] == 400
        assert berth("stop", "-t", "0", "box").returncode == 0
        assert _request(api, "POST", "/containers/box/resize?h=1&w=1")[0] == 409
        assert api.docker("version").returncode == 0
    finally:
        secret.unlink()
        planted.unlink(missing_ok=True)


def test_stopping_the_server_ends_its_streams(api: ApiServer, busybox: str, berth: Berth) -> None:
    """Followed logs, an attached exec and an attach waiting for a start don't hold up a
    SIGTERM: the server ends them and exits 0 (the fixture checks its log too)."""
    _run(berth, "--name", "box", busybox, "sleep", "600")
    assert berth("create", "--name", "later", busybox, "true").returncode == 0
    clients = [
        subprocess.Popen([DOCKER, *args], env=api.env, stdout=subprocess.DEVNULL)
        for args in (["logs", "-f", "box"], ["exec", "box", "sleep", "600"], ["attach", "box"])
    ]
    waiting = _connect(api)
    waiting.sendall(
        b"POST /containers/later/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\n"
        b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    )
    try:
        assert waiting.recv(65536).startswith(b"HTTP/1.1 101 UPGRADED")
        time.sleep(1.0)  # every request is in its stream
        began = time.monotonic()
        assert api.stop() == 0
        assert time.monotonic() - began < 10
        assert _read_all(waiting) == b""
        for client in clients:
            assert client.wait(30) is not None
    finally:
        waiting.close()
        for client in clients:
            if client.poll() is None:
                client.kill()
                client.wait()
