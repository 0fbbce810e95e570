"""Building and committing through `berth serve`: the docker CLI's classic builder (the 28
client with DOCKER_BUILDKIT=0, and Debian's 20.10 client, whose default it is), docker-py's
`images.build` and `commit`; the built image runs, the cache serves a rebuild."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.fixtures.api import DOCKER, ApiServer
from tests.fixtures.store import Berth, Store

DOCKER_20 = "/usr/bin/docker"
DOCKERFILE = """\
FROM busybox
COPY greeting.txt /srv/
RUN echo built > /srv/built.txt
CMD ["sh", "-c", "cat /srv/greeting.txt /srv/built.txt"]
"""


def _context(root: Path, dockerfile: str = DOCKERFILE) -> Path:
    root.mkdir()
    (root / "Dockerfile").write_text(dockerfile)
    (root / "greeting.txt").write_text("hello\n")
    return root


def _docker(api: ApiServer, client: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**api.env, "DOCKER_BUILDKIT": "0"}
    return subprocess.run(
        [client, "-H", api.url, *args], capture_output=True, text=True, env=env, timeout=300,
        check=False,
    )  # fmt: skip


@pytest.mark.parametrize("client", [DOCKER, DOCKER_20], ids=["docker-28", "docker-20.10"])
def test_docker_build_with_the_classic_builder(
    api: ApiServer, berth: Berth, busybox: str, tmp_path: Path, client: str
) -> None:
    context = _context(tmp_path / "app")
    built = _docker(api, client, "build", "-t", "app:1", str(context))
    assert built.returncode == 0, built.stderr
    assert "Step 3" in built.stdout and "Successfully tagged app:1" in built.stdout
    assert berth("run", "--rm", "app:1").stdout == "hello\nbuilt\n"
    again = _docker(api, client, "build", "-q", "-t", "app:1", str(context))
    assert again.returncode == 0, again.stderr
    image_id = berth("image", "inspect", "-f", "{{.Id}}", "app:1").stdout.strip()
    assert again.stdout.strip() == image_id  # all from the cache: the same image
    failing = _context(tmp_path / "bad", "FROM busybox\nRUN exit 4\n")
    failed = _docker(api, client, "build", str(failing))
    assert failed.returncode != 0 and "exit code: 4" in failed.stdout + failed.stderr


def test_docker_py_builds_and_commits(
    api: ApiServer, berth: Berth, busybox: str, tmp_path: Path
) -> None:
    import docker

    context = _context(tmp_path / "app")
    client = api.client()
    try:
        image, logs = client.images.build(
            path=str(context), tag="py:1", buildargs={"UNUSED": "1"}, labels={"via": "py"}
        )
        streamed = "".join(str(entry.get("stream", "")) for entry in logs)
        assert "Successfully built" in streamed
        assert image.labels == {"via": "py"} and "py:1" in image.tags
        assert client.containers.run("py:1", remove=True) == b"hello\nbuilt\n"

        # A Dockerfile in a tar given as a file object, with a target and a failure.
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            data = b"FROM busybox AS one\nRUN echo one > /one\nFROM one\nRUN exit 9\n"
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        buffer.seek(0)
        staged, _ = client.images.build(fileobj=buffer, custom_context=True, target="one")
        assert client.containers.run(staged.id, "cat /one", remove=True) == b"one\n"
        buffer.seek(0)
        with pytest.raises(docker.errors.BuildError, match="exit code: 9"):
            client.images.build(fileobj=buffer, custom_context=True)

        box = client.containers.run("busybox", "sh -c 'echo state > /state'", detach=True)
        box.wait()
        committed = box.commit("snap", "1", message="via py", changes=["ENV MODE=py"])
        assert committed.attrs["Comment"] == "via py"
        assert "MODE=py" in committed.attrs["Config"]["Env"]
        assert client.containers.run("snap:1", "cat /state", remove=True) == b"state\n"
        box.remove()
    finally:
        client.close()
    via_cli = api.docker("commit", "-c", "LABEL k=v", berth("create", busybox).stdout.strip())
    assert via_cli.returncode == 0 and via_cli.stdout.startswith("sha256:"), via_cli.stderr
    pruned = api.docker("builder", "prune", "-f")
    assert pruned.returncode == 0, pruned.stderr


def test_cache_from_an_image_with_an_inline_cache(
    api: ApiServer, berth: Berth, busybox: str, tmp_path: Path
) -> None:
    """docker-py's `cache_from` (the API's `cachefrom`): with the build cache pruned, an
    image built with BUILDKIT_INLINE_CACHE=1 serves every step."""
    context = _context(tmp_path / "app")
    inline = {"BUILDKIT_INLINE_CACHE": "1"}
    client = api.client()
    try:
        first, _ = client.images.build(path=str(context), tag="ci:1", buildargs=inline)
        assert api.docker("builder", "prune", "-af").returncode == 0
        again, logs = client.images.build(
            path=str(context), tag="ci:2", buildargs=inline, cache_from=["ci:1"]
        )
        streamed = "".join(str(entry.get("stream", "")) for entry in logs)
        assert again.id == first.id, streamed
        assert streamed.count("Using cache") == 3, streamed
    finally:
        client.close()


def test_a_hostile_context_stays_in_its_directory(
    api: ApiServer, berth: Berth, busybox: str, store: Store
) -> None:
    import docker

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in (("Dockerfile", b"FROM busybox\nCOPY . /ctx/\n"), ("../escape", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("abs")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc"
        archive.addfile(link)
        through = tarfile.TarInfo("abs/evil")
        through.size = 1
        archive.addfile(through, io.BytesIO(b"x"))
    client = api.client()
    try:  # refusing the context is fine too; nothing may land outside its directory
        with contextlib.suppress(docker.errors.BuildError, docker.errors.APIError):
            data = io.BytesIO(buffer.getvalue())
            client.images.build(fileobj=data, custom_context=True, tag="h:1")
    finally:
        client.close()
    assert not os.path.exists("/etc/evil")
    assert not list(store.mountpoint.rglob("escape")) and not list(store.mountpoint.rglob("evil"))


def test_a_client_gone_mid_build_cancels_it(api: ApiServer, berth: Berth, busybox: str) -> None:
    import socket
    import time

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = b"FROM busybox\nRUN sleep 60\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    body = buffer.getvalue()
    head = (
        "POST /v1.41/build?t=gone:1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(30)
        client.connect(str(api.socket))
        client.sendall(head + body)
        seen = b""
        while b"RUN sleep 60" not in seen:
            chunk = client.recv(65536)
            assert chunk, seen
            seen += chunk
        while not berth("ps", "-aq").stdout:  # the step's container exists
            time.sleep(0.05)
    deadline = time.monotonic() + 20  # not the minute the step would take
    while berth("ps", "-aq").stdout:
        assert time.monotonic() < deadline, "the canceled build's container stayed"
        time.sleep(0.2)
    assert berth("images", "-q", "gone").stdout == ""
