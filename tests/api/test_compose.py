"""docker-compose v1 (Debian's 1.29.2, on docker-py 5.0.3, which asks the server for its API
version) against `berth serve`: a web service and a postgres service on a user network, with
a named volume, a published port, environment, a healthcheck and `depends_on: condition:
service_healthy`; and compose pinned to an older API version.

The postgres image is the walkthrough's (imagebuild.walkthrough: built from Debian's packages
and cached in .cache/images; minutes on a cold cache), served by a registry of this module's
own and pulled into the test's store with the berth CLI. Compose and the docker CLI run in
the test's namespace; the server and the containers in the namespace that plays the host,
where the published port is fetched.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imagebuild.debian import push_image
from imagebuild.walkthrough import build_all
from tests.fixtures.api import ApiServer
from tests.fixtures.netns import HostNamespace
from tests.fixtures.registry import RunningRegistry, start_registry
from tests.fixtures.store import Berth

COMPOSE = "/usr/bin/docker-compose"
POSTGRES = "postgres:15"
PROJECT = "shop"
READY_TIMEOUT = 90.0

SHOP = """\
version: "2.4"
services:
  db:
    image: postgres:15
    environment:
      POSTGRES_PASSWORD: secret
      POSTGRES_DB: app
    volumes:
      - dbdata:/var/lib/postgresql/data
    networks: [backend]
    healthcheck:
      # over TCP: during its first start the image's entrypoint runs a server on the unix
      # socket only, which must not count as ready
      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "postgres", "-d", "app"]
      interval: 1s
      timeout: 3s
      retries: 60
  web:
    image: busybox
    command: ["httpd", "-f", "-vv", "-p", "80", "-h", "/www"]
    stop_grace_period: 1s  # httpd as pid 1 ignores SIGTERM
    environment:
      DB_HOST: db
    volumes:
      - ./www:/www:ro
    ports:
      - "8080:80"
    networks: [backend]
    depends_on:
      db:
        condition: service_healthy
networks:
  backend: {}
volumes:
  dbdata: {}
"""
ONE_SERVICE = """\
version: "2.4"
services:
  app:
    image: busybox
    command: ["sleep", "300"]
    stop_signal: SIGKILL
    networks: [front]
networks:
  front: {}
"""


@contextlib.contextmanager
def postgres_registry(directory: Path) -> Iterator[RunningRegistry]:
    """A registry serving the walkthrough's newest postgres 15 as `library/postgres:15`."""
    images = build_all()
    registry = start_registry(directory)
    try:
        push_image(images.pg15.built, registry.host, "15")
        yield registry
    finally:
        registry.stop()


def pull_postgres(berth: Berth, registry: RunningRegistry) -> str:
    """Pull postgres:15 into the test's store with the berth CLI and tag it `postgres:15`."""
    reference = f"{registry.host}/library/{POSTGRES}"
    pulled = berth("pull", "-q", reference, timeout=600)
    assert pulled.returncode == 0, pulled.stderr
    assert berth("tag", reference, POSTGRES).returncode == 0
    return POSTGRES


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    with postgres_registry(tmp_path_factory.mktemp("hub")) as registry:
        yield registry


@pytest.fixture
def postgres(berth: Berth, hub: RunningRegistry) -> str:
    return pull_postgres(berth, hub)


class Compose:
    """`docker-compose -p shop ...` in a project's directory, against the server."""

    def __init__(self, api: ApiServer, directory: Path, **env: str) -> None:
        self.env = {**api.env, **env}
        self.directory = directory

    def __call__(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [COMPOSE, "--ansi", "never", "-p", PROJECT, *args],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, timeout: float = 180) -> str:
        result = self(*args, timeout=timeout)
        assert result.returncode == 0, f"docker-compose {args}:\n{result.stdout}{result.stderr}"
        return result.stdout + result.stderr


@contextlib.contextmanager
def project(api: ApiServer, directory: Path, text: str, **env: str) -> Iterator[Compose]:
    """A project directory with `text` as its compose file; whatever a failed test left of
    the project is taken down (the api fixture removes containers, not networks or volumes)."""
    (directory / "www").mkdir(parents=True)
    (directory / "www" / "index.html").write_text("hello from web\n")
    (directory / "docker-compose.yml").write_text(text)
    runner = Compose(api, directory, **env)
    try:
        yield runner
    finally:
        runner("down", "-v", "-t", "1")


def inspect(api: ApiServer, name: str, version: str | None = None) -> dict[str, Any]:
    """docker inspect's document; as a client of API `version` sees it when given."""
    if version is not None:
        client = api.client(version=version)
        try:
            found: dict[str, Any] = client.api.inspect_container(name)
        finally:
            client.close()
        return found
    result = api.docker("inspect", name)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)[0]
    return document


