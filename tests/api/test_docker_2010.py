"""Debian's docker 20.10 client (/usr/bin/docker, API 1.41) against `berth serve`: the
walkthrough, the container commands users type, and the shapes API 1.41 gave its fields.

The walkthrough's postgres comes from a registry of this module's own, which the server uses
as its docker.io mirror (registries.toml in the store), so `docker pull postgres:15` is typed
as users type it; that image is built from Debian's packages (minutes on a cold cache, see
tests/api/test_compose.py). Containers run in the namespace that plays the host, where
published ports are fetched and psql runs.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_compose import postgres_registry
from tests.api.test_networks import call
from tests.fixtures.api import ApiServer
from tests.fixtures.forward import LoopbackForward
from tests.fixtures.netns import HostNamespace
from tests.fixtures.registry import RunningRegistry
from tests.fixtures.store import Berth, Store

DOCKER_20 = "/usr/bin/docker"
PASSWORD = "walkthrough"
READY = "database system is ready to accept connections"


class Docker20:
    """`docker -H unix://... ARGS` with the 20.10 client."""

    def __init__(self, api: ApiServer) -> None:
        self.api = api

    def __call__(
        self, *args: str, timeout: float = 120, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKER_20, "-H", self.api.url, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            env=self.api.env,
            check=False,
        )

    def ok(self, *args: str, timeout: float = 120) -> str:
        result = self(*args, timeout=timeout)
        assert result.returncode == 0, f"docker {args}: {result.stderr}"
        return result.stdout


@pytest.fixture
def docker(api: ApiServer) -> Docker20:
    return Docker20(api)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    with postgres_registry(tmp_path_factory.mktemp("hub")) as registry:
        yield registry


@pytest.fixture
def docker_hub(
    api: ApiServer, store: Store, host_ns: HostNamespace, hub: RunningRegistry
) -> Iterator[None]:
    """The module's registry as the server's docker.io mirror, reachable from its namespace."""
    (store.root / "registries.toml").write_text(
        f'[registries."docker.io"]\nmirrors = ["{hub.url}"]\nmirrors_only = true\n'
    )
    forward = LoopbackForward(host_ns.path, int(hub.host.rpartition(":")[2]))
    try:
        yield
    finally:
        forward.close()


def wait_ready(docker: Docker20, host_ns: HostNamespace, name: str, port: int) -> None:
    """Until postgres answers on the published port (its first start runs initdb first)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        probe = host_ns.run("pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port), "-t", "2")
        if probe.returncode == 0:
            return
        assert docker.ok("inspect", "-f", "{{.State.Running}}", name).strip() == "true"
        time.sleep(0.3)
    pytest.fail(f"{name} did not answer on 127.0.0.1:{port}: {docker('logs', name).stderr}")


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_walkthrough(
    docker: Docker20, docker_hub: None, host_ns: HostNamespace, berth: Berth
) -> None:
    # pull, with its progress as the 20.10 client prints it without a terminal
    pulled = docker.ok("pull", "postgres:15", timeout=600).splitlines()
    assert pulled[0] == "15: Pulling from library/postgres", pulled
    layers: dict[str, list[str]] = {}
    for line in pulled:
        if found := re.fullmatch(r"([0-9a-f]{12}): (.+)", line):
            layers.setdefault(found.group(1), []).append(found.group(2))
    assert len(layers) == 3, pulled
    for words in layers.values():
        assert words[0] == "Pulling fs layer" and words[-1] == "Pull complete", pulled
    assert re.fullmatch(r"Digest: sha256:[0-9a-f]{64}", pulled[-3]), pulled
    assert pulled[-2:] == [
        "Status: Downloaded newer image for postgres:15",
        "docker.io/library/postgres:15",
    ]
    again = docker.ok("pull", "postgres:15").splitlines()
    assert "Status: Image is up to date for postgres:15" in again, again

    # run -d -p, and psql from the host
    password = f"POSTGRES_PASSWORD={PASSWORD}"
    docker.ok(*"run -d --name pg15 -p 5433:5432 -e".split(), password, "postgres:15")
    wait_ready(docker, host_ns, "pg15", 5433)
    psql = "psql -h 127.0.0.1 -p 5433 -U postgres -Atc".split()
    version = host_ns.run("env", f"PGPASSWORD={PASSWORD}", *psql, "select version()")
    assert version.stdout.startswith("PostgreSQL 15."), version.stderr
    listed = docker.ok("ps", "--format", "{{.Names}}|{{.Image}}|{{.Ports}}|{{.Networks}}")
    assert listed == "pg15|postgres:15|0.0.0.0:5433->5432/tcp|bridge\n"
    assert READY in docker("logs", "pg15").stderr
    assert docker.ok("exec", "pg15", "psql", "-U", "postgres", "-Atc", "select 40 + 2") == "42\n"
    template = (
        "{{.State.Status}} {{.Config.Image}} {{.HostConfig.RestartPolicy.Name}} "
        '{{(index (index .NetworkSettings.Ports "5432/tcp") 0).HostPort}} '
        '{{range .Config.Env}}{{if eq . "PG_MAJOR=15"}}{{.}}{{end}}{{end}}'
    )
    assert (
        docker.ok("inspect", "-f", template, "pg15") == "running postgres:15 no 5433 PG_MAJOR=15\n"
    )
    name, pids = docker.ok("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}").split()
    assert name == "pg15" and int(pids) > 1

    # stop (its stop signal is SIGINT: a fast shutdown), remove, and the image after it
    assert docker.ok("stop", "pg15") == "pg15\n"
    assert docker.ok("ps", "-a", "--format", "{{.Status}}").startswith("Exited (0) ")
    assert docker.ok("rm", "pg15") == "pg15\n"
    images = docker.ok("images", "--format", "{{.Repository}}:{{.Tag}}").split()
    assert images == ["postgres:15"], images
    removed = docker.ok("rmi", "postgres:15").splitlines()
    assert removed[0] == "Untagged: postgres:15", removed
    assert sum(line.startswith("Deleted: sha256:") for line in removed) == 4, removed  # 3 layers
    assert docker.ok("images", "-q") == ""
    assert berth("images", "-q").stdout == ""


def test_run_exec_logs_and_cp(
    docker: Docker20, busybox: str, host_ns: HostNamespace, tmp_path: Path
) -> None:
    web = docker.ok(
        *"run -d --name web -p 8080:80".split(), busybox, *"httpd -f -p 80 -h /etc".split()
    )
    web = web.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", web)
    served = host_ns.run("wget", "-qO-", "-T", "5", "http://127.0.0.1:8080/hostname")
    assert served.stdout == web[:12] + "\n", served.stderr
    assert docker.ok("ps", "--format", "{{.ID}} {{.Names}} {{.Status}}").startswith(
        f"{web[:12]} web Up "
    )

    # exec: output, exit codes, and its options
    assert docker.ok("exec", "web", "sh", "-c", "echo $((6 * 7))") == "42\n"
    assert docker("exec", "web", "sh", "-c", "exit 5").returncode == 5
    options = "-u 1000 -w /tmp -e GREETING=hi".split()
    shown = docker.ok("exec", *options, "web", "sh", "-c", "echo $(id -u) $PWD $GREETING")
    assert shown == "1000 /tmp hi\n"
    fed = docker("exec", "-i", "web", "cat", input="fed through stdin\n")
    assert (fed.returncode, fed.stdout) == (0, "fed through stdin\n"), fed.stderr

    # run --rm in the foreground: both streams, the exit code, and nothing left
    foreground = docker("run", "--rm", busybox, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (foreground.returncode, foreground.stdout) == (3, "out\n")
    assert foreground.stderr == "err\n"
    assert docker.ok("ps", "-aq") == web[:12] + "\n"

    # logs -f follows until the container stops
    count = "for i in 1 2 3; do echo line $i; sleep 0.5; done"
    docker.ok("run", "-d", "--name", "counter", busybox, "sh", "-c", count)
    followed = docker("logs", "-f", "counter", timeout=30)
    assert (followed.returncode, followed.stdout) == (0, "line 1\nline 2\nline 3\n")
    assert docker.ok("inspect", "-f", "{{.State.Status}}", "counter") == "exited\n"
    assert docker.ok("logs", "--tail", "1", "counter") == "line 3\n"

    # cp, both ways, and a tar to stdout
    source = tmp_path / "note.txt"
    source.write_text("from the host\n")
    docker.ok("cp", str(source), "web:/tmp/")
    assert docker.ok("exec", "web", "cat", "/tmp/note.txt") == "from the host\n"
    docker.ok("exec", "web", "sh", "-c", "mkdir -p /out/sub && echo deep > /out/sub/file")
    docker.ok("cp", "web:/out", str(tmp_path / "copied"))
    assert (tmp_path / "copied" / "sub" / "file").read_text() == "deep\n"
    streamed = subprocess.run(
        [DOCKER_20, "-H", docker.api.url, "cp", "web:/tmp/note.txt", "-"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    with tarfile.open(fileobj=io.BytesIO(streamed.stdout)) as archive:
        member = archive.extractfile("note.txt")
        assert member is not None and member.read() == b"from the host\n"

    assert docker.ok("rm", "-f", "web", "counter").split() == ["web", "counter"]
    assert docker.ok("ps", "-aq") == ""


def test_events_between_since_and_until(docker: Docker20, busybox: str) -> None:
    began = time.time()
    docker.ok("run", "--name", "brief", busybox, "true")
    docker.ok("rm", "brief")
    until = time.time() + 0.5
    window = ["--since", f"{began:.3f}", "--until", f"{until:.3f}"]
    # the stream ends by itself at --until
    shown = docker("events", *window, "--format", "{{.Action}} {{.Actor.Attributes.name}}")
    assert shown.returncode == 0, shown.stderr
    actions = [line.split()[0] for line in shown.stdout.splitlines() if line.endswith(" brief")]
    lifecycle = [a for a in actions if a in ("create", "start", "die", "destroy")]
    assert lifecycle == ["create", "start", "die", "destroy"], shown.stdout
    died = docker.ok(
        "events", *window, "--filter", "event=die", "--format", "{{.Actor.Attributes.exitCode}}"
    )
    assert died == "0\n"
    assert docker.ok("events", "--since", f"{until:.3f}", "--until", f"{until + 0.1:.3f}") == ""


def test_networks_volumes_and_disk_usage(docker: Docker20, busybox: str) -> None:
    network = docker.ok("network", "create", "--subnet", "10.93.0.0/24", "front").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", network)
    assert "front" in docker.ok("network", "ls", "--format", "{{.Name}}").split()
    shown = docker.ok(
        "network", "inspect", "-f", "{{.Driver}} {{range .IPAM.Config}}{{.Subnet}}{{end}}", "front"
    )
    assert shown == "bridge 10.93.0.0/24\n"
    assert docker.ok("volume", "create", "--label", "tier=db", "data") == "data\n"
    assert docker.ok("volume", "ls", "--format", "{{.Driver}} {{.Name}}") == "local data\n"

    options = "-d --name app --network front --network-alias api -v data:/data".split()
    docker.ok("run", *options, busybox, "sh", "-c", "echo kept > /data/file; sleep 300")
    looked_up = docker("run", "--rm", "--network", "front", busybox, "nslookup", "api")
    assert "Address: 10.93.0.2" in looked_up.stdout, looked_up.stdout + looked_up.stderr
    busy = docker("network", "rm", "front")
    assert busy.returncode != 0 and "active endpoints" in busy.stderr, busy.stderr

    usage = docker.ok("system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}")
    assert usage.splitlines()[:3] == ["Images 1 1", "Containers 1 1", "Local Volumes 1 1"]
    verbose = docker.ok("system", "df", "-v")
    assert re.search(r"^data\s+1\s+\d", verbose, re.MULTILINE), verbose

    docker.ok("rm", "-f", "app")
    assert docker.ok("network", "rm", "front") == "front\n"
    assert docker.ok("volume", "rm", "data") == "data\n"
    assert docker.ok("volume", "ls", "-q") == ""
    assert "front" not in docker.ok("network", "ls", "--format", "{{.Name}}").split()


def test_api_1_41_shapes(
    api: ApiServer, docker: Docker20, busybox: str, host_ns: HostNamespace
) -> None:
    """The fields whose shape API 1.41 fixes, as the 20.10 client (or a 1.41 request) sees
    them, against a current client's."""
    versions = docker.ok("version", "--format", "{{.Client.APIVersion}} {{.Server.APIVersion}}")
    assert versions == "1.41 1.47\n"

    # a container's short id (and hostname) among its aliases on a user network, before 1.45
    docker.ok("network", "create", "front")
    options = "-d --name app --network front --network-alias api".split()
    app = docker.ok("run", *options, busybox, "sleep", "300").strip()
    aliases = "{{json .NetworkSettings.Networks.front.Aliases}}"
    assert json.loads(docker.ok("inspect", "-f", aliases, "app")) == ["api", app[:12]]
    assert json.loads(api.docker("inspect", "-f", aliases, "app").stdout) == ["api"]
    networks = docker.ok("ps", "--format", "{{.Names}} {{.Networks}}")
    assert networks == "app front\n"  # from the list's NetworkSettings

    # an image's build container, and VirtualSize, before 1.45 and 1.44
    template = "{{.Container}}|{{.ContainerConfig.Cmd}}|{{.VirtualSize}}|{{.Size}}"
    shown = docker.ok("image", "inspect", "-f", template, busybox)
    blank, cmd, virtual, size = shown.strip().split("|")
    assert (blank, cmd, virtual) == ("", "[]", size)
    status, current = call(api, "GET", f"/images/{busybox}/json")
    assert status == 200 and "ContainerConfig" not in current and "VirtualSize" not in current

    # /system/df: BuilderSize before 1.42, VirtualSize before 1.44
    status, old = call(api, "GET", "/v1.41/system/df")
    assert status == 200 and old["BuilderSize"] == 0
    assert [image["VirtualSize"] for image in old["Images"]] == [old["Images"][0]["Size"]]
    status, new = call(api, "GET", "/system/df")
    assert "BuilderSize" not in new and "VirtualSize" not in new["Images"][0]

    # docker info warns of bridge-nf-call-iptables only where it is off
    info = docker("info")
    assert info.returncode == 0, info.stderr
    setting = host_ns.run("cat", "/proc/sys/net/bridge/bridge-nf-call-iptables").stdout.strip()
    assert ("bridge-nf-call-iptables is disabled" in info.stderr) == (setting != "1"), info.stderr

    docker.ok("rm", "-f", "app")
    docker.ok("network", "rm", "front")


def test_create_takes_what_api_1_41_had(api: ApiServer, busybox: str) -> None:
    """What 1.44 added to create is not taken from a 1.41 request: a healthcheck's
    StartInterval, and more than one network at create."""
    call(api, "POST", "/networks/create", {"Name": "front"})
    call(api, "POST", "/networks/create", {"Name": "back"})
    probe = {"Test": ["CMD", "true"], "Interval": 10**9, "StartInterval": 2 * 10**8}
    body = {"Image": busybox, "Cmd": ["sleep", "300"], "Healthcheck": probe}
    for version, kept in (("1.41", None), ("1.47", 2 * 10**8)):
        status, created = call(api, "POST", f"/v{version}/containers/create", body)
        assert status == 201, created
        status, document = call(api, "GET", f"/containers/{created['Id']}/json")
        assert document["Config"]["Healthcheck"].get("StartInterval") == kept
        assert document["Config"]["Healthcheck"]["Interval"] == 10**9

    both = {"EndpointsConfig": {"front": {}, "back": {}}}
    two = {"Image": busybox, "HostConfig": {"NetworkMode": "front"}, "NetworkingConfig": both}
    status, answer = call(api, "POST", "/v1.41/containers/create?name=twice", two)
    assert status == 400, answer
    assert answer["message"] == (
        "Container cannot be created with multiple network endpoints: front, back"
    )
    status, created = call(api, "POST", "/containers/create?name=twice", two)
    assert status == 201, created
    status, document = call(api, "GET", "/containers/twice/json")
    assert sorted(document["NetworkSettings"]["Networks"]) == ["back", "front"]
