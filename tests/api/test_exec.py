"""`docker exec` and docker-py's exec_run against `berth serve`: exit codes, stdin, a TTY on a
real terminal, detached runs, exec inspect, and what bad requests get."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.api.terminal import Terminal
from tests.fixtures.api import ApiServer
from tests.fixtures.store import Berth


@pytest.fixture
def box(api: ApiServer, busybox: str, berth: Berth) -> str:
    """A running container named `box` (made with the berth CLI), removed by the fixtures."""
    result = berth("run", "-d", "--name", "box", busybox, "sleep", "600")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _request(api: ApiServer, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    """One request on its own connection: (status, body)."""
    data = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n"
    head += "Content-Type: application/json\r\nConnection: close\r\n\r\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(api.socket))
        sock.sendall(head.encode() + data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def zombies(api: ApiServer) -> list[int]:
    """The server's children that ended and were not waited for."""
    assert api.process is not None
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == api.process.pid:
            found.append(int(stat.parent.name))
    return found


def test_docker_exec_prints_output_and_propagates_the_exit_code(api: ApiServer, box: str) -> None:
    result = api.docker("exec", "box", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert result.returncode == 7
    assert result.stdout == "out\n" and result.stderr == "err\n"
    assert api.docker("exec", "box", "true").returncode == 0
    missing = api.docker("exec", "box", "no-such-command")
    assert missing.returncode == 127
    assert "no-such-command" in missing.stdout + missing.stderr
    # The container's environment and working directory, or the ones asked for.
    result = api.docker(
        "exec", "-e", "GREETING=hello", "-w", "/etc", "-u", "nobody", "box", "sh", "-c",
        "echo $GREETING; pwd; id -u",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["hello", "/etc", "65534"]
    assert zombies(api) == []


def test_docker_exec_i_feeds_stdin_until_its_end(api: ApiServer, box: str) -> None:
    lines = "".join(f"line {n}\n" for n in range(2000))
    result = api.docker("exec", "-i", "box", "cat", input=lines)
    assert result.returncode == 0, result.stderr
    assert result.stdout == lines
    result = api.docker("exec", "-i", "box", "sh", "-c", "read a; echo got $a; exit 3", input="x\n")
    assert (result.returncode, result.stdout) == (3, "got x\n")


def test_docker_exec_d_runs_in_the_background(api: ApiServer, box: str) -> None:
    result = api.docker("exec", "-d", "box", "sh", "-c", "sleep 0.3; echo done > /tmp/flag")
    assert result.returncode == 0, result.stderr
    for _ in range(100):
        if api.docker("exec", "box", "cat", "/tmp/flag").stdout == "done\n":
            break
        time.sleep(0.1)
    else:
        pytest.fail("the detached exec did not run")


def test_docker_exec_it_on_a_real_terminal_follows_its_size(api: ApiServer, box: str) -> None:
    terminal = Terminal(api, "exec", "-it", "box", "sh", rows=30, columns=100)
    try:
        terminal.expect("# ")
        terminal.send("stty size; tty\r")
        terminal.expect("30 100")
        terminal.expect("/dev/pts/")
        terminal.resize(41, 132)
        for _ in range(50):  # the CLI hears SIGWINCH and posts the resize
            time.sleep(0.1)
            terminal.send("stty size\r")
            if "41 132" in terminal.expect("# "):
                break
        else:
            pytest.fail("the exec's terminal did not follow the resize")
        terminal.send("echo $TERM; exit 5\r")
        assert "xterm" in terminal.expect("xterm")
        assert terminal.wait() == 5
    finally:
        terminal.close()


def test_docker_py_exec_run_with_and_without_a_tty(api: ApiServer, box: str) -> None:
    client = api.client()
    try:
        container = client.containers.get("box")
        result = container.exec_run(["sh", "-c", "echo out; echo err >&2; exit 4"])
        assert result.exit_code == 4
        assert sorted(result.output.splitlines()) == [b"err", b"out"]
        result = container.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
        assert result.exit_code == 0
        assert result.output == (b"out\n", b"err\n")
        result = container.exec_run(["sh", "-c", "tty; echo hi"], tty=True)
        assert result.exit_code == 0
        assert result.output.startswith(b"/dev/pts/") and result.output.endswith(b"hi\r\n")
        result = container.exec_run("cat /etc/hostname", workdir="/tmp", environment={"A": "1"})
        assert result.exit_code == 0 and result.output.strip() == box[:12].encode()
        streamed = container.exec_run(["sh", "-c", "echo a; sleep 0.2; echo b"], stream=True)
        assert b"".join(streamed.output) == b"a\nb\n"
    finally:
        client.close()
    time.sleep(0.5)  # the last stream's end is recorded as its connection closes
    assert zombies(api) == []


def test_exec_inspect_reports_the_process_and_its_end(api: ApiServer, box: str) -> None:
    client = api.client()
    try:
        low = client.api
        created = low.exec_create("box", ["sh", "-c", "exit 9"], user="nobody")
        before = low.exec_inspect(created["Id"])
        assert before["Running"] is False and before["ExitCode"] is None
        assert before["ContainerID"] == box and before["Pid"] == 0
        assert before["ProcessConfig"]["entrypoint"] == "sh"
        assert before["ProcessConfig"]["arguments"] == ["-c", "exit 9"]
        assert before["ProcessConfig"]["user"] == "nobody"
        low.exec_start(created["Id"])
        after = low.exec_inspect(created["Id"])
        assert after["Running"] is False and after["ExitCode"] == 9 and after["Pid"] > 0
        # A long one is seen running, with the pid of its process.
        long = low.exec_create("box", ["sleep", "30"])
        low.exec_start(long["Id"], detach=True)
        running = low.exec_inspect(long["Id"])
        assert running["Running"] is True and running["ExitCode"] is None
        with open(f"/proc/{running['Pid']}/cmdline", "rb") as cmdline:
            assert cmdline.read().split(b"\0")[:2] == [b"sleep", b"30"]
    finally:
        client.close()


def test_bad_exec_requests_get_answers_and_the_server_keeps_serving(
    api: ApiServer, box: str, berth: Berth, busybox: str
) -> None:
    status, body = _request(api, "POST", "/containers/nope/exec", {"Cmd": ["true"]})
    assert status == 404 and b"No such container" in body
    status, body = _request(api, "POST", "/containers/box/exec", {"Cmd": []})
    assert status == 400 and b"No exec command specified" in body
    for bad in ({"Cmd": "true", "Env": 5}, {"Cmd": ["true"], "DetachKeys": "x-y"}):
        assert _request(api, "POST", "/containers/box/exec", bad)[0] == 400
    assert (
        _request(api, "POST", "/containers/box/exec", {"Cmd": ["a"], "ConsoleSize": [1]})[0] == 400
    )
    status, _ = _request(api, "POST", "/exec/nope/start", {"Detach": True})
    assert status == 404
    status, _ = _request(api, "GET", "/exec/nope/json")
    assert status == 404
    status, _ = _request(api, "POST", "/exec/nope/resize?h=10&w=10")
    assert status == 404
    # Started twice: the second start is refused, running or ended.
    status, body = _request(api, "POST", "/containers/box/exec", {"Cmd": ["sleep", "2"]})
    exec_id = json.loads(body)["Id"]
    assert _request(api, "POST", f"/exec/{exec_id}/start", {"Detach": True})[0] == 200
    status, body = _request(api, "POST", f"/exec/{exec_id}/start", {"Detach": True})
    assert status == 409 and b"already running" in body
    assert _request(api, "POST", f"/exec/{exec_id}/resize?h=x&w=1")[0] == 400
    # A stopped container takes no exec.
    assert berth("run", "-d", "--name", "stopped", busybox, "true").returncode == 0
    assert berth("wait", "stopped").returncode == 0
    status, body = _request(api, "POST", "/containers/stopped/exec", {"Cmd": ["true"]})
    assert status == 409 and b"is not running" in body
    # An exec whose container stopped can't start any more.
    status, body = _request(api, "POST", "/containers/box/exec", {"Cmd": ["true"]})
    late = json.loads(body)["Id"]
    assert berth("kill", "box").returncode == 0
    assert berth("wait", "box").returncode == 0
    status, body = _request(api, "POST", f"/exec/{late}/start", {"Detach": False})
    assert status == 409
    assert api.docker("version").returncode == 0
