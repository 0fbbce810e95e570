"""testcontainers (PyPI, 4.x) against `berth serve`: a container started from a test, found
on its published port, then gone.

These VMs carry a /.dockerenv file, so testcontainers believes it runs inside a container: it
then reaches a container through the gateway of the container's network, which it reads from
the container list (`GET /containers/json`'s NetworkSettings). Its reaper (ryuk) is an image
from Docker Hub, so it is turned off. Published ports answer inside the namespace that plays
the host, where the requests and psql run. The postgres tests use the walkthrough's image
(see tests/api/test_compose.py), minutes to build on a cold cache.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.api.test_compose import postgres_registry, pull_postgres
from tests.fixtures.api import ApiServer
from tests.fixtures.netns import HostNamespace
from tests.fixtures.registry import RunningRegistry
from tests.fixtures.store import Berth

READY = "database system is ready to accept connections"
PASSWORD = "tc-secret"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    with postgres_registry(tmp_path_factory.mktemp("hub")) as registry:
        yield registry


@pytest.fixture
def postgres(berth: Berth, hub: RunningRegistry) -> str:
    return pull_postgres(berth, hub)


@pytest.fixture
def environment(api: ApiServer, berth: Berth, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """testcontainers' settings, from the environment as its users give them; at the end,
    nothing it started may be left."""
    monkeypatch.setenv("DOCKER_HOST", api.url)
    monkeypatch.setenv("DOCKER_CONFIG", str(api.docker_config))
    monkeypatch.setenv("TC_HOST", "127.0.0.1")
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    yield
    assert berth("ps", "-aq").stdout == ""
    assert berth("volume", "ls", "-q").stdout == ""


def in_host(host_ns: HostNamespace, *argv: str) -> subprocess.CompletedProcess[str]:
    result = host_ns.run(*argv)
    assert result.returncode == 0, result.stderr
    return result


def test_a_container_is_reached_where_testcontainers_says(
    api: ApiServer, busybox: str, host_ns: HostNamespace, environment: None
) -> None:
    from testcontainers.core.container import DockerContainer

    server = DockerContainer(busybox).with_command("httpd -f -p 80 -h /etc").with_exposed_ports(80)
    with server:
        container_id = server.get_container_id()
        host, port = server.get_container_host_ip(), server.get_exposed_port(80)
        served = in_host(host_ns, "wget", "-qO-", "-T", "5", f"http://{host}:{port}/hostname")
        assert served.stdout == container_id[:12] + "\n"

        # what it reads: the list's networks, the same as inspect's
        client = api.client()
        try:
            [listed] = client.api.containers(filters={"id": container_id})
            inspected = client.api.inspect_container(container_id)
        finally:
            client.close()
        bridge = listed["NetworkSettings"]["Networks"]["bridge"]
        assert bridge == inspected["NetworkSettings"]["Networks"]["bridge"]
        assert bridge["Gateway"] and bridge["IPAddress"], bridge


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_postgres_in_a_docker_container(
    postgres: str, host_ns: HostNamespace, environment: None
) -> None:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    # The image's first start runs a server on the unix socket only to initialise the
    # database, which says it is ready too (on stdout): the second time (on stderr) is the
    # one to wait for. Not with `times=2`: this testcontainers keeps it and never reads it,
    # so on a loaded machine psql came before the server listened.
    ready = LogMessageWaitStrategy(READY, predicate_streams_and=True)
    database = (
        DockerContainer(postgres)
        .with_env("POSTGRES_PASSWORD", PASSWORD)
        .with_exposed_ports(5432)
        .waiting_for(ready.with_startup_timeout(120))
    )
    with database:
        host, port = database.get_container_host_ip(), database.get_exposed_port(5432)
        psql = ["env", f"PGPASSWORD={PASSWORD}", "psql", "-h", host, "-p", str(port)]
        answer = in_host(host_ns, *psql, "-U", "postgres", "-Atc", "select 6 * 7")
        assert answer.stdout == "42\n"
        stdout, stderr = database.get_logs()  # the first server logs to stdout
        assert (stdout.decode().count(READY), stderr.decode().count(READY)) == (1, 1)
        container_id = database.get_container_id()
    assert container_id  # and the environment fixture finds it gone


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_postgres_container_module(
    postgres: str, host_ns: HostNamespace, environment: None
) -> None:
    from testcontainers.community.postgres import PostgresContainer

    # Its readiness probe runs psql inside the container (an exec), then it hands out a URL.
    with PostgresContainer(postgres, username="shop", password=PASSWORD, driver=None) as pg:
        url = pg.get_connection_url()
        answer = in_host(host_ns, "psql", url, "-Atc", "select current_user, current_database()")
        assert answer.stdout == "shop|test\n"
        inside = pg.exec(["psql", "-U", "shop", "-d", "test", "-Atc", "select 1"])
        assert (inside.exit_code, inside.output) == (0, b"1\n")
