"""The engine's services driven in-process, as `berth serve` will drive them: the container
lifecycle, the network sandbox, the image service and the volumes, each through the engine
that wires them, on a real store (tmpfs, SQLite), a real image pulled from a real registry,
real overlay mounts, cgroups, monitors and (inside a namespace playing the host) bridges and
nft rules. Every container a test starts is removed by the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.container import logs
from berth.container.state import Status
from berth.engine import Engine
from berth.errors import Conflict, NotFound
from berth.filters import Filters
from berth.layout import Layout
from berth.network import netns
from berth.reference import parse
from berth.runtime import Stdio
from tests.fixtures.images import Catalogue
from tests.fixtures.netns import HostNamespace
from tests.fixtures.store import Store


@pytest.fixture
def engine(store: Store) -> Iterator[Engine]:
    opened = Engine.open(Layout(store.root, store.runroot))
    try:
        yield opened
    finally:
        for record in opened.containers.all():
            opened.containers.remove(record, force=True, volumes=True)
        opened.close()


@pytest.fixture
def busybox(engine: Engine, registry: Catalogue) -> str:
    """Pulled in-process, outside the host's namespace (the registry is on this loopback)."""
    reference = registry["base"].reference
    engine.images.pull(parse(reference))
    engine.images.tag(reference, "busybox")
    return "busybox"


def _create(engine: Engine, *command: str, network: str = "none", **host: object) -> str:
    config = {"Image": "busybox", "Cmd": list(command)}
    return engine.containers.create(config, {"NetworkMode": network, **host}, None).id


def test_lifecycle_create_start_exit_remove(engine: Engine, busybox: str) -> None:
    containers = engine.containers
    container_id = _create(engine, "sh", "-c", "echo hello; exit 3")
    record = containers.get(container_id)
    assert record.status == Status.CREATED
    upper = engine.snapshots.upper(container_id)  # its rootfs: a snapshot, nothing copied
    assert list(upper.iterdir()) == []
    containers.start(record)
    finished = containers.wait_exit(record, 30)
    assert finished is not None and finished.status == Status.EXITED
    assert finished.state["ExitCode"] == 3
    records, _ = logs.read(containers.log_path(container_id))  # either monitor's format
    assert [record["log"] for record in records] == ["hello\n"]
    summary = containers.summaries(Filters.from_cli([f"id={container_id}"]), all=True)
    assert [s["State"] for s in summary] == ["exited"]
    assert summary[0]["Status"].startswith("Exited (3)")
    containers.remove(finished)
    with pytest.raises(NotFound):
        containers.get(container_id)
    with pytest.raises(NotFound):
        engine.snapshots.mounts(container_id)
    assert not upper.exists()


