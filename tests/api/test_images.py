"""`/images`, `/distribution` and `/auth` through real clients: the docker CLI (28.x, no
terminal) and docker-py against `berth serve`, pulling from real registries — the session's
catalogue, a counting proxy in front of it, and a registry behind a token server — with
containers made by the berth CLI on the same store.

Registries listen on the machine's loopback; the server runs in the namespace that plays the
host, so each registry this file starts is forwarded into it at the same address.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from tests.fixtures import oci_layout as oci
from tests.fixtures.api import ApiServer
from tests.fixtures.forward import LoopbackForward
from tests.fixtures.images import Catalogue
from tests.fixtures.netns import HostNamespace
from tests.fixtures.proxy import CountingProxy
from tests.fixtures.registry import free_port
from tests.fixtures.store import Berth
from tests.fixtures.token_server import (
    USERS,
    TokenRegistry,
    push_authenticated,
    start_token_registry,
)

USER, PASSWORD = next(iter(USERS.items()))
LAYER_STEPS = ["Pulling fs layer", "Verifying Checksum", "Download complete", "Pull complete"]
Forward = Callable[[int], None]


# -- helpers ------------------------------------------------------------------------------------


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=120)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.connect(self.unix_path)


def call(
    api: ApiServer, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One request; the status and the whole body (a stream's too)."""
    connection = _UnixConnection(str(api.socket))
    try:
        payload = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=payload, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def auth_header(username: str, password: str, server: str) -> dict[str, str]:
    document = {"username": username, "password": password, "serveraddress": server}
    return {"X-Registry-Auth": base64.urlsafe_b64encode(json.dumps(document).encode()).decode()}


def short(digest: str) -> str:
    return digest.partition(":")[2][:12]


def layer_statuses(output: str, layer: str) -> list[str]:
    return [line.partition(": ")[2] for line in output.splitlines() if line.startswith(layer)]


def docker_ok(api: ApiServer, *args: str, input: str | None = None) -> str:
    result = api.docker(*args, input=input)
    assert result.returncode == 0, result.stderr
    return result.stdout


def threads(api: ApiServer) -> int:
    assert api.process is not None
    return len(os.listdir(f"/proc/{api.process.pid}/task"))


def settle(api: ApiServer, at_most: int, timeout: float = 30) -> int:
    """The server's thread count once it is at most `at_most` (or the last seen)."""
    deadline = time.monotonic() + timeout
    while (count := threads(api)) > at_most and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


@pytest.fixture
def forward(host_ns: HostNamespace) -> Iterator[Forward]:
    """`forward(port)`: a loopback port of this machine, reachable inside the server's
    namespace at the same address until the test ends."""
    opened: list[LoopbackForward] = []

    def open_forward(port: int) -> None:
        opened.append(LoopbackForward(host_ns.path, port))

    yield open_forward
    for each in opened:
        each.close()


@pytest.fixture
def token_registry(tmp_path: Path, forward: Forward) -> Iterator[TokenRegistry]:
    """A registry behind a token server (alice/wonderland may pull and push), holding
    `private/secret:v1`, both forwarded into the server's namespace."""
    running = start_token_registry(tmp_path / "token-registry")
    try:
        layer = oci.make_tar([oci.file("secret.txt", random.Random(7).randbytes(4096))])
        image = oci.build_image([layer], "gzip", "docker")
        layout = tmp_path / "secret-layout"
        oci.write_layout(layout, {"v1": image})
        push_authenticated(layout, "v1", f"{running.host}/private/secret:v1", USER, PASSWORD)
        forward(int(running.host.rpartition(":")[2]))
        forward(int(running.tokens.url.rpartition(":")[2]))
        yield running
    finally:
        running.stop()


# -- pull -------------------------------------------------------------------------------------


