"""The container lifecycle through `berth serve`: the docker CLI and docker-py create, start,
list, inspect, stop, kill, pause, rename, update, wait for and remove containers, on the same
store as the berth CLI; bad requests are sent raw.

The server runs in the namespace that plays the host (`host_ns`), so a published port is
reached from there; containers a test leaves are removed by the `api` fixture.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from typing import Any

import docker
import docker.errors
import pytest

from tests.fixtures.api import ApiServer
from tests.fixtures.images import Catalogue
from tests.fixtures.netns import HostNamespace
from tests.fixtures.store import Berth

SERVE = 'mkdir -p /www && echo "$MESSAGE" > /www/index.html && exec httpd -f -p 80 -h /www'


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def call(
    api: ApiServer, method: str, path: str, body: Any = None, timeout: float = 60
) -> tuple[int, Any]:
    """One request; `body` is sent as is when bytes, else as JSON. The status and the JSON
    answer (None when empty)."""
    connection = _UnixConnection(str(api.socket), timeout)
    try:
        payload = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection.request(method, path, body=payload, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
    finally:
        connection.close()
    return answer.status, json.loads(data) if data else None


def docker_ok(api: ApiServer, *args: str, timeout: float = 120) -> str:
    result = api.docker(*args, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout


def inspect(api: ApiServer, template: str, name: str) -> str:
    return docker_ok(api, "inspect", "-f", template, name).strip()


def fetch(host_ns: HostNamespace, address: str, port: int) -> str:
    """GET / over TCP from the host's side, with a fresh Python (a real client)."""
    script = (
        "import socket,sys\n"
        f"s=socket.create_connection(({address!r},{port}),timeout=5)\n"
        "s.sendall(b'GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n')\n"
        "data=b''\n"
        "while chunk:=s.recv(65536): data+=chunk\n"
        "sys.stdout.write(data.decode().split('\\r\\n\\r\\n',1)[-1])\n"
    )
    result = host_ns.run("python3", "-c", script)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_docker_cli_create_start_ps_inspect_stop_and_rm(api: ApiServer, busybox: str) -> None:
    created = docker_ok(
        api,
        "create",
        "--name",
        "web",
        "--label",
        "team=a",
        "-e",
        "GREETING=hi",
        busybox,
        "sleep",
        "300",
    ).strip()
    assert len(created) == 64
    listed = docker_ok(api, "ps", "-a", "--format", "{{.Names}} {{.Status}} {{.Command}}")
    assert listed == 'web Created "sleep 300"\n'
    assert docker_ok(api, "ps", "-q") == ""
    assert docker_ok(api, "start", "web") == "web\n"
    assert docker_ok(api, "ps", "--format", "{{.ID}} {{.Image}} {{.State}}") == (
        f"{created[:12]} busybox running\n"
    )
    template = "{{.Name}} {{.State.Status}} {{.State.Running}} {{.Config.Image}} {{.Config.Labels}}"
    assert inspect(api, template, "web") == "/web running true busybox map[team:a]"
    assert "GREETING=hi" in inspect(api, "{{json .Config.Env}}", created[:8])
    assert (
        inspect(api, "{{.HostConfig.NetworkMode}} {{.HostConfig.RestartPolicy.Name}}", "web")
        == "bridge no"
    )
    assert int(inspect(api, "{{.State.Pid}}", "web")) > 0

    assert docker_ok(api, "stop", "-t", "1", "web") == "web\n"
    assert inspect(api, "{{.State.Status}} {{.State.ExitCode}}", "web") == "exited 137"
    assert docker_ok(api, "ps", "-aq", "--filter", "status=exited") == created[:12] + "\n"
    assert docker_ok(api, "ps", "-aq", "--filter", "label=team=b") == ""
    assert docker_ok(api, "ps", "-aq", "--filter", "name=we") == created[:12] + "\n"
    assert docker_ok(api, "rm", "web") == "web\n"
    assert docker_ok(api, "ps", "-aq") == ""
    gone = api.docker("inspect", "web")
    assert gone.returncode != 0 and "No such object: web" in gone.stderr


