"""`/volumes` through real clients: the docker CLI and docker-py against `berth serve`, with
containers made by the berth CLI on the same store, and bad requests sent raw."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import docker.errors
import pytest

from tests.api.test_networks import call, docker_ok
from tests.fixtures.api import ApiServer
from tests.fixtures.store import Berth


def volume_names(api: ApiServer) -> list[str]:
    status, answer = call(api, "GET", "/volumes")
    assert status == 200
    return sorted(v["Name"] for v in answer["Volumes"])


def test_docker_cli_creates_lists_and_inspects(api: ApiServer) -> None:
    assert docker_ok(api, "volume", "create", "--label", "tier=db", "data").strip() == "data"
    assert docker_ok(api, "volume", "create", "--label", "tier=web", "static").strip() == "static"
    anonymous = docker_ok(api, "volume", "create").strip()
    assert len(anonymous) == 64

    listed = docker_ok(api, "volume", "ls", "--format", "{{.Driver}} {{.Name}}").splitlines()
    assert sorted(listed) == sorted(f"local {n}" for n in ("data", "static", anonymous))

    def filtered(*filters: str) -> list[str]:
        words = [w for f in filters for w in ("--filter", f)]
        return sorted(docker_ok(api, "volume", "ls", "-q", *words).split())

    assert filtered("label=tier=db") == ["data"]
    assert filtered("label=tier") == ["data", "static"]
    assert filtered("name=stat") == ["static"]
    assert filtered("driver=local", "label=tier=web") == ["static"]
    assert filtered("dangling=true") == sorted(["data", "static", anonymous])
    assert filtered("dangling=false") == []
    bad = api.docker("volume", "ls", "--filter", "colour=red")
    assert bad.returncode != 0 and "invalid filter 'colour'" in bad.stderr

    [document] = json.loads(docker_ok(api, "volume", "inspect", "data"))
    assert document["Name"] == "data" and document["Driver"] == "local"
    assert document["Labels"] == {"tier": "db"} and document["Scope"] == "local"
    assert document["Mountpoint"].endswith("/volumes/data/_data")
    assert document["CreatedAt"].endswith("Z")
    shown = docker_ok(api, "volume", "inspect", "-f", "{{.Name}} {{.Labels.tier}}", "static")
    assert shown.strip() == "static web"
    missing = api.docker("volume", "inspect", "nope")
    assert missing.returncode != 0 and "No such volume: nope" in missing.stderr

    # the same name again answers the volume that exists, labels and all
    assert docker_ok(api, "volume", "create", "--label", "other=1", "data").strip() == "data"
    [again] = json.loads(docker_ok(api, "volume", "inspect", "data"))
    assert again["Labels"] == {"tier": "db"} and again["CreatedAt"] == document["CreatedAt"]

    # the local driver's mount options are refused whole: nothing is made
    with_options = api.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "tmp")
    assert with_options.returncode != 0 and "not supported" in with_options.stderr
    other_driver = api.docker("volume", "create", "-d", "nfs-plugin", "remote")
    assert other_driver.returncode != 0 and "plugin" in other_driver.stderr
    assert volume_names(api) == sorted(["data", "static", anonymous])

    assert docker_ok(api, "volume", "rm", "data", "static", anonymous).split() == [
        "data",
        "static",
        anonymous,
    ]
    assert volume_names(api) == []


def test_a_volume_in_use_is_not_removed(api: ApiServer, busybox: str, berth: Berth) -> None:
    docker_ok(api, "volume", "create", "kept")
    started = berth("run", "-d", "--name", "user", "-v", "kept:/data", busybox, "sleep", "300")
    assert started.returncode == 0, started.stderr
    assert berth("exec", "user", "sh", "-c", "echo hello > /data/file").returncode == 0

    for force in ([], ["-f"]):
        busy = api.docker("volume", "rm", *force, "kept")
        assert busy.returncode != 0 and "volume is in use" in busy.stderr, busy.stderr
    status, answer = call(api, "DELETE", "/volumes/kept?force=1")
    assert status == 409 and "volume is in use" in answer["message"]
    assert docker_ok(api, "volume", "ls", "-q", "--filter", "dangling=false").split() == ["kept"]
    [document] = json.loads(docker_ok(api, "volume", "inspect", "kept"))
    with open(document["Mountpoint"] + "/file") as written:
        assert written.read() == "hello\n"

    assert berth("rm", "-f", "user").returncode == 0
    assert docker_ok(api, "volume", "rm", "kept").strip() == "kept"
    missing = api.docker("volume", "rm", "kept")
    assert missing.returncode != 0 and "No such volume: kept" in missing.stderr
    assert api.docker("volume", "rm", "-f", "kept").returncode == 0


def test_prune_takes_anonymous_volumes_unless_all(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    docker_ok(api, "volume", "create", "--label", "keep=no", "named")
    docker_ok(api, "volume", "create", "--label", "keep=yes", "precious")
    anonymous = docker_ok(api, "volume", "create").strip()
    docker_ok(api, "volume", "create", "busy")
    started = berth("run", "-d", "--name", "user", "-v", "busy:/data", busybox, "sleep", "300")
    assert started.returncode == 0, started.stderr
    assert berth("exec", "user", "sh", "-c", "head -c 5000 /dev/zero > /data/x").returncode == 0
    anonymous_path = json.loads(docker_ok(api, "volume", "inspect", anonymous))[0]["Mountpoint"]
    with open(anonymous_path + "/blob", "wb") as blob:
        blob.write(b"x" * 3000)

    pruned = docker_ok(api, "volume", "prune", "-f").splitlines()
    assert pruned[:2] == ["Deleted Volumes:", anonymous]
    assert pruned[-1].startswith("Total reclaimed space: ") and pruned[-1].endswith("kB")
    assert volume_names(api) == ["busy", "named", "precious"]

    every = docker_ok(api, "volume", "prune", "-f", "-a", "--filter", "label!=keep=yes")
    assert every.splitlines()[:2] == ["Deleted Volumes:", "named"]
    assert volume_names(api) == ["busy", "precious"]

    # before API 1.42 a prune took every unused volume, named ones too
    status, answer = call(api, "POST", "/v1.41/volumes/prune")
    assert status == 200 and answer == {"VolumesDeleted": ["precious"], "SpaceReclaimed": 0}
    status, answer = call(api, "POST", "/volumes/prune")
    assert status == 200 and answer == {"VolumesDeleted": [], "SpaceReclaimed": 0}
    assert volume_names(api) == ["busy"]  # in use
    assert berth("rm", "-f", "user").returncode == 0
    docker_ok(api, "volume", "rm", "busy")


def test_docker_py_volumes(api: ApiServer) -> None:
    client = api.client()
    try:
        volume = client.volumes.create("py-vol", driver="local", labels={"made-by": "docker-py"})
        assert volume.name == "py-vol" and volume.attrs["Labels"] == {"made-by": "docker-py"}
        assert client.volumes.get("py-vol").attrs["Mountpoint"] == volume.attrs["Mountpoint"]
        assert client.volumes.create("py-vol").attrs["CreatedAt"] == volume.attrs["CreatedAt"]
        anonymous = client.volumes.create()
        assert len(anonymous.name) == 64
        assert [v.name for v in client.volumes.list(filters={"label": "made-by"})] == ["py-vol"]
        assert sorted(v.name for v in client.volumes.list()) == sorted(["py-vol", anonymous.name])
        with pytest.raises(docker.errors.NotFound):
            client.volumes.get("nope")
        with pytest.raises(docker.errors.APIError) as options:
            client.volumes.create("opts", driver_opts={"type": "tmpfs", "device": "tmpfs"})
        assert options.value.status_code == 400
        with pytest.raises(docker.errors.NotFound):
            client.volumes.create("other", driver="nfs-plugin")

        assert client.volumes.prune() == {
            "VolumesDeleted": [anonymous.name],
            "SpaceReclaimed": 0,
        }
        volume.remove()
        with pytest.raises(docker.errors.NotFound):
            volume.reload()
        assert client.volumes.list() == []
    finally:
        client.close()


def test_bad_requests_get_4xx_and_create_nothing(api: ApiServer) -> None:
    docker_ok(api, "volume", "create", "known")
    creates: list[tuple[Any, int, str]] = [
        (b"{", 400, "invalid JSON"),
        (b"[]", 400, "invalid JSON"),
        (b'{"Name": "fresh"} trailing', 400, "invalid JSON"),
        ({"Name": 7}, 400, "VolumeCreateRequest.Name of type string"),
        ({"Name": "fresh", "Labels": [1]}, 400, "Labels of type map[string]string"),
        ({"Name": "fresh", "Labels": {"k": 1}}, 400, "Labels of type string"),
        ({"Name": "fresh", "DriverOpts": "size=1m"}, 400, "DriverOpts of type map"),
        ({"Name": "fresh", "Driver": True}, 400, "Driver of type string"),
        ({"Name": "fresh", "Colour": "red"}, 400, "unknown field 'Colour'"),
        ({"Name": "bad/name"}, 400, "includes invalid characters"),
        ({"Name": "x"}, 400, "includes invalid characters"),
        ({"Name": "fresh", "Driver": "elsewhere"}, 404, 'plugin "elsewhere" not found'),
        ({"Name": "fresh", "ClusterVolumeSpec": {}}, 503, "swarm"),
    ]
    for body, expected, words in creates:
        status, answer = call(api, "POST", "/volumes/create", body)
        assert (status, words in answer["message"]) == (expected, True), (body, answer)
    assert volume_names(api) == ["known"]

    requests: list[tuple[str, str, int]] = [
        ("GET", "/volumes/nope", 404),
        ("DELETE", "/volumes/nope", 404),
        ("GET", "/volumes?filters=" + quote("{nope"), 400),
        ("GET", "/volumes?filters=" + quote('{"colour":["red"]}'), 400),
        ("GET", "/volumes?filters=" + quote('{"dangling":["maybe"]}'), 400),
        ("GET", "/volumes?filters=" + quote('{"name":"known"}'), 400),
        ("POST", "/volumes/prune?filters=" + quote('{"name":["known"]}'), 400),
        ("POST", "/volumes/prune?filters=" + quote('{"all":["perhaps"]}'), 400),
        ("PUT", "/volumes/known", 405),
    ]
    for method, path, expected in requests:
        status, answer = call(api, method, path)
        assert status == expected, (method, path, status, answer)
        assert answer["message"], (method, path)
    assert volume_names(api) == ["known"]
    assert call(api, "HEAD", "/volumes/known") == (200, None)

    # an empty body is an anonymous volume, as in dockerd; and the server still serves
    status, answer = call(api, "POST", "/volumes/create", b"")
    assert status == 201 and len(answer["Name"]) == 64
    assert answer["Labels"] == {"com.docker.volume.anonymous": ""}
    assert docker_ok(api, "volume", "rm", "known", answer["Name"]).split() == [
        "known",
        answer["Name"],
    ]
