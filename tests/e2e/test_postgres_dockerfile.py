"""The walkthrough's postgres:15 written as a Dockerfile (imagebuild/postgres.Dockerfile): berth
builds it FROM the walkthrough's debian:bookworm, the image plays the walkthrough's essentials
(first start with initdb, psql over the published port, a clean stop) and is the walkthrough's
image in all but its layers' bytes (same config, same packages); an unchanged rebuild is all
CACHED. Docker's classic builder (Debian's 20.10 client, a private dockerd) builds the same
Dockerfile into the same config and packages.

The RUN installs postgresql-15 from deb.debian.org, so its container must reach Debian's mirror.
The namespace that plays the host (`host_ns`) has no route out (a veth to a LAN namespace
only: a RUN there fails to resolve deb.debian.org), and wiring one would mean NAT rules on the
machine's own network. So both builds run in the machine's own network namespace with
`--network host`: the RUN shares the host's network, berth makes no bridge, veth or nft table
(checked before and after), dockerd runs without a bridge or iptables (bench.peers.Docker),
and nothing but the apt mirror is contacted. Everything else — the run with `-p`, psql, the
stop — happens in `host_ns`, as in the walkthrough's own test.

The base images come from a registry of this module's own (the walkthrough's cached images,
imagebuild.walkthrough: minutes to build on a cold cache). PG_VERSION is the version the
walkthrough's postgres:15 recorded; if bookworm-security has moved past it since that image
was cached, the pinned install fails: rebuild the cache (`rm -r .cache/images`).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.peers import Docker, bench_root
from imagebuild.debian import push_image
from imagebuild.walkthrough import WalkthroughImages, build_all
from tests.fixtures.netns import IP, NFT, HostNamespace
from tests.fixtures.registry import start_registry
from tests.fixtures.store import Berth, Store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

DOCKERFILE = Path(__file__).resolve().parents[2] / "imagebuild" / "postgres.Dockerfile"
CONTEXT = DOCKERFILE.parent  # the entrypoint the walkthrough's images carry is in it
BUILT = "postgres-dockerfile:15"
WALKTHROUGH = "postgres:15"
PASSWORD = "dockerfile"
PORT = 5433
READY = "database system is ready to accept connections"
READY_TIMEOUT = 90.0
PACKAGES = ["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"]


@pytest.fixture(scope="module")
def images() -> WalkthroughImages:
    return build_all()


@pytest.fixture(scope="module")
def hub(images: WalkthroughImages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry serving the walkthrough's debian:bookworm and postgres:15; yields its host."""
    registry = start_registry(tmp_path_factory.mktemp("hub"))
    try:
        push_image(images.bookworm.built, registry.host, "bookworm")
        push_image(images.pg15.built, registry.host, "15")
        yield registry.host
    finally:
        registry.stop()


@pytest.fixture
def runner(berth: Berth) -> Iterator[Berth]:
    """berth in the namespace that plays the host; the containers a failure left are removed."""
    yield berth
    for container_id in berth("ps", "-aq", "--no-trunc").stdout.split():
        berth("rm", "-f", container_id)


def pg_version(images: WalkthroughImages) -> str:
    """Debian's version of the walkthrough's postgres:15 (`15.20-0+deb12u1`)."""
    return dict(images.pg15.built.layers[1].versions)["postgresql-15"]


def build_args(images: WalkthroughImages) -> list[str]:
    return [
        "build", "--network", "host", "-f", str(DOCKERFILE),
        "--build-arg", f"PG_VERSION={pg_version(images)}", "-t", BUILT, str(CONTEXT),
    ]  # fmt: skip


def host_network(store: Store) -> set[str]:
    """The bridge and nft table berth would make on the machine for this store, if present:
    berth names them after the store's root (berth/network/host.py: `HostNetwork.instance`).
    Only these: other work on this shared machine makes bridges and veths of its own."""
    instance = "berth-" + hashlib.sha256(str(store.root).encode()).hexdigest()[:8]
    links = subprocess.run([IP, "-o", "link", "show"], capture_output=True, text=True, check=True)
    tables = subprocess.run([NFT, "list", "tables"], capture_output=True, text=True, check=True)
    lines = [*links.stdout.splitlines(), *tables.stdout.splitlines()]
    return {line for line in lines if instance in line}


def comparable(config: dict[str, Any]) -> dict[str, Any]:
    """An image's run config without `Image` (the classic builder's parent id)."""
    return {key: value for key, value in config.items() if key != "Image"}


def steps_not_cached(output: str) -> list[str]:
    """The instructions of a build's plain progress that were not served from the cache."""
    lines = output.splitlines()
    return [
        line.split("] ", 1)[1]
        for line, after in zip(lines, [*lines[1:], ""], strict=True)
        if line.startswith("#") and " [stage-" in line and not after.endswith(" CACHED")
    ]