def test_start_stop_kill_answer_in_dockers_statuses(api: ApiServer, busybox: str) -> None:
    trapping = ["sh", "-c", "trap 'exit 7' USR1; sleep 300 & wait"]
    status, created = call(
        api, "POST", "/containers/create?name=sleeper", {"Image": busybox, "Cmd": trapping}
    )
    assert status == 201 and created["Warnings"] == []
    ident = created["Id"]
    assert call(api, "POST", f"/containers/{ident}/stop")[0] == 304
    status, answer = call(api, "POST", "/containers/sleeper/kill")
    assert status == 409 and "is not running" in answer["message"]
    assert call(api, "POST", "/containers/sleeper/start")[0] == 204
    assert call(api, "POST", "/v1.41/containers/sleeper/start")[0] == 304
    status, document = call(api, "GET", "/containers/sleeper/json?size=1")
    assert status == 200 and document["State"]["Running"] is True
    assert document["SizeRw"] >= 0 and document["SizeRootFs"] > 0
    assert call(api, "POST", "/containers/sleeper/stop?t=1&signal=SIGUSR1")[0] == 204
    assert call(api, "POST", "/containers/sleeper/stop")[0] == 304
    status, document = call(api, "GET", "/containers/sleeper/json")
    assert document["State"]["ExitCode"] == 7  # the stop signal asked for, not SIGTERM
    status, answer = call(api, "POST", "/containers/sleeper/kill?signal=NOPE")
    assert status == 400 and "Invalid signal" in answer["message"]
    assert call(api, "DELETE", "/containers/sleeper")[0] == 204
    assert call(api, "GET", "/containers/sleeper/json")[0] == 404


def test_restart_kill_pause_unpause_rename_and_update(api: ApiServer, busybox: str) -> None:
    docker_ok(api, "run", "-d", "--name", "box", busybox, "sleep", "300")
    first_start = inspect(api, "{{.State.StartedAt}}", "box")
    assert docker_ok(api, "pause", "box") == "box\n"
    assert inspect(api, "{{.State.Status}} {{.State.Paused}}", "box") == "paused true"
    assert "(Paused)" in docker_ok(api, "ps", "--format", "{{.Status}}")
    again = api.docker("pause", "box")
    assert again.returncode != 0 and "is already paused" in again.stderr
    assert docker_ok(api, "unpause", "box") == "box\n"
    assert inspect(api, "{{.State.Status}}", "box") == "running"

    assert docker_ok(api, "restart", "-t", "1", "box") == "box\n"
    assert inspect(api, "{{.State.Status}}", "box") == "running"
    assert inspect(api, "{{.State.StartedAt}}", "box") != first_start

    assert docker_ok(api, "rename", "box", "crate") == ""
    assert inspect(api, "{{.Name}}", "crate") == "/crate"
    taken = docker_ok(api, "create", "--name", "other", busybox, "true")
    clash = api.docker("rename", "crate", "other")
    assert clash.returncode != 0 and "is already in use" in clash.stderr
    assert docker_ok(api, "rm", taken.strip()) == taken

    docker_ok(api, "update", "--memory", "64m", "--restart", "on-failure:3", "crate")
    template = "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}"
    template += " {{.HostConfig.RestartPolicy.MaximumRetryCount}}"
    assert inspect(api, template, "crate") == f"{64 * 1024 * 1024} on-failure 3"
    usage = docker_ok(api, "stats", "--no-stream", "--format", "{{.MemUsage}}", "crate")
    assert usage.strip().endswith("/ 64MiB")  # the running container's cgroup changed too
    docker_ok(api, "update", "--cpus", "0.5", "crate")  # the memory limit stays
    template = "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}"
    assert inspect(api, template, "crate") == f"{64 * 1024 * 1024} 500000000"
    bad = api.docker("update", "--restart", "sometimes", "crate")
    assert bad.returncode != 0 and "invalid restart policy" in bad.stderr

    assert docker_ok(api, "kill", "crate") == "crate\n"
    assert inspect(api, "{{.State.Status}} {{.State.ExitCode}}", "crate") == "exited 137"
    not_running = api.docker("kill", "crate")
    assert not_running.returncode != 0 and "is not running" in not_running.stderr
    running = docker_ok(api, "run", "-d", busybox, "sleep", "300").strip()
    refused = api.docker("rm", running)
    assert refused.returncode != 0 and "container" in refused.stderr
    assert docker_ok(api, "rm", "-f", running) == running + "\n"
    assert docker_ok(api, "ps", "-aq") != ""