def test_docker_pull_prints_dockers_progress_then_up_to_date_then_already_exists(
    api: ApiServer, registry: Catalogue
) -> None:
    app_a, app_b = registry["app-a"], registry["app-b"]
    output = docker_ok(api, "pull", app_a.reference)
    lines_out = output.splitlines()
    assert lines_out[0] == "latest: Pulling from berth-test/app-a"
    for layer in app_a.layers:
        assert layer_statuses(output, short(layer.digest)) == LAYER_STEPS
    assert lines_out[-3:] == [
        f"Digest: {app_a.manifest_digest}",
        f"Status: Downloaded newer image for {app_a.reference}",
        app_a.reference,
    ]

    again = docker_ok(api, "pull", app_a.reference).splitlines()
    assert again == [
        "latest: Pulling from berth-test/app-a",
        f"Digest: {app_a.manifest_digest}",
        f"Status: Image is up to date for {app_a.reference}",
        app_a.reference,
    ]

    shared, own = app_b.layers
    assert shared.digest == app_a.layers[0].digest
    output = docker_ok(api, "pull", app_b.reference)
    assert layer_statuses(output, short(shared.digest)) == ["Already exists"]
    assert layer_statuses(output, short(own.digest)) == LAYER_STEPS
    assert f"Status: Downloaded newer image for {app_b.reference}" in output


def test_docker_py_pull_stream_has_dockers_event_shapes(
    api: ApiServer, registry: Catalogue
) -> None:
    info = registry["large"]
    client = api.client()
    try:
        events = list(client.api.pull(info.reference, stream=True, decode=True))
        assert events[0] == {"status": "Pulling from berth-test/large", "id": "latest"}
        assert events[-2:] == [
            {"status": f"Digest: {info.manifest_digest}"},
            {"status": f"Status: Downloaded newer image for {info.reference}"},
        ]
        big = max(info.layers, key=lambda layer: layer.size)
        mine = [e for e in events[1:-2] if e["id"] == short(big.digest)]
        assert mine[0] == {
            "status": "Pulling fs layer",
            "progressDetail": {},
            "id": short(big.digest),
        }
        downloading = [e for e in mine if e["status"] == "Downloading"]
        assert downloading, mine
        for event in downloading:
            detail = event["progressDetail"]
            assert detail["total"] == big.size and 0 < detail["current"] <= big.size
            assert event["progress"].startswith("[") and event["progress"].endswith("MB")
        last = downloading[-1]
        assert last["progressDetail"]["current"] == big.size
        megabytes = f"{big.size / 1e6:.4g}MB"  # go-units' HumanSize: 33.56MB
        assert last["progress"] == f"[{'=' * 50}>]  {megabytes}/{megabytes}"
        steps = [e["status"] for e in mine if e["status"] not in ("Downloading", "Extracting")]
        assert steps == LAYER_STEPS

        image = client.images.pull(registry.ref("app-a"))  # pulls, then GET /images/{name}/json
        assert image.id == registry["app-a"].config_digest
        assert image.tags == [registry["app-a"].reference]
        by_digest = client.images.pull(
            f"{registry['app-a'].host}/berth-test/app-a", tag=registry["app-a"].manifest_digest
        )
        assert by_digest.id == image.id
        events = list(client.api.pull(registry["app-a"].by_digest, stream=True, decode=True))
        assert events[-1] == {
            "status": f"Status: Image is up to date for {registry['app-a'].by_digest}"
        }
    finally:
        client.close()


def test_pull_errors_before_the_stream_are_plain_errors_with_dockers_status(
    api: ApiServer, registry: Catalogue
) -> None:
    host = registry.host
    status, body = call(api, "POST", f"/images/create?fromImage={host}/berth-test/nope&tag=v1")
    assert status == 404
    assert json.loads(body)["message"] == (
        f"manifest for {host}/berth-test/nope:v1 not found: manifest unknown"
    )
    status, body = call(api, "POST", f"/images/create?fromImage={host}/berth-test/app-a&tag=nope")
    assert status == 404
    assert json.loads(body)["message"] == (
        f"manifest for {host}/berth-test/app-a:nope not found: manifest unknown"
    )
    result = api.docker("pull", f"{host}/berth-test/app-a:nope")
    assert result.returncode == 1
    assert "manifest unknown" in result.stderr and "Traceback" not in result.stderr

    unreachable = f"127.0.0.1:{free_port()}"
    result = api.docker("pull", f"{unreachable}/team/app:v1")
    assert result.returncode == 1
    assert f"registry {unreachable} is unavailable" in result.stderr
    assert "connection refused" in result.stderr

    bad = {
        "/images/create?fromImage=team/UPPER": "must be lowercase",
        "/images/create?fromImage=busybox&tag=bad%20tag": "invalid reference format",
        f"/images/create?fromImage=busybox%40sha256:{'a' * 64}&tag=latest": "takes no tag",
        "/images/create?fromImage=busybox&platform=nonsense": "invalid platform",
        "/images/create?fromSrc=-&repo=imported": "the archive is empty",
        "/images/create": "fromImage is required",
    }
    for path, words in bad.items():
        status, body = call(api, "POST", path)
        assert status == 400, (path, body)
        assert words in json.loads(body)["message"], (path, body)
    assert docker_ok(api, "images", "-q") == ""