def wait_until_served(berth: Berth, host_ns: HostNamespace, name: str) -> None:
    """Until the entrypoint's initdb server and then the real one have both said they are
    ready, and the real one answers on the published port."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        logged = berth("logs", name)
        logs = logged.stdout + logged.stderr  # the initdb server logs to pg_ctl's stdout
        if logs.count(READY) >= 2:
            probe = host_ns.run("pg_isready", "-q", "-h", "127.0.0.1", "-p", str(PORT), "-t", "2")
            if probe.returncode == 0:
                return
        running = berth("inspect", "-f", "{{.State.Running}}", name).stdout.strip()
        assert running == "true", logs
        time.sleep(0.3)
    pytest.fail(f"{name} did not become ready:\n{berth('logs', name).stderr}")


def test_berth_builds_the_walkthrough_image_from_the_dockerfile(
    runner: Berth, store: Store, host_ns: HostNamespace, hub: str, images: WalkthroughImages
) -> None:
    berth = runner
    for repository, tag in (("debian", "bookworm"), ("postgres", "15")):
        reference = f"{hub}/library/{repository}:{tag}"
        assert berth("pull", "-q", reference, timeout=600).returncode == 0
        assert berth("tag", reference, f"{repository}:{tag}").returncode == 0
    builder = Berth(store)  # the machine's own network namespace: see the module's docstring
    assert host_network(store) == set()
    built = builder(*build_args(images), timeout=1800)
    assert built.returncode == 0, built.stderr[-5000:]
    assert host_network(store) == set()
    image_id = berth("image", "inspect", "-f", "{{.Id}}", BUILT).stdout.strip()

    # The walkthrough's image in all that users see: the config, the base, the packages.
    configs = [
        json.loads(berth("image", "inspect", "-f", "{{json .Config}}", name).stdout)
        for name in (BUILT, WALKTHROUGH)
    ]
    assert configs[0] == configs[1]
    assert configs[0]["Env"][3] == f"PG_VERSION={pg_version(images)}"
    layers = [
        json.loads(berth("image", "inspect", "-f", "{{json .RootFS.Layers}}", name).stdout)
        for name in (BUILT, WALKTHROUGH)
    ]
    assert len(layers[0]) == 3 and layers[0][0] == layers[1][0]
    packages = [
        berth("run", "--rm", "--network", "none", "--entrypoint", PACKAGES[0], name, *PACKAGES[1:])
        for name in (BUILT, WALKTHROUGH)
    ]
    assert packages[0].returncode == 0, packages[0].stderr
    assert packages[0].stdout == packages[1].stdout

    # The walkthrough's essentials: first start, psql through the published port, a clean stop.
    started = berth(
        "run", "-d", "--name", "pg", "-e", f"POSTGRES_PASSWORD={PASSWORD}",
        "-p", f"{PORT}:5432", BUILT,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    wait_until_served(berth, host_ns, "pg")
    assert "PostgreSQL init process complete" in berth("logs", "pg").stdout
    query = host_ns.run(
        "env", f"PGPASSWORD={PASSWORD}", "PGCONNECT_TIMEOUT=5", "psql", "-h", "127.0.0.1",
        "-p", str(PORT), "-U", "postgres", "-Atc", "select version()",
    )  # fmt: skip
    assert query.stdout.startswith(f"PostgreSQL {images.pg15.version} (Debian "), query.stderr
    inside = berth("exec", "-u", "postgres", "pg", "psql", "-Atc", "select current_user")
    assert inside.stdout == "postgres\n", inside.stderr
    assert berth("stop", "pg").returncode == 0
    assert berth("inspect", "-f", "{{.State.ExitCode}}", "pg").stdout.strip() == "0"
    assert "database system is shut down" in berth("logs", "pg").stderr
    assert berth("rm", "pg").returncode == 0

    # Nothing changed: every step from the cache, the same image.
    again = builder(*build_args(images), timeout=600)
    assert again.returncode == 0, again.stderr[-5000:]
    assert steps_not_cached(again.stderr) == ["FROM debian:bookworm", "ARG PG_VERSION"]
    assert berth("image", "inspect", "-f", "{{.Id}}", BUILT).stdout.strip() == image_id
    assert host_network(store) == set()
    assert berth("ps", "-aq").stdout == ""


def run_docker(
    dockerd: Docker, *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Debian's 20.10 client on the private dockerd, with its classic builder."""
    env = {**dockerd.env, "DOCKER_BUILDKIT": "0"}
    return subprocess.run(
        dockerd.argv(*args), env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_docker_builds_the_same_image_from_the_dockerfile(
    hub: str, images: WalkthroughImages
) -> None:
    with bench_root("tmpfs", "8g") as root:
        dockerd = Docker(root / "docker")  # no bridge, no iptables: nothing on the host
        dockerd.start()
        try:
            for repository, tag in (("debian", "bookworm"), ("postgres", "15")):
                reference = f"{hub}/library/{repository}:{tag}"
                assert run_docker(dockerd, "pull", "-q", reference).returncode == 0
                assert run_docker(dockerd, "tag", reference, f"{repository}:{tag}").returncode == 0
            built = run_docker(dockerd, *build_args(images), timeout=1800)
            assert built.returncode == 0, built.stdout[-5000:] + built.stderr[-2000:]

            inspect = ("image", "inspect", "-f", "{{json .Config}}")
            configs = [
                comparable(json.loads(run_docker(dockerd, *inspect, name).stdout))
                for name in (BUILT, WALKTHROUGH)
            ]
            assert configs[0] == configs[1]
            run = ("run", "--rm", "--network", "none", "--entrypoint", PACKAGES[0])
            packages = [
                run_docker(dockerd, *run, name, *PACKAGES[1:]) for name in (BUILT, WALKTHROUGH)
            ]
            assert packages[0].returncode == 0, packages[0].stderr
            assert packages[0].stdout == packages[1].stdout
            assert run_docker(dockerd, "ps", "-aq").stdout == ""
        finally:
            dockerd.stop()