def test_prune_removes_what_is_not_running(api: ApiServer, busybox: str) -> None:
    keep = docker_ok(api, "run", "-d", "--name", "keep", busybox, "sleep", "300").strip()
    ended = docker_ok(api, "run", "-d", "--name", "ended", busybox, "true").strip()
    created = docker_ok(api, "create", "--name", "fresh", "--label", "k=v", busybox, "true")
    docker_ok(api, "wait", "ended")
    status, answer = call(api, "POST", '/containers/prune?filters={"label":["k=v"]}')
    assert status == 200 and answer["ContainersDeleted"] == [created.strip()]
    output = docker_ok(api, "container", "prune", "-f")
    assert output.startswith(f"Deleted Containers:\n{ended}\n")
    assert docker_ok(api, "ps", "-aq", "--no-trunc") == keep + "\n"
    status, answer = call(api, "POST", "/containers/prune")
    assert status == 200 and answer == {"ContainersDeleted": None, "SpaceReclaimed": 0}


def test_a_published_port_answers_from_the_host(
    api: ApiServer, busybox: str, host_ns: HostNamespace
) -> None:
    docker_ok(
        api,
        "run",
        "-d",
        "--name",
        "web",
        "-e",
        "MESSAGE=hello",
        "-p",
        "8080:80",
        busybox,
        "sh",
        "-c",
        SERVE,
    )
    assert fetch(host_ns, "127.0.0.1", 8080) == "hello\n"
    assert fetch(host_ns, host_ns.address, 8080) == "hello\n"
    assert docker_ok(api, "ps", "--format", "{{.Ports}}") == "0.0.0.0:8080->80/tcp\n"
    assert docker_ok(api, "port", "web") == "80/tcp -> 0.0.0.0:8080\n"
    docker_ok(api, "rm", "-f", "web")


def test_top_diff_and_stats(api: ApiServer, busybox: str) -> None:
    docker_ok(
        api,
        "run",
        "-d",
        "--name",
        "busy",
        busybox,
        "sh",
        "-c",
        "touch /made && rm /bin/true && sleep 300",
    )
    deadline = time.monotonic() + 10
    while "A /made" not in (diff := docker_ok(api, "diff", "busy")):
        assert time.monotonic() < deadline, diff
        time.sleep(0.1)
    assert "D /bin/true" in diff and "C /bin" in diff
    top = docker_ok(api, "top", "busy").splitlines()
    assert top[0].split()[:3] == ["UID", "PID", "PPID"]
    assert any(line.endswith("sleep 300") for line in top[1:])
    titles = docker_ok(api, "top", "busy", "-o", "pid,comm").splitlines()
    assert titles[0].split() == ["PID", "COMMAND"]
    stats = docker_ok(
        api, "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", "busy"
    )
    name, usage, _, limit, pids = stats.split()
    assert name == "busy" and usage.endswith("iB") and limit.endswith("iB") and pids == "1"
    docker_ok(api, "stop", "-t", "0", "busy")
    stopped = api.docker("top", "busy")
    assert stopped.returncode != 0 and "is not running" in stopped.stderr


