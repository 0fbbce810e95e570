"""The founding walkthrough (`make demo`), played with assertions.

Real images built from Debian's packages (imagebuild.walkthrough: postgres 15.x from bookworm,
15.y from bookworm-security, 13 from bullseye), served by a local registry as berth's docker.io
mirror, so the commands are the seed's own: pull one version, pull another (its shared layers
"Already exists", and the registry saw each blob fetched once), run 15 and 13 side by side on
published ports, ask each for its version with psql, tell images from containers, and clean up.

The images are built once and cached in .cache/images; on a cold cache the first test builds
them (a few minutes of debootstrap and apt-get against deb.debian.org), hence the long timeout.
Containers run inside `host_ns`, a namespace that plays the host; psql runs there too.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagebuild.walkthrough import WalkthroughImages, build_all, push_all
from tests.fixtures.netns import HostNamespace
from tests.fixtures.registry import RunningRegistry, start_registry
from tests.fixtures.store import Berth, Store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

PASSWORD = "walkthrough"
READY_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def images() -> WalkthroughImages:
    return build_all()


@pytest.fixture(scope="module")
def hub(images: WalkthroughImages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A registry with every walkthrough image pushed: Docker Hub, for this module."""
    registry = start_registry(tmp_path_factory.mktemp("hub"))
    try:
        push_all(images, registry.host)
        yield Hub(registry)
    finally:
        registry.stop()


class Hub:
    """The registry, and which blobs were downloaded from it since `mark()`."""

    def __init__(self, registry: RunningRegistry) -> None:
        self.registry = registry
        self._seen = 0

    def mark(self) -> None:
        self._seen = len(self.registry.access_log())

    def blob_downloads(self) -> Counter[str]:
        """Digest -> how many GETs fetched it (whole or in part) since `mark()`."""
        counts: Counter[str] = Counter()
        for line in self.registry.access_log()[self._seen :]:
            found = re.search(r'"GET /v2/[^ ]+/blobs/(sha256:[0-9a-f]{64}) [^"]*" (\d{3})', line)
            if found and found.group(2) in ("200", "206"):
                counts[found.group(1)] += 1
        return counts


@pytest.fixture
def docker_hub(berth: Berth, store: Store, hub: Hub) -> Iterator[Berth]:
    """berth with the module's registry as its docker.io mirror; every container it left is
    removed at the end."""
    (store.root / "registries.toml").write_text(
        f'[registries."docker.io"]\nmirrors = ["{hub.registry.url}"]\nmirrors_only = true\n'
    )
    yield berth
    for container_id in berth("ps", "-aq", "--no-trunc").stdout.split():
        berth("rm", "-f", container_id)


def short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def layer_lines(output: str) -> dict[str, list[str]]:
    """Short layer id -> the progress words printed for it (plain output, not a terminal)."""
    lines: dict[str, list[str]] = {}
    for line in output.splitlines():
        found = re.fullmatch(r"([0-9a-f]{12}): (.+)", line)
        if found:
            lines.setdefault(found.group(1), []).append(found.group(2))
    return lines


