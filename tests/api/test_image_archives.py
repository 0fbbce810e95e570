"""`GET /images/{name}/get`, `GET /images/get?names=` and `POST /images/load` through real
clients: the docker CLI (28.x, no terminal) and docker-py against `berth serve`, on a store
the berth CLI shares — images saved keep their ids and tags when loaded back, and bad
archives or names are clear 4xx errors."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import docker.errors
import pytest

from tests.fixtures.api import DOCKER, ApiServer
from tests.fixtures.store import Berth


def manifest_of(data: bytes) -> list[dict[str, object]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.extractfile("manifest.json")
        assert member is not None
        items: list[dict[str, object]] = json.loads(member.read())
    return items


def image_id(berth: Berth, name: str) -> str:
    return berth("image", "inspect", "-f", "{{.Id}}", name).stdout.strip()


def test_docker_save_and_load_through_berth_serve(
    api: ApiServer, busybox: str, berth: Berth, tmp_path: Path
) -> None:
    wanted = image_id(berth, busybox)
    assert berth("tag", busybox, "other:1").returncode == 0
    archive = tmp_path / "busybox.tar"
    saved = api.docker("save", "-o", str(archive), busybox)  # GET /images/busybox/get
    assert saved.returncode == 0, saved.stderr
    items = manifest_of(archive.read_bytes())
    assert [item["RepoTags"] for item in items] == [["busybox:latest"]]
    both = tmp_path / "both.tar"
    saved = api.docker("save", "-o", str(both), busybox, "other:1")  # GET /images/get?names=
    assert saved.returncode == 0, saved.stderr
    assert [item["RepoTags"] for item in manifest_of(both.read_bytes())] == [
        ["busybox:latest", "other:1"]
    ]

    assert berth("rmi", busybox, "other:1").returncode == 0
    loaded = api.docker("load", "-i", str(both))
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.splitlines() == ["Loaded image: busybox:latest", "Loaded image: other:1"]
    assert image_id(berth, "other:1") == wanted

    # A pipe from `docker save` into `docker load`: both stream.
    assert berth("rmi", "other:1").returncode == 0
    with subprocess.Popen([DOCKER, "save", "busybox"], stdout=subprocess.PIPE, env=api.env) as save:
        load = subprocess.run(
            [DOCKER, "load"], stdin=save.stdout, capture_output=True, text=True, env=api.env,
            timeout=60, check=False,
        )  # fmt: skip
    assert save.returncode == 0 and load.returncode == 0, load.stderr
    assert load.stdout == "Loaded image: busybox:latest\n"

    missing = api.docker("save", "-o", str(tmp_path / "none.tar"), "nosuch:1")
    assert missing.returncode == 1 and "No such image: nosuch:1" in missing.stderr
    (tmp_path / "bad.tar").write_bytes(b"not an archive" * 100)
    bad = api.docker("load", "-i", str(tmp_path / "bad.tar"))
    assert bad.returncode == 1 and "invalid archive: not a tar archive" in bad.stderr
    assert image_id(berth, busybox) == wanted


def test_docker_py_saves_and_loads(api: ApiServer, busybox: str, berth: Berth) -> None:
    wanted = image_id(berth, busybox)
    client = api.client()
    try:
        for tag in client.images.get(busybox).tags:  # the registry's name, the fixture kept
            if tag != "busybox:latest":
                client.images.remove(tag)
        image = client.images.get(busybox)
        named = b"".join(image.save(named=True))
        unnamed = b"".join(image.save())  # by id: no name in the archive
        assert [item["RepoTags"] for item in manifest_of(named)] == [["busybox:latest"]]
        assert [item["RepoTags"] for item in manifest_of(unnamed)] == [None]
        raw = b"".join(client.api.get_image(busybox))
        assert raw == named  # the same images make the same tar

        client.images.remove(busybox)
        loaded = client.images.load(named)
        assert [(i.id, i.tags) for i in loaded] == [(wanted, ["busybox:latest"])]
        client.images.remove(busybox)
        loaded = client.images.load(unnamed)
        assert [(i.id, i.tags) for i in loaded] == [(wanted, [])]

        with pytest.raises(docker.errors.APIError) as refused:
            client.images.load(named[: len(named) // 2])
        assert refused.value.status_code == 400
        assert "invalid archive" in str(refused.value.explanation)
        with pytest.raises(docker.errors.NotFound):
            b"".join(client.api.get_image("nosuch:1"))
    finally:
        client.close()