def test_docker_py_runs_waits_for_and_removes_containers(api: ApiServer, busybox: str) -> None:
    client = api.client()
    try:
        runner = client.containers.run(
            busybox, ["sleep", "300"], detach=True, name="runner", labels={"role": "worker"}
        )
        runner.reload()
        assert runner.status == "running" and runner.name == "runner"
        assert runner.labels == {"role": "worker"}
        titles = runner.top()["Titles"]
        assert "PID" in titles and "CMD" in titles
        stats = runner.stats(stream=False)
        assert stats["id"] == runner.id and stats["name"] == "/runner"
        assert stats["memory_stats"]["usage"] > 0 and stats["pids_stats"]["current"] == 1
        assert stats["cpu_stats"]["system_cpu_usage"] > stats["precpu_stats"]["system_cpu_usage"]
        assert stats["cpu_stats"]["online_cpus"] >= 1
        runner.rename("renamed")
        runner.update(mem_limit="32m", restart_policy={"Name": "unless-stopped"})
        runner.reload()
        assert runner.name == "renamed" and runner.attrs["HostConfig"]["Memory"] == 32 << 20
        assert runner.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        found = client.containers.list(filters={"label": "role=worker"})
        assert [c.id for c in found] == [runner.id]
        assert client.containers.list(filters={"status": "exited"}) == []
        runner.kill()
        assert runner.wait(timeout=30) == {"StatusCode": 137, "Error": None}
        runner.remove()

        exiting = client.containers.create(busybox, ["sh", "-c", "exit 3"], name="exiting")
        exiting.start()
        assert exiting.wait(timeout=30)["StatusCode"] == 3
        assert [c.name for c in client.containers.list(all=True)] == ["exiting"]
        assert client.containers.list() == []
        exiting.remove(v=True)
        with pytest.raises(docker.errors.NotFound):
            client.containers.get("exiting")
    finally:
        client.close()


def test_a_wait_for_the_next_exit_waits_for_the_start(api: ApiServer, busybox: str) -> None:
    """The docker CLI's `run` asks for the next exit before it starts the container."""
    status, created = call(
        api, "POST", "/containers/create", {"Image": busybox, "Cmd": ["sh", "-c", "exit 5"]}
    )
    assert status == 201
    ident = created["Id"]
    answers: dict[str, tuple[int, Any]] = {}

    def wait(condition: str) -> None:
        answers[condition] = call(
            api, "POST", f"/containers/{ident}/wait?condition={condition}", timeout=60
        )

    waiters = [threading.Thread(target=wait, args=(c,)) for c in ("next-exit", "removed")]
    for waiter in waiters:
        waiter.start()
    time.sleep(1)
    assert answers == {}  # a created container has not exited yet
    assert call(api, "POST", f"/containers/{ident}/wait")[1] == {"StatusCode": 0, "Error": None}
    assert call(api, "POST", f"/containers/{ident}/start")[0] == 204
    waiters[0].join(30)
    assert answers["next-exit"] == (200, {"StatusCode": 5, "Error": None})
    assert "removed" not in answers
    assert call(api, "DELETE", f"/containers/{ident}")[0] == 204
    waiters[1].join(30)
    assert answers["removed"] == (200, {"StatusCode": 5, "Error": None})
    assert call(api, "POST", f"/containers/{ident}/wait")[0] == 404
    status, answer = call(api, "POST", f"/containers/{ident}/wait?condition=sometime")
    assert status == 400 and answer["message"] == 'invalid condition: "sometime"'


def test_auto_remove_removes_the_container_when_it_exits(api: ApiServer, busybox: str) -> None:
    ident = docker_ok(api, "run", "-d", "--rm", busybox, "sh", "-c", "sleep 1; exit 4").strip()
    status, answer = call(api, "POST", f"/containers/{ident}/wait?condition=removed", timeout=60)
    assert status == 200 and answer == {"StatusCode": 4, "Error": None}
    assert docker_ok(api, "ps", "-aq") == ""
    client = api.client()
    try:
        container = client.containers.run(busybox, ["true"], detach=True, auto_remove=True)
        container.wait(condition="removed", timeout=30)
        assert client.containers.list(all=True) == []
    finally:
        client.close()
    refused = api.docker("run", "-d", "--rm", "--restart", "always", busybox, "true")
    assert refused.returncode != 0
    ident = docker_ok(api, "run", "-d", "--rm", busybox, "sleep", "300").strip()
    docker_ok(api, "update", "--restart", "no", ident)
    refused = api.docker("update", "--restart", "always", ident)
    assert refused.returncode != 0 and "AutoRemove is enabled" in refused.stderr
    docker_ok(api, "rm", "-f", ident)
    for command in (["stop", "-t", "1"], ["kill"], ["rm", "-f"]):
        ident = docker_ok(api, "run", "-d", "--rm", busybox, "sleep", "300").strip()
        assert docker_ok(api, *command, ident) == ident + "\n"
        call(api, "POST", f"/containers/{ident}/wait?condition=removed", timeout=60)
        assert docker_ok(api, "ps", "-aq") == ""