def test_a_client_leaving_mid_pull_stops_it_and_the_next_pull_works(
    api: ApiServer, registry: Catalogue, proxy: CountingProxy, forward: Forward, berth: Berth
) -> None:
    forward(int(proxy.host.rpartition(":")[2]))
    info = registry["large"].at(proxy.host)
    big = max(info.layers, key=lambda layer: layer.size)
    proxy.throttle(big.digest, 2_000_000)
    assert call(api, "GET", "/_ping")[0] == 200
    assert settle(api, 2) == 2  # at rest: the main thread and the listener's
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(60)
        sock.connect(str(api.socket))
        target = f"/images/create?fromImage={info.host}/berth-test/large&tag=latest"
        sock.sendall(f"POST {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = b""
        while b'"Downloading"' not in received:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
        assert received.startswith(b"HTTP/1.1 200 OK")
    assert settle(api, 2) == 2, "the pull's threads outlived their client"
    # The proxy still fills socket buffers on the way (the forward's among them), then
    # blocks: the download never reaches its end.
    sent, deadline = -1, time.monotonic() + 30
    while (now := proxy.blob_bytes(big.digest)) != sent and time.monotonic() < deadline:
        sent = now
        time.sleep(1)
    assert sent == now < big.size // 2, "the download went on"

    proxy.throttle(big.digest, None)
    output = docker_ok(api, "pull", info.reference)
    assert f"Status: Downloaded newer image for {info.reference}" in output
    check = berth("system", "check")
    assert check.returncode == 0 and check.stdout == "no damage found\n", check.stdout


def test_stopping_the_server_ends_a_pull_with_an_error_line(
    api: ApiServer, registry: Catalogue, proxy: CountingProxy, forward: Forward
) -> None:
    forward(int(proxy.host.rpartition(":")[2]))
    info = registry["large"].at(proxy.host)
    big = max(info.layers, key=lambda layer: layer.size)
    proxy.throttle(big.digest, 2_000_000)
    client = api.client()
    try:
        events = client.api.pull(info.reference, stream=True, decode=True)
        for event in events:
            if event.get("status") == "Downloading":
                break
        assert api.process is not None
        api.process.send_signal(signal.SIGTERM)
        rest = list(events)
    finally:
        client.close()
    assert rest[-1] == {
        "errorDetail": {"message": "the server is shutting down: the pull was stopped"},
        "error": "the server is shutting down: the pull was stopped",
    }
    assert api.stop() == 0
    assert proxy.blob_bytes(big.digest) < big.size


# -- the local images -------------------------------------------------------------------------


def test_docker_images_inspect_history_with_filters_digests_and_quiet(
    api: ApiServer, registry: Catalogue, busybox: str
) -> None:
    app_a = registry["app-a"]
    docker_ok(api, "pull", "-q", app_a.reference)
    rows = docker_ok(api, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").splitlines()
    assert sorted(rows) == sorted(
        [
            f"busybox:latest {short(registry['base'].config_digest)}",
            f"{registry.host}/berth-test/base:latest {short(registry['base'].config_digest)}",
            f"{registry.host}/berth-test/app-a:latest {short(app_a.config_digest)}",
        ]
    )
    assert docker_ok(api, "images", "-q", "--filter", "reference=busybox").split() == [
        short(registry["base"].config_digest)
    ]
    assert docker_ok(api, "images", "-q", "--filter", "dangling=true") == ""
    digests = docker_ok(
        api, "images", "--digests", "--format", "{{.Digest}}", f"{registry.host}/berth-test/app-a"
    )
    assert digests.split() == [app_a.manifest_digest]

    client = api.client()
    try:
        listed = client.api.images(all=True)
        assert all("VirtualSize" not in image for image in listed)
        assert {i["SharedSize"] for i in listed} == {-1}
    finally:
        client.close()
    status, body = call(api, "GET", "/v1.41/images/json")
    assert all(image["VirtualSize"] == image["Size"] for image in json.loads(body))
    status, body = call(api, "GET", "/images/json?shared-size=1")
    shared = {image["Id"]: image["SharedSize"] for image in json.loads(body)}
    assert shared[app_a.config_digest] == shared[registry["base"].config_digest] > 0

    inspect = docker_ok(
        api,
        "image",
        "inspect",
        "-f",
        "{{.Id}} {{.Os}} {{len .RootFS.Layers}} {{index .RepoTags 0}}",
        app_a.reference,
    )
    assert inspect.split() == [app_a.config_digest, "linux", "2", app_a.reference]
    history = docker_ok(
        api, "history", "--no-trunc", "--format", "{{.ID}} {{.Size}}", app_a.reference
    )
    ids = [line.split()[0] for line in history.splitlines()]
    assert ids[0] == app_a.config_digest and set(ids[1:]) <= {"<missing>"}
    status, body = call(api, "GET", f"/images/{app_a.reference}/history")
    assert status == 200
    entries = json.loads(body)
    assert entries[0]["Tags"] == [app_a.reference]
    assert all(e["Id"] == "<missing>" and e["Tags"] is None for e in entries[1:])
    assert sum(e["Size"] for e in entries) > 0

    result = api.docker("image", "inspect", "no-such-image")
    assert result.returncode == 1 and "No such image: no-such-image" in result.stderr
    status, _ = call(api, "GET", "/images/json?filters=%7B%22nope%22%3A%5B%22x%22%5D%7D")
    assert status == 400


def test_docker_tag_rmi_and_the_conflict_with_a_container(
    api: ApiServer, registry: Catalogue, busybox: str, berth: Berth
) -> None:
    base = registry["base"].config_digest
    docker_ok(api, "tag", "busybox", "127.0.0.1:5000/team/tool:v1")
    docker_ok(api, "tag", "busybox", "mine")
    tags = json.loads(docker_ok(api, "image", "inspect", "-f", "{{json .RepoTags}}", "busybox"))
    assert sorted(tags) == sorted(
        ["busybox:latest", "127.0.0.1:5000/team/tool:v1", "mine:latest", registry["base"].reference]
    )
    untagged = docker_ok(api, "rmi", "127.0.0.1:5000/team/tool:v1", registry["base"].reference)
    assert untagged.splitlines() == [
        "Untagged: 127.0.0.1:5000/team/tool:v1",
        f"Untagged: {registry['base'].reference}",
    ]
    status, body = call(api, "POST", "/images/busybox/tag?repo=sha256&tag=x")
    assert status == 400 and b"ambiguous" in body
    status, body = call(api, "POST", "/images/nothing/tag?repo=x")
    assert status == 404

    berth("create", "--name", "user", busybox, "true", check=True)
    docker_ok(api, "rmi", "mine")  # another name is left: no conflict
    result = api.docker("rmi", "busybox")
    assert result.returncode == 1
    assert "conflict: unable to remove repository reference" in result.stderr
    assert "is using its referenced image" in result.stderr
    result = api.docker("rmi", base)
    assert result.returncode == 1 and "conflict: unable to delete" in result.stderr

    berth("rm", "user", check=True)
    out = docker_ok(api, "rmi", "busybox").splitlines()
    assert out[:2] == ["Untagged: busybox:latest", f"Untagged: {registry['base'].by_digest}"]
    assert f"Deleted: {base}" in out
    assert docker_ok(api, "images", "-q") == ""
    result = api.docker("rmi", "busybox")
    assert result.returncode == 1 and "No such image: busybox" in result.stderr


def test_docker_py_images_list_get_tag_remove(api: ApiServer, registry: Catalogue) -> None:
    client = api.client()
    try:
        image = client.images.pull(registry.ref("app-a"))
        assert image.tag("team/app", "v2") is True
        assert client.images.get("team/app:v2").id == image.id
        assert {i.id for i in client.images.list("team/app")} == {image.id}
        removed = client.api.remove_image("team/app:v2")
        assert removed == [{"Untagged": "team/app:v2"}]
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get("team/app:v2")
        removed = client.api.remove_image(image.id, force=True)
        assert {"Deleted": image.id} in removed
        assert client.images.list() == []

        repository = f"{registry.host}/berth-test/app-b"
        every = client.images.pull(repository, all_tags=True)  # no tag: every tag
        assert [image.id for image in every] == [registry["app-b"].config_digest]
        tags = {f"{repository}:{variant}" for variant in registry.variants("app-b")}
        assert set(every[0].tags) == tags and len(tags) > 2
    finally:
        client.close()


def test_docker_image_prune_removes_dangling_images(
    api: ApiServer, registry: Catalogue, busybox: str
) -> None:
    app_a = registry["app-a"]
    docker_ok(api, "pull", "-q", app_a.reference)
    docker_ok(api, "tag", "busybox", app_a.reference)  # app-a's image keeps only its digest
    dangling = docker_ok(api, "images", "-q", "--filter", "dangling=true").split()
    assert dangling == [short(app_a.config_digest)]
    output = docker_ok(api, "image", "prune", "-f")
    assert f"deleted: {app_a.config_digest}" in output
    assert f"untagged: {registry.host}/berth-test/app-a@{app_a.manifest_digest}" in output
    assert "Total reclaimed space: " in output and "Total reclaimed space: 0B" not in output
    status, body = call(api, "POST", "/images/prune")
    assert (status, json.loads(body)) == (200, {"ImagesDeleted": None, "SpaceReclaimed": 0})


# -- registries -------------------------------------------------------------------------------


def test_inspect_distribution_asks_the_registry(api: ApiServer, registry: Catalogue) -> None:
    client = api.client()
    try:
        info = registry["app-a"]
        found = client.api.inspect_distribution(info.reference)
        assert found["Descriptor"] == {
            "mediaType": info.manifest_media_type,
            "digest": info.manifest_digest,
            "size": info.manifest_size,
        }
        assert found["Platforms"] == [{"architecture": "amd64", "os": "linux"}]
        index = registry["multiarch"]
        found = client.api.inspect_distribution(index.by_digest)
        assert found["Descriptor"]["digest"] == index.manifest_digest
        assert {"architecture": "arm", "os": "linux", "variant": "v7"} in found["Platforms"]
        assert len(found["Platforms"]) == 3
        with pytest.raises(docker.errors.NotFound):
            client.api.inspect_distribution(f"{registry.host}/berth-test/app-a:nope")
    finally:
        client.close()


def test_login_and_pulls_with_credentials_against_a_token_registry(
    api: ApiServer, token_registry: TokenRegistry
) -> None:
    host = token_registry.host
    secret = f"{host}/private/secret:v1"

    result = api.docker("login", "-u", USER, "--password-stdin", host, input="wrong\n")
    assert result.returncode == 1
    assert "incorrect username or password" in result.stderr
    status, body = call(
        api, "POST", "/auth", {"username": USER, "password": "wrong", "serveraddress": host}
    )
    assert status == 401 and "incorrect username or password" in json.loads(body)["message"]

    status, body = call(api, "POST", f"/images/create?fromImage={host}/private/secret&tag=v1")
    assert status == 401
    assert "pull access denied for" in json.loads(body)["message"]
    bad = auth_header(USER, "wrong", host)
    status, body = call(
        api, "POST", f"/images/create?fromImage={host}/private/secret&tag=v1", headers=bad
    )
    assert status == 401 and "incorrect username or password" in json.loads(body)["message"]

    assert "Login Succeeded" in docker_ok(
        api, "login", "-u", USER, "--password-stdin", host, input=PASSWORD + "\n"
    )
    token_registry.tokens.requests.clear()
    output = docker_ok(api, "pull", secret)
    assert f"Status: Downloaded newer image for {secret}" in output
    assert {r.account for r in token_registry.tokens.requests} == {USER}

    client = api.client()
    try:
        assert (
            client.login(USER, PASSWORD, registry=host, reauth=True)["Status"] == "Login Succeeded"
        )
        found = client.api.inspect_distribution(
            secret, auth_config={"username": USER, "password": PASSWORD}
        )
        assert found["Platforms"] == [{"architecture": "amd64", "os": "linux"}]
    finally:
        client.close()