def test_a_started_container_waits_for_its_clients_greeting(engine: Engine, busybox: str) -> None:
    """A foreground run's container starts once its client has said which streams it wants:
    a client only connected yet (a slow one, a loaded machine) would miss the first output."""
    import socket
    import time

    from berth.monitor import protocol

    containers = engine.containers
    container_id = _create(engine, "echo", "first words")
    containers.start(containers.get(container_id), wait_for_attach=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(30)
        with protocol.reachable(containers.run_dir(container_id) / "attach.sock") as name:
            client.connect(name)
        time.sleep(0.5)  # connected, not greeted: the container must not have started
        assert containers.get(container_id).state.get("Status") == "running"
        client.sendall(b'{"stdin": false, "stdout": true, "stderr": true}\n')
        reader, frames = protocol.FrameReader(), []
        while not any(kind == protocol.EXIT for kind, _ in frames):
            data = client.recv(65536)
            assert data, f"the monitor closed the attach socket; frames so far: {frames}"
            frames.extend(reader.feed(data))
    assert (protocol.STDOUT, b"first words\n") in frames


def test_lifecycle_refuses_by_status_and_kill_ends_it(engine: Engine, busybox: str) -> None:
    containers = engine.containers
    container_id = _create(engine, "sleep", "60")
    record = containers.start(containers.get(container_id))
    assert record.status == Status.RUNNING and record.state["Pid"] > 0
    with pytest.raises(Conflict, match="cannot remove a running container"):
        containers.remove(record)
    containers.pause(record)
    paused = containers.get(container_id)
    assert paused.status == Status.PAUSED
    with pytest.raises(Conflict, match="unpause the container before exec"):
        engine.container_tools.exec(
            paused, ["true"], env=[], user=None, workdir=None, tty=False, stdio=Stdio(0, 1, 2)
        )
    with pytest.raises(Conflict, match="try unpause instead"):
        containers.start(paused)
    containers.unpause(paused)
    titles, rows = engine.container_tools.top(containers.get(container_id), [])
    assert "PID" in titles and any("sleep 60" in row[-1] for row in rows)
    containers.kill(containers.get(container_id), 9)
    finished = containers.wait_exit(record, 30)
    assert finished is not None and finished.state["ExitCode"] == 137
    containers.remove(finished)


def test_network_sandbox_on_a_user_network(
    engine: Engine, busybox: str, host_ns: HostNamespace
) -> None:
    """Inside the namespace playing the host: a user network, a container with an address,
    an alias the resolver's table names, and all of it released at stop."""
    with netns.entered(host_ns.path):
        network = engine.networks.create("backend", labels={"tier": "db"})
        config = {"Image": "busybox", "Cmd": ["sleep", "60"]}
        record = engine.containers.create(config, {"NetworkMode": "backend"}, "db", ["store"])
        try:
            engine.containers.start(record)
            settings = engine.containers.inspect(engine.containers.get(record.id))[
                "NetworkSettings"
            ]
            address = settings["Networks"]["backend"]["IPAddress"]
            assert address and settings["SandboxKey"]
            attached = engine.networks.inspect(network)["Containers"]
            assert attached[record.id]["Name"] == "db"
            names = json.loads(engine.host_network.names_file(network.id).read_text())
            assert names["db"] == names["store"] == [address]
            assert {"br-" + network.id[:12]} <= host_ns.devices()
            with pytest.raises(Conflict, match="has active endpoints"):
                engine.networks.remove(network)
            engine.containers.stop(engine.containers.get(record.id), 1)
            stopped = engine.containers.inspect(engine.containers.get(record.id))
            assert stopped["NetworkSettings"]["Networks"]["backend"]["IPAddress"] == ""
            listed = engine.networks.matching(Filters.from_cli(["label=tier=db"]))
            assert [n.name for n in listed] == ["backend"]
        finally:
            engine.containers.remove(engine.containers.get(record.id), force=True)
            engine.networks.remove(network)
        assert not any(device.startswith("br-") for device in host_ns.devices())


def test_image_service_users_filters_and_prune(engine: Engine, busybox: str) -> None:
    images = engine.images
    summaries = images.summaries(Filters.from_cli(["reference=busybox"]))
    assert len(summaries) == 1 and summaries[0]["RepoTags"] == ["busybox:latest"]
    image_id = summaries[0]["Id"]
    container_id = _create(engine, "true")
    with pytest.raises(Conflict, match="used by stopped container"):
        images.remove(image_id)
    removals, _ = images.prune(Filters.from_cli(["dangling=false"]))
    assert removals == []  # a container uses it
    engine.containers.remove(engine.containers.get(container_id))
    removals, reclaimed = images.prune(Filters.from_cli(["dangling=false"]))
    assert ("deleted", image_id) in [(r.action, r.value) for r in removals]
    assert reclaimed > 0
    assert images.summaries(Filters()) == []


def test_volumes_service_users_and_prune(engine: Engine, busybox: str) -> None:
    volumes = engine.volumes
    volumes.create("kept", labels={"keep": "yes"})
    volumes.create("dropped")
    mount = {"Type": "volume", "Source": "kept", "Target": "/data", "ReadOnly": False}
    container_id = _create(engine, "true", Mounts=[mount])
    with pytest.raises(Conflict, match="volume is in use"):
        volumes.remove("kept")
    used = volumes.matching(Filters.from_cli(["dangling=false"]))
    assert [v.name for v in used] == ["kept"]
    document = volumes.inspect(volumes.get("kept"), usage=True)
    assert document["UsageData"] == {"Size": 0, "RefCount": 1}
    removed, _ = volumes.prune(Filters.from_cli(["all=true", "label!=keep=yes"]))
    assert removed == ["dropped"]
    engine.containers.remove(engine.containers.get(container_id))
    removed, _ = volumes.prune(Filters.from_cli(["all=true"]))
    assert removed == ["kept"]
    assert not Path(document["Mountpoint"]).exists()