def test_the_berth_cli_and_the_api_see_the_same_containers(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    made = berth("run", "-d", "--name", "from-cli", busybox, "sleep", "300")
    assert made.returncode == 0, made.stderr
    assert docker_ok(api, "ps", "--format", "{{.Names}} {{.State}}") == "from-cli running\n"
    docker_ok(api, "create", "--name", "from-api", "-p", "9090:90", busybox, "true")
    listed = berth("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout.splitlines()
    assert sorted(listed) == ["from-api created", "from-cli running"]
    shown = berth("inspect", "-f", "{{json .HostConfig.PortBindings}}", "from-api").stdout
    assert json.loads(shown) == {"90/tcp": [{"HostIp": "", "HostPort": "9090"}]}
    assert berth("stop", "-t", "0", "from-cli").returncode == 0
    assert inspect(api, "{{.State.Status}}", "from-cli") == "exited"


def test_containers_outlive_the_server_and_a_new_one_lists_them(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    ident = docker_ok(api, "run", "-d", "--name", "lasting", busybox, "sleep", "300").strip()
    client = api.client()
    streams = [client.api.stats(ident, decode=True), client.api.events(decode=True)]
    assert next(streams[0])["id"] == ident
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as waiting:
        waiting.settimeout(30)
        waiting.connect(str(api.socket))
        waiting.sendall(f"POST /containers/{ident}/wait HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert waiting.recv(4096).startswith(b"HTTP/1.1 200 ")  # the wait is under way
        began = time.monotonic()
        assert api.stop() == 0  # the open wait and stats stream end with it
        assert time.monotonic() - began < 10
    client.close()
    listed = berth("ps", "--format", "{{.ID}} {{.State}}", "--no-trunc").stdout
    assert listed == f"{ident} running\n"
    api.start()
    assert docker_ok(api, "ps", "-q", "--no-trunc") == ident + "\n"
    assert docker_ok(api, "rm", "-f", "lasting") == "lasting\n"


def test_fifty_clients_at_once_each_run_and_remove_a_container(
    api: ApiServer, busybox: str
) -> None:
    failures: list[str] = []

    def one(index: int) -> None:
        client = api.client(timeout=300)
        try:
            container = client.containers.create(busybox, ["true"], name=f"c{index}")
            container.start()
            code = container.wait(timeout=300)["StatusCode"]
            container.remove()
            if code != 0:
                failures.append(f"c{index} exited {code}")
        except Exception as error:  # every client's failure is reported, not just the first
            failures.append(f"c{index}: {error!r}")
        finally:
            client.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert failures == []
    assert docker_ok(api, "ps", "-aq") == ""


def test_docker_run_pulls_a_missing_image_and_retries(
    api: ApiServer, registry: Catalogue, berth: Berth
) -> None:
    reference = registry.ref("base")
    ident = docker_ok(api, "run", "-d", reference, "sleep", "300").strip()
    assert inspect(api, "{{.Config.Image}} {{.State.Status}}", ident) == f"{reference} running"
    status, answer = call(api, "POST", "/containers/create", {"Image": "no-such-image:1"})
    assert status == 404 and answer["message"] == "No such image: no-such-image:1"
    docker_ok(api, "rm", "-f", ident)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "expected an object"),
        ({"Image": "busybox", "Cmd": 7}, "Go struct field ContainerConfigWrapper.Cmd"),
        ({"Image": "busybox", "Env": "A=b"}, "of type []string"),
        ({"Image": "busybox", "Labels": {"a": 1}}, "of type map[string]string"),
        ({"Image": "busybox", "HostConfig": []}, "ContainerConfigWrapper.HostConfig"),
        ({"Image": "busybox", "HostConfig": {"Memory": "lots"}}, "HostConfig.Memory"),
        ({"Image": "busybox", "HostConfig": {"Memory": 1024}}, "Minimum memory limit"),
        ({"Image": "busybox", "HostConfig": {"Binds": ["nope"]}}, "absolute path"),
        ({"Image": "busybox", "HostConfig": {"CapAdd": ["CAP_WISHES"]}}, "invalid capability"),
        ({"Image": "busybox", "HostConfig": {"Links": ["a:b"]}}, "could not get container for a"),
        (
            {"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "often"}}},
            "invalid restart policy",
        ),
        (
            {"Image": "busybox", "HostConfig": {"PortBindings": {"http/tcp": [{}]}}},
            "invalid container port",
        ),
        (
            {"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "nfs", "Target": "/x"}]}},
            "mount type unknown",
        ),
        ({"Image": "busybox", "HostConfig": {"LogConfig": {"Type": "syslog"}}}, "log driver"),
        ({"Image": "busybox", "WorkingDir": "relative"}, "absolute path"),
        ({"Image": "busybox", "Entrypoint": [], "Cmd": None}, "No command specified"),
        ({"Image": "busybox"}, "name"),  # sent with ?name=bad/name
    ],
)
def test_bad_create_requests_get_400_and_create_nothing(
    api: ApiServer, busybox: str, body: Any, words: str
) -> None:
    path = "/containers/create?name=bad/name" if words == "name" else "/containers/create"
    status, answer = call(api, "POST", path, body)
    assert status == 400, answer
    assert words in answer["message"]
    assert call(api, "GET", "/containers/json?all=1") == (200, [])


def test_bad_requests_get_4xx_and_the_server_keeps_serving(api: ApiServer, busybox: str) -> None:
    for method, path in [
        ("GET", "/containers/nothing/json"),
        ("POST", "/containers/nothing/start"),
        ("POST", "/containers/nothing/stop"),
        ("POST", "/containers/nothing/kill"),
        ("POST", "/containers/nothing/wait"),
        ("DELETE", "/containers/nothing"),
        ("GET", "/containers/nothing/stats?stream=0"),
        ("GET", "/containers/nothing/top"),
        ("GET", "/containers/nothing/changes"),
    ]:
        status, answer = call(api, method, path)
        assert (status, answer) == (404, {"message": "No such container: nothing"}), path
    docker_ok(api, "create", "--name", "made", busybox, "sleep", "300")
    for method, path, body, expected in [
        ("GET", "/containers/json?filters={bad", None, 400),
        ("GET", '/containers/json?filters={"colour":["red"]}', None, 400),
        ("GET", "/containers/json?limit=many", None, 400),
        ("POST", "/containers/made/stop?t=soon", None, 400),
        ("POST", "/containers/made/rename?name=", None, 400),
        ("POST", "/containers/made/rename?name=no%20spaces", None, 400),
        ("POST", "/containers/made/update", b"{", 400),
        ("POST", "/containers/made/update", {"Memory": "big"}, 400),
        ("POST", "/containers/made/update", {"Memory": 10}, 400),
        ("POST", "/containers/made/pause", None, 409),
        ("POST", "/containers/made/unpause", None, 409),
        ("GET", "/containers/made/top", None, 409),
    ]:
        status, answer = call(api, method, path, body)
        assert status == expected, (path, answer)
        assert isinstance(answer["message"], str) and answer["message"]
    assert inspect(api, "{{.Name}} {{.HostConfig.Memory}}", "made") == "/made 0"
    assert docker_ok(api, "ps", "-a", "--format", "{{.Names}}") == "made\n"


def test_ports_are_free_again_when_containers_started_at_once_stop(
    api: ApiServer, busybox: str
) -> None:
    """Starts from many threads: no container's monitor may hold another's port."""
    errors: list[str] = []

    def run(index: int) -> None:
        client = api.client()
        try:
            client.containers.run(
                busybox,
                ["sleep", "300"],
                name=f"p{index}",
                ports={"80/tcp": 8100 + index},
                detach=True,
            )
        except docker.errors.APIError as error:
            errors.append(str(error))
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    for index in range(8):
        docker_ok(api, "stop", "-t", "0", f"p{index}")
        docker_ok(api, "start", f"p{index}")  # its port is free again
    assert len(docker_ok(api, "ps", "-q").split()) == 8


def test_stats_stream_a_document_a_second_until_the_container_stops(
    api: ApiServer, busybox: str
) -> None:
    client = api.client()
    try:
        container = client.containers.run(busybox, ["sleep", "300"], detach=True)
        stream = container.stats(decode=True)
        first, second = next(stream), next(stream)
        assert first["precpu_stats"].get("system_cpu_usage") is None
        assert second["precpu_stats"] == first["cpu_stats"]
        assert second["read"] > first["read"] and second["preread"] == first["read"]
        assert set(second["networks"]) == {"eth0"}
        container.stop(timeout=0)
        rest = list(stream)  # ends once the container stopped
        assert rest[-1]["memory_stats"] == {} and rest[-1]["pids_stats"] == {}
        one = client.api.stats(container.id, stream=False, one_shot=True)
        assert one["id"] == container.id and one["cpu_stats"]["cpu_usage"]["total_usage"] == 0
    finally:
        client.close()
    shown = docker_ok(api, "stats", "--no-stream", "--format", "{{.CPUPerc}} {{.NetIO}}", "-a")
    assert shown == "0.00% 0B / 0B\n"


def test_foreground_docker_run_prints_output_and_exits_with_the_code(
    api: ApiServer, busybox: str
) -> None:
    """attach (container_io) + wait before the start: no output is missed, the code is the
    container's, and --rm leaves nothing."""
    result = api.docker("run", "--rm", busybox, "echo", "hi")
    assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr
    result = api.docker("run", "--name", "failing", busybox, "sh", "-c", "echo out; exit 3")
    assert (result.returncode, result.stdout) == (3, "out\n"), result.stderr
    result = api.docker("run", "--rm", busybox, "sh", "-c", "echo err >&2; exit 4")
    assert (result.returncode, result.stderr) == (4, "err\n")
    assert docker_ok(api, "ps", "-a", "--format", "{{.Names}} {{.State}}") == "failing exited\n"


def test_create_takes_binds_volumes_mounts_and_aliases_as_clients_send_them(
    api: ApiServer, busybox: str, berth: Berth, tmp_path: Any
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "note").write_text("from the host\n")
    docker_ok(api, "network", "create", "front")
    body = {
        "Image": busybox,
        "Entrypoint": "sh",  # a string is a one-word command (Docker's StrSlice)
        "Cmd": ["-c", "sleep 300"],
        "Volumes": {"/data": {}},
        "ExposedPorts": {"80": {}},
        "HostConfig": {
            "Binds": [f"{shared}:/host:ro"],
            "Mounts": [{"Type": "tmpfs", "Target": "/scratch"}],
            "NetworkMode": "front",
            "RestartPolicy": {"Name": "no"},
            "LogConfig": {"Type": "", "Config": {}},
            "PidsLimit": 0,
            "ConsoleSize": [0, 0],
            "Dns": [],
        },
        "NetworkingConfig": {"EndpointsConfig": {"front": {"Aliases": ["web"]}}},
        "SomeFutureField": True,
    }
    status, created = call(api, "POST", "/containers/create?name=mixed", body)
    assert status == 201, created
    assert call(api, "POST", "/containers/mixed/start")[0] == 204
    status, document = call(api, "GET", "/containers/mixed/json")
    mounts = {m["Destination"]: m for m in document["Mounts"]}
    assert mounts["/data"]["Type"] == "volume" and mounts["/host"]["RW"] is False
    assert mounts["/host"]["Source"] == str(shared)
    assert document["Config"]["ExposedPorts"] == {"80/tcp": {}}
    assert document["Config"]["Entrypoint"] == ["sh"]
    assert document["HostConfig"]["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert document["HostConfig"]["LogConfig"]["Type"] == "json-file"
    assert "web" in document["NetworkSettings"]["Networks"]["front"]["Aliases"]
    assert berth("exec", "mixed", "cat", "/host/note").stdout == "from the host\n"
    assert "/scratch" in berth("exec", "mixed", "cat", "/proc/mounts").stdout
    docker_ok(api, "rm", "-f", "-v", "mixed")

    status, answer = call(api, "POST", "/containers/create?name=mixed", body)
    assert status == 201
    status, answer = call(api, "POST", "/containers/create?name=mixed", body)
    assert status == 409 and "is already in use" in answer["message"]
    docker_ok(api, "rm", "mixed")
    status, answer = call(api, "POST", "/containers/create?platform=linux/s390x", body)
    assert status == 404 and "does not match the specified platform" in answer["message"]
    status, answer = call(api, "POST", "/containers/create?platform=toaster", body)
    assert status == 400 and "invalid platform" in answer["message"]