def events(api: ApiServer, since: float) -> list[dict[str, Any]]:
    """The journal's events since `since` (a Unix time), up to now."""
    until = f"{time.time():.9f}"
    result = api.docker(
        "events", "--since", f"{since:.9f}", "--until", until, "--format", "{{json .}}"
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def fetch(host_ns: HostNamespace, port: int) -> str:
    result = host_ns.run("wget", "-qO-", "-T", "5", f"http://127.0.0.1:{port}/")
    assert result.returncode == 0, result.stderr
    return result.stdout


def wait_healthy(api: ApiServer, name: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        health = inspect(api, name)["State"].get("Health") or {}
        if health.get("Status") == "healthy":
            return
        time.sleep(0.3)
    pytest.fail(f"{name} is not healthy: {inspect(api, name)['State']}")


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_a_two_service_project_from_up_to_down(
    api: ApiServer,
    berth: Berth,
    host_ns: HostNamespace,
    busybox: str,
    postgres: str,
    tmp_path: Path,
) -> None:
    with project(api, tmp_path / PROJECT, SHOP) as compose:
        play_the_shop(api, compose, berth, host_ns)


def play_the_shop(api: ApiServer, compose: Compose, berth: Berth, host_ns: HostNamespace) -> None:
    began = time.time()
    output = compose.ok("up", "-d")
    for line in (
        f'Creating network "{PROJECT}_backend"',
        f'Creating volume "{PROJECT}_dbdata"',
        f"Creating {PROJECT}_db_1 ... done",
        f"Creating {PROJECT}_web_1 ... done",
    ):
        assert line in output, output

    # `up -d` started web only once db was healthy (its healthcheck, run by db's monitor).
    journal = events(api, began)
    db, web = inspect(api, f"{PROJECT}_db_1"), inspect(api, f"{PROJECT}_web_1")
    healthy = [
        e["timeNano"]
        for e in journal
        if e["Actor"]["ID"] == db["Id"] and e["Action"] == "health_status: healthy"
    ]
    [web_start] = [
        e["timeNano"] for e in journal if e["Actor"]["ID"] == web["Id"] and e["Action"] == "start"
    ]
    assert healthy and healthy[0] < web_start, journal
    aliases = web["NetworkSettings"]["Networks"][f"{PROJECT}_backend"]["Aliases"]
    assert "web" in aliases, aliases
    assert web["Config"]["Labels"]["com.docker.compose.service"] == "web"
    assert "DB_HOST=db" in web["Config"]["Env"]
    assert db["Mounts"][0]["Name"] == f"{PROJECT}_dbdata"

    listed = compose.ok("ps")
    rows = {line.split()[0]: line for line in listed.splitlines() if line.startswith(PROJECT)}
    assert set(rows) == {f"{PROJECT}_db_1", f"{PROJECT}_web_1"}, listed
    assert "Up (healthy)" in rows[f"{PROJECT}_db_1"], listed
    assert "0.0.0.0:8080->80/tcp" in rows[f"{PROJECT}_web_1"], listed
    assert compose.ok("port", "web", "80").strip() == "0.0.0.0:8080"

    # The published port answers on the host; web reaches db by its service name.
    assert fetch(host_ns, 8080) == "hello from web\n"
    reached = compose.ok(
        "exec", "-T", "web", "sh", "-c", "nc -w 3 db 5432 </dev/null && echo $DB_HOST"
    )
    assert reached.strip() == "db", reached
    sql = ["exec", "-T", "db", "psql", "-U", "postgres", "-d", "app", "-Atc"]
    assert compose.ok(*sql, "create table orders (id int); insert into orders values (7)")
    assert compose.ok(*sql, "select id from orders").strip() == "7"

    logs = compose.ok("logs", "--no-color")
    assert "database system is ready to accept connections" in logs, logs
    assert re.search(r"^web_1 .*: url:/$", logs, re.MULTILINE), logs  # httpd -vv, the fetch
    assert all(
        line.startswith(("db_1 ", "web_1 ", "Attaching to"))
        for line in logs.splitlines()
        if line.strip()
    ), logs

    # restart: both come back, db healthy again, its data kept in the named volume
    restarted = time.time()
    output = compose.ok("restart")
    for service in ("db", "web"):
        assert re.search(rf"Restarting {PROJECT}_{service}_1 +\.\.\. done", output), output
    journal = events(api, restarted)
    for container in (db, web):
        actions = [e["Action"] for e in journal if e["Actor"]["ID"] == container["Id"]]
        lifecycle = [a for a in actions if a in ("die", "stop", "start", "restart")]
        assert lifecycle == ["die", "stop", "start", "restart"], journal
        assert inspect(api, container["Id"])["State"]["Running"]
    wait_healthy(api, db["Id"])
    assert compose.ok(*sql, "select id from orders").strip() == "7"
    assert fetch(host_ns, 8080) == "hello from web\n"

    # down -v: nothing of the project is left
    output = compose.ok("down", "-v")
    assert f"Removing network {PROJECT}_backend" in output, output
    assert f"Removing volume {PROJECT}_dbdata" in output, output
    assert berth("ps", "-aq").stdout == ""
    networks = berth("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert sorted(networks) == ["bridge", "host", "none"]
    assert berth("volume", "ls", "-q").stdout == ""
    assert host_ns.run("wget", "-qO-", "-T", "2", "http://127.0.0.1:8080/").returncode != 0


def test_compose_pinned_to_api_1_41_finds_its_containers_connected(
    api: ApiServer, berth: Berth, busybox: str, tmp_path: Path
) -> None:
    """Before API 1.45 dockerd listed a container's short id among its aliases on a user
    network; compose v1 disconnects and reconnects a container it created whose aliases lack
    it (as it does with a current API, where the short id is no alias)."""
    began = time.time()
    with project(api, tmp_path / PROJECT, ONE_SERVICE, COMPOSE_API_VERSION="1.41") as compose:
        compose.ok("up", "-d")
        journal = events(api, began)
        [app] = berth("ps", "-q", "--no-trunc").stdout.split()
        assert [e["Action"] for e in journal if e["Type"] == "network"] == ["create"], journal
        aliases = inspect(api, app, version="1.41")["NetworkSettings"]["Networks"]
        assert aliases[f"{PROJECT}_front"]["Aliases"] == ["app", app[:12]], aliases
        current = inspect(api, app)["NetworkSettings"]["Networks"][f"{PROJECT}_front"]
        assert current["Aliases"] == ["app"], current
        compose.ok("down")
    assert berth("network", "ls", "-q", "--filter", "type=custom").stdout == ""