def psql(host_ns: HostNamespace, port: int, sql: str, user: str = "postgres", db: str = "") -> str:
    argv = ["env", f"PGPASSWORD={PASSWORD}", "PGCONNECT_TIMEOUT=5", "psql", "-h", "127.0.0.1"]
    argv += ["-p", str(port), "-U", user, "-d", db or user, "-Atc", sql]
    result = host_ns.run(*argv)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def wait_ready(berth: Berth, host_ns: HostNamespace, name: str, port: int) -> None:
    """Until postgres answers on the published port (its first start runs initdb first)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        probe = host_ns.run("pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port), "-t", "2")
        if probe.returncode == 0:
            return
        running = berth("inspect", "-f", "{{.State.Running}}", name).stdout.strip()
        assert running == "true", berth("logs", name).stderr
        time.sleep(0.3)
    pytest.fail(f"{name} did not answer on 127.0.0.1:{port}:\n{berth('logs', name).stderr}")


def run_postgres(berth: Berth, name: str, port: int, image: str, *env: str) -> None:
    flags = ["-e", f"POSTGRES_PASSWORD={PASSWORD}", *(f"-e{e}" for e in env)]
    started = berth("run", "-d", "--name", name, *flags, "-p", f"{port}:5432", image)
    assert started.returncode == 0, started.stderr


def test_the_walkthrough(
    docker_hub: Berth, host_ns: HostNamespace, hub: Hub, images: WalkthroughImages
) -> None:
    berth = docker_hub
    older, newer, pg13 = images.pg15_older, images.pg15, images.pg13
    base, _, entrypoint = (layer.digest for layer in newer.built.layers)
    assert older.built.layers[0].digest == base and older.built.layers[2].digest == entrypoint
    assert pg13.built.layers[2].digest == entrypoint and pg13.built.layers[0].digest != base
    hub.mark()

    # Pull the first version: every layer fetched, each with its own progress.
    first = berth("pull", f"postgres:{older.version}", timeout=600)
    assert first.returncode == 0, first.stderr
    progress = layer_lines(first.stdout)
    assert set(progress) == {short(layer.digest) for layer in older.built.layers}
    assert all(words[-1] == "Pull complete" for words in progress.values()), first.stdout
    assert f"Status: Downloaded newer image for postgres:{older.version}" in first.stdout

    # The second: the base and the entrypoint layers already exist, only the new one comes.
    second = berth("pull", "postgres:15", timeout=600)
    assert second.returncode == 0, second.stderr
    progress = layer_lines(second.stdout)
    assert progress[short(base)] == ["Already exists"]
    assert progress[short(entrypoint)] == ["Already exists"]
    assert progress[short(newer.built.layers[1].digest)][-1] == "Pull complete"

    # Another major version on another base: only the entrypoint layer is shared.
    third = berth("pull", "postgres:13", timeout=600)
    assert third.returncode == 0, third.stderr
    progress = layer_lines(third.stdout)
    assert progress[short(entrypoint)] == ["Already exists"]
    assert [progress[short(layer.digest)][-1] for layer in pg13.built.layers[:2]] == [
        "Pull complete"
    ] * 2

    # From the registry's side: each distinct blob was downloaded exactly once.
    every_layer = {layer.digest for image in (older, newer, pg13) for layer in image.built.layers}
    downloads = hub.blob_downloads()
    assert {digest: downloads[digest] for digest in every_layer} == dict.fromkeys(every_layer, 1)

    # Both versions at once, each on its own published port.
    run_postgres(berth, "pg15", 5433, "postgres:15")
    run_postgres(berth, "pg13", 5434, "postgres:13")
    wait_ready(berth, host_ns, "pg15", 5433)
    wait_ready(berth, host_ns, "pg13", 5434)
    listed = berth("ps", "--format", "{{.Names}}\t{{.Image}}\t{{.Ports}}\t{{.Status}}").stdout
    rows = sorted(line.split("\t") for line in listed.splitlines())
    assert [row[:3] for row in rows] == [
        ["pg13", "postgres:13", "0.0.0.0:5434->5432/tcp"],
        ["pg15", "postgres:15", "0.0.0.0:5433->5432/tcp"],
    ], listed
    assert all(row[3].startswith("Up ") for row in rows), listed
    assert berth("port", "pg15").stdout == "5432/tcp -> 0.0.0.0:5433\n"

    # Each answers as its own version, through 127.0.0.1 and from another machine on the LAN.
    answers = {}
    for image, port in ((newer, 5433), (pg13, 5434)):
        answers[port] = psql(host_ns, port, "select version()")
        assert answers[port].startswith(f"PostgreSQL {image.version} (Debian {image.version}-")
    remote = host_ns.run_client(
        "env", f"PGPASSWORD={PASSWORD}", "psql", "-h", host_ns.address, "-p", "5434",
        "-U", "postgres", "-Atc", "select version()",
    )  # fmt: skip
    assert remote.stdout.strip() == answers[5434], remote.stderr

    # Image versus container: an image run once is a container, still there when it exits.
    once = berth("run", "--name", "once", f"postgres:{older.version}", "postgres", "--version")
    assert once.stdout.startswith(f"postgres (PostgreSQL) {older.version} "), once.stderr
    tags = berth("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert sorted(tags) == sorted(["postgres:13", "postgres:15", f"postgres:{older.version}"])
    states = {
        line.split(" ", 1)[0]: line.split(" ", 1)[1]
        for line in berth("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout.splitlines()
    }
    assert set(states) == {"pg15", "pg13", "once"}
    assert states["once"].startswith("Exited (0)") and states["pg15"].startswith("Up")

    # What the images share: the two 15s the base and entrypoint, 13 the entrypoint only.
    shared = {}
    for line in berth("system", "df", "-v").stdout.splitlines():
        words = line.split()
        if words[:1] == ["postgres"]:
            shared[words[1]] = words[-3]
    assert shared[older.version] == shared["15"] != "0B"
    assert shared["13"] != "0B"

    # A stop is postgres's clean (fast) shutdown, exit status 0.
    assert berth("stop", "pg15").returncode == 0
    assert berth("inspect", "-f", "{{.State.ExitCode}}", "pg15").stdout.strip() == "0"
    assert "database system is shut down" in berth("logs", "pg15").stderr

    # Clean up: containers, then images; their layers and blobs go with them.
    assert berth("rm", "-f", "pg15", "pg13", "once").returncode == 0
    assert berth("ps", "-aq").stdout == ""
    assert berth("rmi", *tags).returncode == 0
    assert berth("images", "-q").stdout == ""
    assert berth("system", "df", "--format", "{{.Type}} {{.Size}}").stdout.startswith("Images 0B\n")


def test_the_entrypoint(
    docker_hub: Berth, host_ns: HostNamespace, images: WalkthroughImages, store: Store
) -> None:
    berth = docker_hub
    image = f"postgres:{images.pg15_older.version}"
    assert berth("pull", "-q", image, timeout=600).returncode == 0

    config = json.loads(berth("image", "inspect", "-f", "{{json .Config}}", image).stdout)
    assert config["ExposedPorts"] == {"5432/tcp": {}}
    assert "PG_MAJOR=15" in config["Env"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PG_MAJOR"] == "15"
    assert env["PG_VERSION"].startswith(f"{images.pg15_older.version}-")
    assert env["PATH"].endswith(":/usr/lib/postgresql/15/bin")
    assert env["PGDATA"] == "/var/lib/postgresql/data"

    # No password: the official image's refusal.
    refused = berth("run", "--rm", image)
    assert refused.returncode == 1
    assert "superuser password is not specified" in refused.stderr

    # Its own user and database; postgres itself is pid 1 of the container, as uid 999.
    run_postgres(berth, "app", 5435, image, "POSTGRES_USER=app", "POSTGRES_DB=shop")
    wait_ready(berth, host_ns, "app", 5435)
    assert psql(host_ns, 5435, "select current_user, current_database()", "app", "shop") == (
        "app|shop"
    )
    psql(host_ns, 5435, "create table kept (x int); insert into kept values (42)", "app", "shop")
    pid = berth("inspect", "-f", "{{.State.Pid}}", "app").stdout.strip()
    status = Path(f"/proc/{pid}/status").read_text()
    assert re.search(r"^Uid:\s+999\s", status, re.M), status
    assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == b"postgres"

    # A restart keeps the data and skips initialisation.
    assert berth("restart", "app").returncode == 0
    wait_ready(berth, host_ns, "app", 5435)
    assert "Skipping initialization" in berth("logs", "app").stdout
    assert psql(host_ns, 5435, "select x from kept", "app", "shop") == "42"
    assert berth("rm", "-f", "app").returncode == 0
